package ldap

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"

	"github.com/dirgate/dirgate/upstream"
)

func TestBindResponseParsing(t *testing.T) {
	// BindResponse, message 1, invalidCredentials, "", "bad password"
	resp := tlv(nil, 0x30, append(appendInt(nil, 1), tlv(nil, appBindResponse,
		append(append([]byte{0x0a, 0x01, 49}, tlv(nil, 0x04, nil)...), tlv(nil, 0x04, []byte("bad password"))...))...))
	c := &bindConn{r: bufio.NewReader(bytes.NewReader(resp))}
	id, tag, op, err := c.readMessage()
	if err != nil || id != 1 || tag != appBindResponse {
		t.Fatalf("readMessage: %d %#x %v", id, tag, err)
	}
	code, diag, err := parseResult(op)
	if err != nil || code != 49 || diag != "bad password" {
		t.Fatalf("parseResult: %d %q %v", code, diag, err)
	}
	for _, v := range []int64{0, 1, 127, 128, 255, 256, 1 << 31} {
		b := appendInt(nil, v)
		_, val, _, ok := next(b)
		var got int64
		for _, x := range val {
			got = got<<8 | int64(x)
		}
		if !ok || got != v || val[0]&0x80 != 0 {
			t.Errorf("appendInt(%d) = %x", v, b)
		}
	}
}

// FuzzReadMessage: whatever a server sends, reading it neither panics nor
// allocates more than maxBindResponse.
func FuzzReadMessage(f *testing.F) {
	f.Add([]byte{0x30, 0x0c, 0x02, 0x01, 0x01, 0x61, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00})
	f.Add([]byte{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		c := &bindConn{r: bufio.NewReader(bytes.NewReader(b))}
		for range 4 {
			_, _, op, err := c.readMessage()
			if err != nil {
				return
			}
			_, _, _ = parseResult(op)
		}
	})
}

// With every bind connection busy, a password check waits at most the
// configured timeout and then says the directory is unavailable; a
// cancelled context ends the wait at once.
func TestPasswordCheckWaitsBoundedForABindConnection(t *testing.T) {
	u, err := Open("dir", Config{URLs: []string{"ldap://127.0.0.1:1"}, UserBase: "ou=people,dc=example,dc=org", GroupBase: "ou=groups,dc=example,dc=org",
		BindConnections: 1, Timeout: 100 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.bindSem <- struct{}{} // the only connection is in use
	usr := &upstream.User{Key: "uid=a,dc=example,dc=org", Username: "a"}
	ok, err := u.CheckPassword(context.Background(), usr, "pw")
	if ok || !errors.Is(err, upstream.ErrUnavailable) || !strings.Contains(err.Error(), "bind connections stayed busy") {
		t.Fatalf("busy: ok=%v err=%v", ok, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	u.cfg.Timeout = time.Hour
	if ok, err := u.CheckPassword(ctx, usr, "pw"); ok || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: ok=%v err=%v", ok, err)
	}
}

// The bind request is well-formed BER for every length form, as an
// independent decoder (go-asn1-ber) reads it, and the buffers reused
// between requests do not keep the password.
func TestBindRequestEncoding(t *testing.T) {
	for _, n := range []int{0, 5, 127, 128, 255, 256, 70000} {
		client, server := net.Pipe()
		c := &bindConn{nc: client, r: bufio.NewReader(client)}
		dn, pw := "uid=a,dc=example,dc=org", strings.Repeat("p", n)
		done := make(chan error, 1)
		go func() {
			defer server.Close()
			p, err := ber.ReadPacket(server)
			if err != nil {
				done <- err
				return
			}
			op := p.Children[1]
			if len(p.Children) != 2 || p.Children[0].Value != int64(1) || op.Tag != 0 || op.ClassType != ber.ClassApplication ||
				op.Children[0].Value != int64(3) || op.Children[1].Value != dn || string(op.Children[2].Data.Bytes()) != pw {
				done <- fmt.Errorf("decoded %d-byte password request wrongly", n)
				return
			}
			resp := tlv(nil, 0x30, append(appendInt(nil, 1), tlv(nil, appBindResponse,
				append(append([]byte{0x0a, 0x01, 0}, tlv(nil, 0x04, nil)...), tlv(nil, 0x04, nil)...))...))
			_, err = server.Write(resp)
			done <- err
		}()
		if err := c.bind(context.Background(), dn, pw, time.Minute); err != nil {
			t.Fatalf("%d-byte password: %v", n, err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n > 0 && (bytes.Contains(c.wbuf[:cap(c.wbuf)], []byte(pw)) || bytes.Contains(c.body[:cap(c.body)], []byte(pw))) {
			t.Fatalf("%d-byte password left in a buffer", n)
		}
		client.Close()
	}
}

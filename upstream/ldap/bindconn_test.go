package ldap

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

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

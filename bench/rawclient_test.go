package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
)

// rawConn is a lean HTTP/1.1 keep-alive client for GET load: one
// connection, requests written from prepared bytes, responses read just
// far enough to find their end. It costs the load generator a fraction of
// what net/http's client does per request, so that on a machine where the
// generator and the server share the cores, the measurement is mostly of
// the server (the role wrk plays for HTTP servers in C). It is not a
// general client: no redirects, no compression, GET only.
type rawConn struct {
	c    net.Conn
	r    *bufio.Reader
	host string
	auth string
	buf  []byte
}

func dialRaw(base, auth string) (*rawConn, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		return nil, err
	}
	return &rawConn{c: c, r: bufio.NewReaderSize(c, 16<<10), host: u.Host, auth: auth}, nil
}

// request prepares the bytes of GET path (path includes the API prefix).
func (rc *rawConn) request(path string) []byte {
	return []byte("GET " + path + " HTTP/1.1\r\nHost: " + rc.host + "\r\nAuthorization: " + rc.auth +
		"\r\nAccept: application/xml\r\n\r\n")
}

// do sends a prepared request and reads the response, returning the body
// size; a status other than 200 is an error.
func (rc *rawConn) do(req []byte) (int64, error) {
	if _, err := rc.c.Write(req); err != nil {
		return 0, err
	}
	line, err := rc.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status := string(line[9:12])
	length, chunked := int64(-1), false
	for {
		h, err := rc.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(h) <= 2 {
			break
		}
		name, value, _ := bytes.Cut(bytes.TrimRight(h, "\r\n"), []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			length, err = strconv.ParseInt(string(value), 10, 64)
			if err != nil {
				return 0, err
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")) && bytes.EqualFold(value, []byte("chunked")):
			chunked = true
		}
	}
	var n int64
	switch {
	case chunked:
		for {
			sz, err := rc.r.ReadSlice('\n')
			if err != nil {
				return n, err
			}
			k, err := strconv.ParseInt(string(bytes.TrimRight(sz, "\r\n")), 16, 64)
			if err != nil {
				return n, err
			}
			if _, err := rc.r.Discard(int(k) + 2); err != nil {
				return n, err
			}
			n += k
			if k == 0 {
				break
			}
		}
	case length >= 0:
		if _, err := rc.r.Discard(int(length)); err != nil {
			return n, err
		}
		n = length
	default:
		return 0, errors.New("response without a length")
	}
	if status != "200" {
		return n, fmt.Errorf("status %s", status)
	}
	return n, nil
}

func (rc *rawConn) close() error { return rc.c.Close() }

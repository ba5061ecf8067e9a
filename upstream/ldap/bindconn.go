package ldap

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"
)

// bindConn is a connection used only to check users' passwords. A password
// check is one simple bind and its answer, and go-ldap's general client
// (a reader goroutine, a timer and a dozen allocations per request) costs
// more CPU than the upstream spends on the bind itself; the LDAP frontend
// passes every user bind through here, so this path is written out by
// hand: BER-encode one BindRequest, read one BindResponse.
type bindConn struct {
	nc    net.Conn
	r     *bufio.Reader
	msgID int32
	url   string
	// wbuf, body and rbuf are reused by every request of the connection
	// (one request at a time).
	wbuf, body, rbuf []byte
}

// keep returns b for reuse, or nil when it is too large to keep.
func keep(b []byte) []byte {
	if cap(b) > keepBuf {
		return nil
	}
	return b
}

// keepBuf is the largest buffer a connection keeps between requests.
const keepBuf = 4 << 10

// maxBindResponse bounds the response we read: a result code, a matched
// DN and a diagnostic message.
const maxBindResponse = 64 << 10

var errProtocol = errors.New("malformed LDAP response")

// ldapError is a non-success result of a bind or StartTLS.
type ldapError struct {
	code int
	diag string
}

func (e *ldapError) Error() string {
	if e.diag != "" {
		return fmt.Sprintf("LDAP result %d: %s", e.code, e.diag)
	}
	return fmt.Sprintf("LDAP result %d", e.code)
}

// dialBind connects to the first URL that answers, with TLS or StartTLS as
// configured. No bind is made: the user's bind follows.
func (u *Upstream) dialBind(ctx context.Context) (*bindConn, error) {
	var errs []error
	for _, raw := range u.cfg.URLs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c, err := u.dialBindURL(ctx, raw)
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		errs = append(errs, fmt.Errorf("%s: %w", raw, err))
	}
	return nil, fmt.Errorf("no LDAP server answered: %w", errors.Join(errs...))
}

func (u *Upstream) dialBindURL(ctx context.Context, raw string) (*bindConn, error) {
	pu, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	host, port := pu.Hostname(), pu.Port()
	secure := pu.Scheme == "ldaps"
	if port == "" {
		port = "389"
		if secure {
			port = "636"
		}
	}
	d := net.Dialer{Timeout: u.cfg.Timeout}
	nc, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(u.cfg.Timeout))
	c := &bindConn{nc: nc, r: bufio.NewReaderSize(nc, 4096), url: raw}
	if u.cfg.StartTLS && !secure {
		// ExtendedRequest { requestName [0] "1.3.6.1.4.1.1466.20037" }
		startTLS := func(b []byte) []byte { return tlvString(b, 0x80, oidStartTLS) }
		if err := c.roundTrip(appExtendedRequest, startTLS, appExtendedResponse); err != nil {
			nc.Close()
			return nil, fmt.Errorf("StartTLS: %w", err)
		}
		if c.r.Buffered() > 0 {
			nc.Close()
			return nil, fmt.Errorf("StartTLS: %w: data after the response", errProtocol)
		}
		secure = true
	}
	if secure {
		tc := tls.Client(nc, u.tlsFor(host))
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		c.nc, c.r = tc, bufio.NewReaderSize(tc, 4096)
	}
	_ = c.nc.SetDeadline(time.Time{})
	return c, nil
}

const (
	appBindRequest      = 0x60 // [APPLICATION 0] constructed
	appBindResponse     = 0x61 // [APPLICATION 1]
	appExtendedRequest  = 0x77 // [APPLICATION 23]
	appExtendedResponse = 0x78 // [APPLICATION 24]
	oidStartTLS         = "1.3.6.1.4.1.1466.20037"
)

// bind sends a simple bind and returns its result code (0 for success).
func (c *bindConn) bind(ctx context.Context, dn, password string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Now()) })
	// BindRequest { version INTEGER 3, name OCTET STRING, simple [0] password }
	err := c.roundTrip(appBindRequest, func(b []byte) []byte {
		b = append(b, 0x02, 0x01, 0x03)
		b = tlvString(b, 0x04, dn)
		return tlvString(b, 0x80, password)
	}, appBindResponse)
	if !stop() {
		return ctx.Err()
	}
	return err
}

// roundTrip sends one request (protocolOp tag, and body appending its
// content) and reads its response, returning nil for success or an
// *ldapError.
func (c *bindConn) roundTrip(reqTag byte, body func([]byte) []byte, respTag byte) error {
	c.msgID++
	if c.msgID <= 0 {
		c.msgID = 1
	}
	c.body = body(c.body[:0])
	var idBuf [12]byte
	id := appendInt(idBuf[:0], int64(c.msgID))
	// LDAPMessage { messageID, protocolOp }
	b := header(c.wbuf[:0], 0x30, len(id)+headerLen(len(c.body))+len(c.body))
	b = append(b, id...)
	b = header(b, reqTag, len(c.body))
	b = append(b, c.body...)
	_, err := c.nc.Write(b)
	// The request holds a password: it does not stay in the buffers.
	clear(b)
	clear(c.body)
	c.wbuf, c.body = keep(b), keep(c.body)
	if err != nil {
		return err
	}
	for {
		id, tag, op, err := c.readMessage()
		if err != nil {
			return err
		}
		if id == 0 {
			// An unsolicited notification: the server is closing.
			return fmt.Errorf("%w: the server sent a notice of disconnection", io.ErrUnexpectedEOF)
		}
		if id != int64(c.msgID) {
			continue // a late answer to an abandoned request
		}
		if tag != respTag {
			return fmt.Errorf("%w: response type %#x", errProtocol, tag)
		}
		code, diag, err := parseResult(op)
		if err != nil {
			return err
		}
		if code != 0 {
			return &ldapError{code: code, diag: diag}
		}
		return nil
	}
}

// readMessage reads one LDAPMessage: its ID, the protocolOp tag and body.
func (c *bindConn) readMessage() (id int64, tag byte, body []byte, err error) {
	t, err := c.r.ReadByte()
	if err != nil {
		return 0, 0, nil, err
	}
	if t != 0x30 {
		return 0, 0, nil, fmt.Errorf("%w: tag %#x", errProtocol, t)
	}
	n, err := readLength(c.r)
	if err != nil {
		return 0, 0, nil, err
	}
	if n > maxBindResponse {
		return 0, 0, nil, fmt.Errorf("%w: %d-byte response", errProtocol, n)
	}
	if cap(c.rbuf) < n {
		c.rbuf = make([]byte, n)
	}
	msg := c.rbuf[:n]
	c.rbuf = keep(c.rbuf)
	if _, err := io.ReadFull(c.r, msg); err != nil {
		return 0, 0, nil, err
	}
	idTag, idBytes, rest, ok := next(msg)
	if !ok || idTag != 0x02 || len(idBytes) == 0 || len(idBytes) > 4 {
		return 0, 0, nil, fmt.Errorf("%w: message ID", errProtocol)
	}
	for _, b := range idBytes {
		id = id<<8 | int64(b)
	}
	tag, body, _, ok = next(rest)
	if !ok {
		return 0, 0, nil, fmt.Errorf("%w: protocol operation", errProtocol)
	}
	return id, tag, body, nil
}

// parseResult reads an LDAPResult: resultCode ENUMERATED, matchedDN,
// diagnosticMessage.
func parseResult(b []byte) (int, string, error) {
	t, v, rest, ok := next(b)
	if !ok || t != 0x0a || len(v) == 0 || len(v) > 4 {
		return 0, "", fmt.Errorf("%w: result code", errProtocol)
	}
	code := 0
	for _, x := range v {
		code = code<<8 | int(x)
	}
	_, _, rest, ok = next(rest) // matchedDN
	if !ok {
		return code, "", nil
	}
	_, diag, _, _ := next(rest)
	return code, string(diag), nil
}

// next splits the first TLV off b (definite lengths only, as LDAP requires).
func next(b []byte) (tag byte, value, rest []byte, ok bool) {
	if len(b) < 2 {
		return 0, nil, nil, false
	}
	tag = b[0]
	n := int(b[1])
	b = b[2:]
	if n&0x80 != 0 {
		k := n & 0x7f
		if k == 0 || k > 4 || len(b) < k {
			return 0, nil, nil, false
		}
		n = 0
		for _, x := range b[:k] {
			n = n<<8 | int(x)
		}
		b = b[k:]
	}
	if n < 0 || n > len(b) {
		return 0, nil, nil, false
	}
	return tag, b[:n], b[n:], true
}

func readLength(r *bufio.Reader) (int, error) {
	b, err := r.ReadByte()
	if err != nil {
		return 0, err
	}
	if b&0x80 == 0 {
		return int(b), nil
	}
	k := int(b & 0x7f)
	if k == 0 || k > 4 {
		return 0, fmt.Errorf("%w: length", errProtocol)
	}
	n := 0
	for range k {
		x, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		n = n<<8 | int(x)
	}
	return n, nil
}

// tlv appends a BER tag, length and value.
func tlv(dst []byte, tag byte, v []byte) []byte {
	return append(header(dst, tag, len(v)), v...)
}

func tlvString(dst []byte, tag byte, v string) []byte {
	return append(header(dst, tag, len(v)), v...)
}

// header appends a BER tag and a definite length.
func header(dst []byte, tag byte, n int) []byte {
	dst = append(dst, tag)
	switch {
	case n < 0x80:
		return append(dst, byte(n))
	case n < 0x100:
		return append(dst, 0x81, byte(n))
	case n < 0x10000:
		return append(dst, 0x82, byte(n>>8), byte(n))
	default:
		return append(dst, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// headerLen is the length of header's output for n content bytes.
func headerLen(n int) int {
	switch {
	case n < 0x80:
		return 2
	case n < 0x100:
		return 3
	case n < 0x10000:
		return 4
	default:
		return 6
	}
}

// appendInt appends a BER INTEGER (non-negative).
func appendInt(dst []byte, v int64) []byte {
	var b [9]byte
	i := len(b)
	for {
		i--
		b[i] = byte(v)
		v >>= 8
		if v == 0 {
			break
		}
	}
	if b[i]&0x80 != 0 {
		i--
		b[i] = 0
	}
	return tlv(dst, 0x02, b[i:])
}

func (c *bindConn) close() { _ = c.nc.Close() }

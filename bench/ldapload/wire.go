package ldapload

import (
	"errors"
	"fmt"

	goldap "github.com/go-ldap/ldap/v3"
)

// The epoll engine encodes requests and reads answers itself, with no
// per-request allocation beyond a compiled filter: BER with definite,
// minimal lengths, as go-ldap and ldapsearch send it.

// rawOp is an Op the epoll engine can drive: it writes its whole request
// (the LDAPMessage) and judges the answer by its result code and the
// number of entries that came before it.
type rawOp interface {
	Op
	// rawReady reports why the op cannot run without go-ldap, or nil.
	rawReady() error
	// appendRequest appends the request of this iteration, and names it
	// in r for error messages.
	appendRequest(dst []byte, id int32, it *Iter, r *rawResult) ([]byte, error)
	judge(r *rawResult) error
}

// rawResult is what the epoll engine read of one operation's answer.
type rawResult struct {
	entries int
	code    int
	diag    string
	// The request, for error messages: a bind's DN, a search's base and
	// filter.
	dn, filter string
}

// LDAP tags (RFC 4511), as they appear on the wire.
const (
	berInteger      = 0x02
	berOctetString  = 0x04
	berBoolean      = 0x01
	berEnumerated   = 0x0a
	berSequence     = 0x30
	appBindRequest  = 0x60
	appBindResponse = 0x61
	appSearchReq    = 0x63
	appSearchEntry  = 0x64
	appSearchDone   = 0x65
	appSearchRef    = 0x73
	ctxSimpleAuth   = 0x80
	ctxControls     = 0xa0
	lengthReserve   = 5 // the long form with four length octets
)

// begin appends tag and room for a length; end fills it in.
func begin(dst []byte, tag byte) ([]byte, int) {
	dst = append(dst, tag, 0, 0, 0, 0, 0)
	return dst, len(dst)
}

// end writes the length of what follows at (returned by begin) in its
// shortest form and closes the gap.
func end(dst []byte, at int) []byte {
	n := len(dst) - at
	var l [lengthReserve]byte
	k := appendLength(l[:0], n)
	copy(dst[at-lengthReserve+len(k):], dst[at:])
	copy(dst[at-lengthReserve:], k)
	return dst[:len(dst)-(lengthReserve-len(k))]
}

func appendLength(dst []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(dst, byte(n))
	case n < 1<<8:
		return append(dst, 0x81, byte(n))
	case n < 1<<16:
		return append(dst, 0x82, byte(n>>8), byte(n))
	case n < 1<<24:
		return append(dst, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func appendString(dst []byte, tag byte, s string) []byte {
	dst = append(dst, tag)
	dst = appendLength(dst, len(s))
	return append(dst, s...)
}

// appendInt appends a non-negative INTEGER (or ENUMERATED) in its shortest
// two's-complement form.
func appendInt(dst []byte, tag byte, v int64) []byte {
	n := 1
	for x := v; x > 0x7f; x >>= 8 {
		n++
	}
	dst = append(dst, tag, byte(n))
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(v>>(8*i)))
	}
	return dst
}

// appendMessage wraps the protocol op that op appends (and controls) in an
// LDAPMessage with id.
func appendMessage(dst []byte, id int32, controls []goldap.Control, op func([]byte) []byte) []byte {
	dst, msg := begin(dst, berSequence)
	dst = appendInt(dst, berInteger, int64(id))
	dst = op(dst)
	if len(controls) > 0 {
		var at int
		dst, at = begin(dst, ctxControls)
		for _, c := range controls {
			dst = append(dst, c.Encode().Bytes()...)
		}
		dst = end(dst, at)
	}
	return end(dst, msg)
}

// rawReady implements rawOp.
func (b Bind) rawReady() error { return nil }

func (b Bind) appendRequest(dst []byte, id int32, it *Iter, r *rawResult) ([]byte, error) {
	dn, password := b.Creds(it)
	r.dn = dn
	return appendBindRequest(dst, id, dn, password), nil
}

func appendBindRequest(dst []byte, id int32, dn, password string) []byte {
	return appendMessage(dst, id, nil, func(dst []byte) []byte {
		dst, at := begin(dst, appBindRequest)
		dst = appendInt(dst, berInteger, 3)
		dst = appendString(dst, berOctetString, dn)
		dst = appendString(dst, ctxSimpleAuth, password)
		return end(dst, at)
	})
}

func (b Bind) judge(r *rawResult) error {
	return bindOutcome(r.dn, b.Expect, r.code, r.diag)
}

// bindOutcome is the verdict on a bind as dn that got code, the same for
// both engines.
func bindOutcome(dn string, expect uint16, code int, diag string) error {
	switch {
	case code == int(expect):
		return nil
	case expect == goldap.LDAPResultSuccess:
		return fmt.Errorf("bind as %s: %w", dn, goldap.NewError(uint16(code), errors.New(diag)))
	case code == goldap.LDAPResultSuccess:
		return fmt.Errorf("bind as %s succeeded, want result %d (%s)", dn, expect, goldap.LDAPResultCodeMap[expect])
	}
	return fmt.Errorf("bind as %s: %w; want result %d (%s)", dn, goldap.NewError(uint16(code), errors.New(diag)),
		expect, goldap.LDAPResultCodeMap[expect])
}

// rawReady implements rawOp.
func (s Search) rawReady() error {
	if s.Check != nil {
		return errors.New("a Search with Check needs go-ldap's decoded entries: run it without Epoll")
	}
	return nil
}

func (s Search) appendRequest(dst []byte, id int32, it *Iter, r *rawResult) ([]byte, error) {
	base, filter := s.request(it)
	r.dn, r.filter = base, filter
	compiled, err := goldap.CompileFilter(filter)
	if err != nil {
		return dst, fmt.Errorf("search %q %s: %w", base, filter, err)
	}
	return appendMessage(dst, id, s.Controls, func(dst []byte) []byte {
		dst, at := begin(dst, appSearchReq)
		dst = appendString(dst, berOctetString, base)
		dst = appendInt(dst, berEnumerated, int64(s.Scope))
		dst = appendInt(dst, berEnumerated, goldap.NeverDerefAliases)
		dst = appendInt(dst, berInteger, int64(s.SizeLimit))
		dst = appendInt(dst, berInteger, 0)
		dst = append(dst, berBoolean, 1, 0)
		dst = append(dst, compiled.Bytes()...)
		var attrs int
		dst, attrs = begin(dst, berSequence)
		for _, a := range s.Attributes {
			dst = appendString(dst, berOctetString, a)
		}
		dst = end(dst, attrs)
		return end(dst, at)
	}), nil
}

func (s Search) judge(r *rawResult) error {
	if r.code != goldap.LDAPResultSuccess {
		return fmt.Errorf("search %q %s: %w", r.dn, r.filter, goldap.NewError(uint16(r.code), errors.New(r.diag)))
	}
	return s.count(r.dn, r.filter, r.entries)
}

// message is one LDAPMessage read off the wire.
type message struct {
	total int   // its length in the buffer
	id    int64 // messageID
	op    byte  // protocolOp's tag
	body  []byte
}

// maxMessage bounds what the generator buffers for one answer.
const maxMessage = 64 << 20

// parseMessage finds the LDAPMessage at the start of buf: total is 0
// while it is incomplete.
func parseMessage(buf []byte) (message, error) {
	var m message
	if len(buf) == 0 {
		return m, nil
	}
	if buf[0] != berSequence {
		return m, fmt.Errorf("message starts with tag %#x, not a SEQUENCE", buf[0])
	}
	n, hdr, err := parseLength(buf[1:])
	if err != nil || hdr == 0 {
		return m, err
	}
	if n > maxMessage {
		return m, fmt.Errorf("message of %d bytes", n)
	}
	if 1+hdr+n > len(buf) {
		return m, nil
	}
	content := buf[1+hdr : 1+hdr+n]
	tag, id, rest, err := element(content)
	if err != nil || tag != berInteger || len(id) == 0 || len(id) > 4 {
		return m, fmt.Errorf("message without a messageID (%v)", err)
	}
	for _, b := range id {
		m.id = m.id<<8 | int64(b)
	}
	op, body, _, err := element(rest)
	if err != nil {
		return m, fmt.Errorf("message %d: %w", m.id, err)
	}
	m.total, m.op, m.body = 1+hdr+n, op, body
	return m, nil
}

// parseLength reads a definite length: its value and how many octets it
// took (0 while incomplete).
func parseLength(b []byte) (n, octets int, err error) {
	if len(b) == 0 {
		return 0, 0, nil
	}
	if b[0] < 0x80 {
		return int(b[0]), 1, nil
	}
	k := int(b[0] & 0x7f)
	if k == 0 || k > 4 {
		return 0, 0, fmt.Errorf("length form %#x", b[0])
	}
	if len(b) < 1+k {
		return 0, 0, nil
	}
	for _, x := range b[1 : 1+k] {
		n = n<<8 | int(x)
	}
	return n, 1 + k, nil
}

// element splits the complete BER element at the start of b.
func element(b []byte) (tag byte, content, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, errors.New("truncated element")
	}
	n, hdr, err := parseLength(b[1:])
	if err == nil && (hdr == 0 || 1+hdr+n > len(b)) {
		err = errors.New("truncated element")
	}
	if err != nil {
		return 0, nil, nil, err
	}
	return b[0], b[1+hdr : 1+hdr+n], b[1+hdr+n:], nil
}

// parseResult reads an LDAPResult's code and diagnostic message.
func parseResult(body []byte) (code int, diag string, err error) {
	tag, c, rest, err := element(body)
	if err != nil || tag != berEnumerated || len(c) == 0 || len(c) > 4 {
		return 0, "", fmt.Errorf("result without a resultCode (%v)", err)
	}
	for _, b := range c {
		code = code<<8 | int(b)
	}
	if _, _, rest, err = element(rest); err != nil { // matchedDN
		return 0, "", fmt.Errorf("result: matchedDN: %w", err)
	}
	_, d, _, err := element(rest)
	if err != nil {
		return 0, "", fmt.Errorf("result: diagnosticMessage: %w", err)
	}
	return code, string(d), nil
}

package ldapfront

import (
	"bufio"
	"reflect"
	"sync"
	"unsafe"

	"github.com/jimlambrt/gldap"
)

// Search results are the hot path, and gldap encodes each response by
// building a BER tree (twice: once for a debug log it then does not write)
// and flushes the socket after every entry. We encode SearchResultEntry and
// SearchResultDone ourselves into one buffer and hand it to the request's
// own buffered writer under gldap's per-connection write lock, one flush
// per batch: the bytes on the wire are the same, the work is a fraction.
// The writer and its lock are read out of gldap's ResponseWriter (layout
// checked at start-up); without them, responses go through gldap.

var (
	rwMuField, rwWriterField reflect.StructField
	rawWriteUsable           bool
)

func init() {
	rt := reflect.TypeOf(gldap.ResponseWriter{})
	mu, ok1 := rt.FieldByName("writerMu")
	w, ok2 := rt.FieldByName("writer")
	if ok1 && ok2 && mu.Type == reflect.TypeOf((*sync.Mutex)(nil)) && w.Type == reflect.TypeOf((*bufio.Writer)(nil)) {
		rwMuField, rwWriterField, rawWriteUsable = mu, w, true
	}
}

// rawWriter returns the lock and buffered writer of w, or nils.
func rawWriter(w *gldap.ResponseWriter) (*sync.Mutex, *bufio.Writer) {
	if !rawWriteUsable || w == nil {
		return nil, nil
	}
	p := unsafe.Pointer(w)
	return *(**sync.Mutex)(unsafe.Add(p, rwMuField.Offset)), *(**bufio.Writer)(unsafe.Add(p, rwWriterField.Offset))
}

// BER encoding (definite lengths) of the two search responses.

const (
	tagSequence       = 0x30
	tagSet            = 0x31
	tagOctetString    = 0x04
	tagInteger        = 0x02
	tagEnumerated     = 0x0a
	tagBoolean        = 0x01
	appSearchEntry    = 0x64 // [APPLICATION 4] constructed
	appSearchDone     = 0x65 // [APPLICATION 5]
	ctxControls       = 0xa0 // [0] constructed
	flushAfter        = 32 << 10
	maxLengthOctets   = 4
	lengthPlaceholder = 1 + maxLengthOctets
)

// berBuf builds BER with lengths filled in after the content: open
// reserves room for a long-form length, close writes it and closes the
// gap when the short form fits.
type berBuf struct {
	b     []byte
	stack []int // offsets of open lengths
}

func (e *berBuf) open(tag byte) {
	e.b = append(e.b, tag)
	e.stack = append(e.stack, len(e.b))
	e.b = append(e.b, 0, 0, 0, 0, 0)
}

func (e *berBuf) close() {
	at := e.stack[len(e.stack)-1]
	e.stack = e.stack[:len(e.stack)-1]
	n := len(e.b) - at - lengthPlaceholder
	var hdr [lengthPlaceholder]byte
	var h []byte
	switch {
	case n < 0x80:
		h = append(hdr[:0], byte(n))
	case n < 0x100:
		h = append(hdr[:0], 0x81, byte(n))
	case n < 0x10000:
		h = append(hdr[:0], 0x82, byte(n>>8), byte(n))
	case n < 0x1000000:
		h = append(hdr[:0], 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		h = append(hdr[:0], 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	copy(e.b[at:], h)
	if gap := lengthPlaceholder - len(h); gap > 0 {
		copy(e.b[at+len(h):], e.b[at+lengthPlaceholder:])
		e.b = e.b[:len(e.b)-gap]
		// Lengths of enclosing constructions are computed when they close,
		// from the buffer as it is then: nothing else to fix.
	}
}

func (e *berBuf) length(n int) {
	switch {
	case n < 0x80:
		e.b = append(e.b, byte(n))
	case n < 0x100:
		e.b = append(e.b, 0x81, byte(n))
	case n < 0x10000:
		e.b = append(e.b, 0x82, byte(n>>8), byte(n))
	case n < 0x1000000:
		e.b = append(e.b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		e.b = append(e.b, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

func (e *berBuf) str(tag byte, s string) {
	e.b = append(e.b, tag)
	e.length(len(s))
	e.b = append(e.b, s...)
}

func (e *berBuf) int(tag byte, v int64) {
	var tmp [9]byte
	i := len(tmp)
	neg := v < 0
	for {
		i--
		tmp[i] = byte(v)
		v >>= 8
		if (v == 0 && tmp[i]&0x80 == 0 && !neg) || (v == -1 && tmp[i]&0x80 != 0 && neg) {
			break
		}
	}
	e.b = append(e.b, tag)
	e.length(len(tmp) - i)
	e.b = append(e.b, tmp[i:]...)
}

// entry appends a SearchResultEntry.
func (e *berBuf) beginEntry(msgID int64, dn string) {
	e.open(tagSequence)
	e.int(tagInteger, msgID)
	e.open(appSearchEntry)
	e.str(tagOctetString, dn)
	e.open(tagSequence)
}

// attr appends one PartialAttribute (values empty for typesOnly).
func (e *berBuf) attr(name string, values []string) {
	e.open(tagSequence)
	e.str(tagOctetString, name)
	e.open(tagSet)
	for _, v := range values {
		e.str(tagOctetString, v)
	}
	e.close()
	e.close()
}

func (e *berBuf) endEntry() {
	e.close() // attributes
	e.close() // SearchResultEntry
	e.close() // LDAPMessage
}

// done appends a SearchResultDone with an optional paged-results control.
func (e *berBuf) done(msgID int64, code int, matched, diag string, paging *pagingResponse) {
	e.open(tagSequence)
	e.int(tagInteger, msgID)
	e.open(appSearchDone)
	e.int(tagEnumerated, int64(code))
	e.str(tagOctetString, matched)
	e.str(tagOctetString, diag)
	e.close()
	if paging != nil {
		e.open(ctxControls)
		e.open(tagSequence)
		e.str(tagOctetString, gldap.ControlTypePaging)
		// controlValue: OCTET STRING holding realSearchControlValue
		// SEQUENCE { size INTEGER, cookie OCTET STRING } (RFC 2696).
		var inner berBuf
		inner.open(tagSequence)
		inner.int(tagInteger, 0)
		inner.str(tagOctetString, paging.cookie)
		inner.close()
		e.str(tagOctetString, string(inner.b))
		e.close()
		e.close()
	}
	e.close()
}

type pagingResponse struct{ cookie string }

var berPool = sync.Pool{New: func() any { return &berBuf{b: make([]byte, 0, 4096)} }}

// sink sends a search's responses: our encoding through gldap's writer when
// we can reach it, gldap's own otherwise.
type sink struct {
	w     *gldap.ResponseWriter
	r     *gldap.Request
	mu    *sync.Mutex
	out   *bufio.Writer
	buf   *berBuf
	msgID int64
	err   error
}

func newSink(w *gldap.ResponseWriter, r *gldap.Request, msgID int64) *sink {
	s := &sink{w: w, r: r, msgID: msgID}
	s.mu, s.out = rawWriter(w)
	if s.out != nil {
		s.buf = berPool.Get().(*berBuf)
		s.buf.b, s.buf.stack = s.buf.b[:0], s.buf.stack[:0]
	}
	return s
}

func (s *sink) raw() bool { return s.out != nil }

// flush writes what is buffered.
func (s *sink) flush() error {
	if s.err != nil || len(s.buf.b) == 0 {
		return s.err
	}
	s.mu.Lock()
	_, err := s.out.Write(s.buf.b)
	if err == nil {
		err = s.out.Flush()
	}
	s.mu.Unlock()
	s.buf.b = s.buf.b[:0]
	s.err = err
	return err
}

// release returns the buffer to the pool.
func (s *sink) release() {
	if s.buf != nil && cap(s.buf.b) <= 1<<20 {
		berPool.Put(s.buf)
	}
	s.buf = nil
}

const appBindResponse = 0x61 // [APPLICATION 1]

// writeResult writes an LDAPResult-shaped response (tag is its protocolOp
// tag) directly; false means the raw writer is unavailable and the caller
// must use gldap.
func writeResult(w *gldap.ResponseWriter, tag byte, msgID int64, code int, matched, diag string) bool {
	mu, out := rawWriter(w)
	if out == nil {
		return false
	}
	b := berPool.Get().(*berBuf)
	b.b, b.stack = b.b[:0], b.stack[:0]
	b.open(tagSequence)
	b.int(tagInteger, msgID)
	b.open(tag)
	b.int(tagEnumerated, int64(code))
	b.str(tagOctetString, matched)
	b.str(tagOctetString, diag)
	b.close()
	b.close()
	mu.Lock()
	_, err := out.Write(b.b)
	if err == nil {
		_ = out.Flush()
	}
	mu.Unlock()
	berPool.Put(b)
	return true
}

package cache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/dirgate/dirgate/upstream"
)

// Records are stored in a compact binary form: a format byte, the record's
// first-seen order, then length-prefixed strings and varints. Loading 110,000
// records on start must take well under a second, which JSON does not.

const (
	userFormat  byte = 1
	groupFormat byte = 1

	// maxField bounds one decoded string or list; a corrupt length must not
	// make the decoder allocate gigabytes.
	maxField = 64 << 20
)

var errCorrupt = errors.New("corrupt record")

type encoder struct{ b []byte }

func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) str(s string)     { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *encoder) time(t time.Time) {
	if t.IsZero() {
		e.b = append(e.b, 0)
		return
	}
	e.b = append(e.b, 1)
	e.b = binary.AppendVarint(e.b, t.Unix())
	e.uvarint(uint64(t.Nanosecond()))
}
func (e *encoder) strs(v []string) {
	e.uvarint(uint64(len(v)))
	for _, s := range v {
		e.str(s)
	}
}
func (e *encoder) attrs(m map[string][]string) {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	e.uvarint(uint64(len(names)))
	for _, k := range names {
		e.str(k)
		e.strs(m[k])
	}
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) || n > maxField {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) time() time.Time {
	switch d.byte() {
	case 0:
		return time.Time{}
	case 1:
		sec := d.varint()
		nsec := d.uvarint()
		if nsec >= 1e9 || sec < -62135596800 || sec > math.MaxInt64/2 {
			d.fail()
			return time.Time{}
		}
		return time.Unix(sec, int64(nsec)).UTC()
	default:
		d.fail()
		return time.Time{}
	}
}

// count reads a list length and checks it against the bytes left: every
// element takes at least min bytes.
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)/min) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *decoder) strs() []string {
	n := d.count(1)
	if n == 0 {
		return nil
	}
	v := make([]string, n)
	for i := range v {
		v[i] = d.str()
	}
	return v
}

func (d *decoder) attrs() map[string][]string {
	n := d.count(2)
	if n == 0 {
		return nil
	}
	m := make(map[string][]string, n)
	for range n {
		k := d.str()
		m[k] = d.strs()
	}
	return m
}

func encodeUser(u *userRec) []byte {
	e := encoder{b: make([]byte, 0, 128)}
	e.b = append(e.b, userFormat)
	e.uvarint(u.order)
	for i := uKey; i <= uEmail; i++ {
		e.str(u.str(i))
	}
	e.b = append(e.b, boolByte(u.active))
	e.time(u.created)
	e.time(u.updated)
	e.attrs(u.attrs)
	return e.b
}

func decodeUser(b []byte) (*userRec, error) {
	d := decoder{b: b}
	if d.byte() != userFormat {
		return nil, fmt.Errorf("%w: unknown user format", errCorrupt)
	}
	order := d.uvarint()
	var r upstream.User
	for _, p := range [...]*string{&r.Key, &r.ExternalID, &r.Username, &r.FirstName, &r.LastName, &r.DisplayName, &r.Email} {
		*p = d.str()
	}
	r.Active = d.byte() == 1
	r.Created = d.time()
	r.Updated = d.time()
	r.Attributes = d.attrs()
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	if d.err != nil {
		return nil, d.err
	}
	return newUserRec(&r, order), nil
}

func encodeGroup(g *groupRec) []byte {
	size := 64
	for _, m := range g.Members {
		size += len(m) + 2
	}
	e := encoder{b: make([]byte, 0, size)}
	e.b = append(e.b, groupFormat)
	e.uvarint(g.order)
	r := &g.Group
	for _, s := range [...]string{r.Key, r.ExternalID, r.Name, r.Description} {
		e.str(s)
	}
	e.b = append(e.b, boolByte(r.Active))
	e.time(r.Created)
	e.time(r.Updated)
	e.strs(r.Members)
	e.attrs(r.Attributes)
	return e.b
}

func decodeGroup(b []byte) (*groupRec, error) {
	d := decoder{b: b}
	if d.byte() != groupFormat {
		return nil, fmt.Errorf("%w: unknown group format", errCorrupt)
	}
	g := &groupRec{order: d.uvarint()}
	r := &g.Group
	for _, p := range [...]*string{&r.Key, &r.ExternalID, &r.Name, &r.Description} {
		*p = d.str()
	}
	r.Active = d.byte() == 1
	r.Created = d.time()
	r.Updated = d.time()
	r.Members = d.strs()
	r.Attributes = d.attrs()
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	if d.err != nil {
		return nil, d.err
	}
	packGroup(r)
	return g, nil
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// sameGroup reports whether two records carry the same data. Member lists
// are compared as given; the cache sorts them on the way in.
func sameGroup(a, b *upstream.Group) bool {
	return a.Key == b.Key && a.ExternalID == b.ExternalID && a.Name == b.Name &&
		a.Description == b.Description && a.Active == b.Active && a.Created.Equal(b.Created) &&
		a.Updated.Equal(b.Updated) && sameStrs(a.Members, b.Members) && sameAttrs(a.Attributes, b.Attributes)
}

func sameStrs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sameAttrs(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok || !sameStrs(va, vb) {
			return false
		}
	}
	return true
}

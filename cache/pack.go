package cache

import (
	"slices"
	"strings"

	"github.com/dirgate/dirgate/upstream"
)

// A record arrives with each of its strings in an allocation of its own
// (one per decoded LDAP value or JSON field). Held for 100,000 users that
// is most of the objects on the heap, and every collection has to visit
// each of them. A stored record's strings are therefore copied into one
// allocation: one object per record instead of seven or more, the same
// bytes, and the strings the sync decoded become garbage at once.
//
// A group (packGroup) points its fields into that allocation; its member
// list is left alone (the keys are interned to the member records' keys:
// internMembers). A user goes further: its strings are not even string
// headers in the record (a pointer each for the collector to follow,
// eight per user) but end offsets into one string, packed; the record
// hands out an upstream.User built when asked (userRec.user).

// The strings of a userRec, in the order they are packed.
const (
	uKey = iota
	uExt
	uUsername
	uFirst
	uLast
	uDisplay
	uEmail
	uFold // the folded username, when it differs from the username
	nUserStrs
)

// newUserRec packs u into a record (u is not kept; the attributes are
// copied, their values packed).
func newUserRec(u *upstream.User, order uint64) *userRec {
	strs := [nUserStrs]string{u.Key, u.ExternalID, u.Username, u.FirstName, u.LastName, u.DisplayName, u.Email}
	if f := upstream.Fold(u.Username); f != u.Username {
		strs[uFold] = f
	}
	r := &userRec{order: order, active: u.Active, created: u.Created, updated: u.Updated, attrs: u.Attributes}
	n := 0
	for _, s := range strs {
		n += len(s)
	}
	var b strings.Builder
	b.Grow(n)
	for i, s := range strs {
		b.WriteString(s)
		r.ends[i] = uint32(b.Len())
	}
	r.packed = b.String()
	if len(r.attrs) > 0 {
		var p packer
		p.attrs(&r.attrs)
		p.done()
	}
	return r
}

func (r *userRec) str(i int) string {
	start := uint32(0)
	if i > 0 {
		start = r.ends[i-1]
	}
	return r.packed[start:r.ends[i]]
}

func (r *userRec) key() string      { return r.str(uKey) }
func (r *userRec) ext() string      { return r.str(uExt) }
func (r *userRec) username() string { return r.str(uUsername) }
func (r *userRec) email() string    { return r.str(uEmail) }

// fold is upstream.Fold(username).
func (r *userRec) fold() string {
	if f := r.str(uFold); f != "" {
		return f
	}
	return r.username()
}

// user returns the record as an upstream.User of its own: the strings
// share the record's memory, the attributes map is the record's and must
// not be modified.
func (r *userRec) user() *upstream.User {
	return &upstream.User{Key: r.key(), ExternalID: r.ext(), Username: r.username(), FirstName: r.str(uFirst),
		LastName: r.str(uLast), DisplayName: r.str(uDisplay), Email: r.email(), Active: r.active,
		Created: r.created, Updated: r.updated, Attributes: r.attrs}
}

// same reports whether r holds what u says.
func (r *userRec) same(u *upstream.User) bool {
	return r.key() == u.Key && r.ext() == u.ExternalID && r.username() == u.Username &&
		r.str(uFirst) == u.FirstName && r.str(uLast) == u.LastName && r.str(uDisplay) == u.DisplayName &&
		r.email() == u.Email && r.active == u.Active && r.created.Equal(u.Created) &&
		r.updated.Equal(u.Updated) && sameAttrs(r.attrs, u.Attributes)
}

// packGroup packs g's strings, except the member keys.
func packGroup(g *upstream.Group) {
	var p packer
	p.fields(&g.Key, &g.ExternalID, &g.Name, &g.Description)
	p.attrs(&g.Attributes)
	p.done()
}

// packer collects pointers to strings, then copies them into one arena.
type packer struct {
	ptrs [16]*string
	k    int // used in ptrs
	more []*string
	n    int // bytes
}

func (p *packer) add(s *string) {
	if len(*s) == 0 {
		return
	}
	p.n += len(*s)
	if p.k < len(p.ptrs) {
		p.ptrs[p.k] = s
		p.k++
		return
	}
	p.more = append(p.more, s)
}

func (p *packer) fields(ps ...*string) {
	for _, s := range ps {
		p.add(s)
	}
}

// attrs replaces *m with a copy whose values are packed (the caller's map
// and slices are not written); the names, which repeat across records, are
// left shared.
func (p *packer) attrs(m *map[string][]string) {
	if len(*m) == 0 {
		return
	}
	c := make(map[string][]string, len(*m))
	for k, vs := range *m {
		vs = slices.Clone(vs)
		for i := range vs {
			p.add(&vs[i])
		}
		c[k] = vs
	}
	*m = c
}

func (p *packer) done() {
	if p.n == 0 {
		return
	}
	var b strings.Builder
	b.Grow(p.n)
	each := func(f func(*string)) {
		for _, s := range p.ptrs[:p.k] {
			f(s)
		}
		for _, s := range p.more {
			f(s)
		}
	}
	each(func(s *string) { b.WriteString(*s) })
	arena, off := b.String(), 0
	each(func(s *string) {
		n := len(*s)
		*s = arena[off : off+n]
		off += n
	})
}

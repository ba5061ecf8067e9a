package cache

import (
	"slices"
	"strings"

	"github.com/dirgate/dirgate/upstream"
)

// A record arrives with each of its strings in an allocation of its own
// (one per decoded LDAP value or JSON field). Held for 100,000 users that
// is most of the objects on the heap, and every collection has to visit
// each of them. pack copies a record's strings into one allocation and
// points the fields into it: one object per record instead of seven or
// more, the same bytes, and the strings the sync decoded become garbage at
// once. Group member lists are left alone: they are interned to the member
// records' keys (internMembers).

// packUser packs u's strings.
func packUser(u *upstream.User) {
	var p packer
	p.fields(&u.Key, &u.ExternalID, &u.Username, &u.FirstName, &u.LastName, &u.DisplayName, &u.Email)
	p.attrs(&u.Attributes)
	p.done()
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

package ldapfront

import (
	"strings"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/ldapfront/filter"
	"github.com/dirgate/dirgate/upstream"
)

// kind is what an entry of the tree is.
type kind int

const (
	kindFixed kind = iota // root DSE, subschema, naming context, containers, service accounts
	kindUser              // uid=...,ou=users
	kindGroup             // cn=...,ou=groups
)

// served is an entry as the search path sees it: computed attribute by
// attribute, only as far as the filter and the requested attributes need
// (a uid search asking for uid cn mail memberOf never computes entryUUID).
// It implements filter.Entry for the evaluator.
type served struct {
	s     *Server
	kind  kind
	dn    string
	user  cache.User
	group cache.Group
	fixed *Entry

	memberOf groupDNs // users: cached memberOf

	memo []memoValue // computed values by canonical name (few per entry)
}

type memoValue struct {
	attr   string
	values []string
}

var (
	_ filter.Entry = (*served)(nil)
)

func (s *Server) userEntry(u cache.User) *served {
	d := s.derivedUser(u, upstream.Fold(u.Rec.Username))
	return &served{s: s, kind: kindUser, dn: d.dn, user: u, memberOf: d.memberOf}
}

func (s *Server) groupEntry(g cache.Group) *served {
	return &served{s: s, kind: kindGroup, dn: s.cfg.Tree.groupDN(s.store, g.Rec.Name), group: g}
}

func (s *Server) fixedEntry(e *Entry) *served {
	return &served{s: s, kind: kindFixed, dn: e.DN, fixed: e}
}

// DN implements filter.Entry.
func (e *served) DN() string { return e.dn }

// Values implements filter.Entry: the values of a canonical attribute name.
func (e *served) Values(attr string) []string {
	for _, m := range e.memo {
		if m.attr == attr {
			return m.values
		}
	}
	var v []string
	switch e.kind {
	case kindUser:
		if attr == "memberof" {
			v = e.memberOf.strings()
		} else if d := findDef(userAttrs, attr); d != nil {
			v = d.values(e.s.cfg.Tree, e.s.store, e.user)
		}
	case kindGroup:
		if d := findDef(groupAttrs, attr); d != nil {
			v = d.values(e.s.cfg.Tree, e.s.store, e.group)
		}
	default:
		for _, a := range e.fixed.Attrs {
			if strings.EqualFold(a.Name, attr) {
				v = a.Values
				break
			}
		}
	}
	e.memo = append(e.memo, memoValue{attr, v})
	return v
}

func findDef[T any](defs []attrDef[T], lower string) *attrDef[T] {
	for i := range defs {
		if defs[i].lower == lower {
			return &defs[i]
		}
	}
	return nil
}

// Chain implements filter.Entry for the in-chain matching rule: the
// normalised DNs reachable through attr at any depth.
func (e *served) Chain(attr string) []string {
	t, st := e.s.cfg.Tree, e.s.store
	var names []string
	var dn func(string) string
	switch {
	case attr == "memberof" && e.kind == kindUser:
		names, dn = st.UserGroups(e.user.Rec.Username, true, true), t.GroupDN
	case attr == "memberof" && e.kind == kindGroup:
		names, dn = st.GroupParents(e.group.Rec.Name, true), t.GroupDN
	case attr == "member" && e.kind == kindGroup:
		var out []string
		for _, u := range st.GroupUsers(e.group.Rec.Name, true, true) {
			out = append(out, normDN(t.UserDN(u)))
		}
		for _, g := range st.GroupChildren(e.group.Rec.Name, true) {
			out = append(out, normDN(t.GroupDN(g)))
		}
		return out
	default:
		return nil
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = normDN(dn(n))
	}
	return out
}

func normDN(dn string) string {
	n, _ := filter.NormalizeDN(dn)
	return n
}

// MatchEqual answers memberOf=<group DN> (and, for groups, member=<DN>)
// from the membership index instead of comparing DN strings: the
// evaluator's fast path.
func (e *served) MatchEqual(attr, value string) (filter.Result, bool) {
	if e.kind == kindFixed || (attr != "memberof" && attr != "member") {
		return filter.Undefined, false
	}
	t := e.s.cfg.Tree
	p, ok := parseDN(value)
	if !ok {
		return filter.Undefined, false
	}
	st := e.s.store
	switch {
	case attr == "memberof" && p.under(t.normGroups) && p.depth() == t.depthGroups+1:
		g := p.rdnValue("cn")
		var in bool
		if e.kind == kindUser {
			// The entry's memberOf DNs are cached per user (derived): a
			// group DN is among them exactly when the user is a member.
			grp, ok := st.Group(g)
			in = ok && e.memberOf.contains(t.groupDN(st, grp.Rec.Name))
		} else {
			in = containsFold(st.GroupParents(e.group.Rec.Name, t.TransitiveMemberOf), g)
		}
		return boolResult(in), true
	case attr == "memberof":
		return filter.False, true // not a group of this tree
	case e.kind == kindUser:
		return filter.False, true // users have no member
	case p.under(t.normUsers) && p.depth() == t.depthUsers+1:
		return boolResult(containsFold(st.GroupUsers(e.group.Rec.Name, false, true), p.rdnValue("uid"))), true
	case p.under(t.normGroups) && p.depth() == t.depthGroups+1:
		return boolResult(containsFold(st.GroupChildren(e.group.Rec.Name, false), p.rdnValue("cn"))), true
	}
	return filter.False, true
}

func boolResult(b bool) filter.Result {
	if b {
		return filter.True
	}
	return filter.False
}

func containsFold(l []string, s string) bool {
	for _, x := range l {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// RangeAttributes implements filter.AttributeRanger, for extensible
// matches without an attribute type.
func (e *served) RangeAttributes(fn func(attr string, values []string) bool) {
	var lowers []string
	switch e.kind {
	case kindUser:
		for _, d := range userAttrs {
			lowers = append(lowers, d.lower)
		}
	case kindGroup:
		for _, d := range groupAttrs {
			lowers = append(lowers, d.lower)
		}
	default:
		for _, a := range e.fixed.Attrs {
			if !fn(strings.ToLower(a.Name), a.Values) {
				return
			}
		}
		return
	}
	for _, l := range lowers {
		if v := e.Values(l); len(v) > 0 && !fn(l, v) {
			return
		}
	}
}

var (
	_ filter.EqualityMatcher = (*served)(nil)
	_ filter.AttributeRanger = (*served)(nil)
)

package slapdtest

import (
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
)

// Attr is an attribute with its values, for AddUser and Add.
type Attr struct {
	Name   string
	Values []string
}

// A returns the attribute name with values.
func A(name string, values ...string) Attr { return Attr{Name: name, Values: values} }

// Change is one modification for Modify: Replace, AddValues or
// DeleteValues.
type Change func(*goldap.ModifyRequest)

// Replace sets attr to values (no values: removes the attribute).
func Replace(attr string, values ...string) Change {
	return func(r *goldap.ModifyRequest) { r.Replace(attr, values) }
}

// AddValues adds values to attr.
func AddValues(attr string, values ...string) Change {
	return func(r *goldap.ModifyRequest) { r.Add(attr, values) }
}

// DeleteValues removes values from attr (no values: the whole attribute).
func DeleteValues(attr string, values ...string) Change {
	return func(r *goldap.ModifyRequest) { r.Delete(attr, values) }
}

// Add adds an entry with the given attributes.
func (s *Server) Add(t testing.TB, dn string, attrs ...Attr) {
	t.Helper()
	req := goldap.NewAddRequest(dn, nil)
	for _, a := range attrs {
		req.Attribute(a.Name, a.Values)
	}
	s.do(t, "add "+dn, func(c *goldap.Conn) error { return c.Add(req) })
}

// AddUser adds an inetOrgPerson uid=<uid> under ou=people and returns its
// DN. It has cn, sn and givenName <uid>, displayName "User <uid>",
// mail <uid>@example.com and userPassword "password-<uid>"; attrs add
// attributes or replace these (an Attr without values drops one).
func (s *Server) AddUser(t testing.TB, uid string, attrs ...Attr) string {
	t.Helper()
	dn := s.UserDN(uid)
	s.Add(t, dn, merge([]Attr{
		A("objectClass", "inetOrgPerson"),
		A("uid", uid),
		A("cn", uid),
		A("sn", uid),
		A("givenName", uid),
		A("displayName", "User "+uid),
		A("mail", uid+"@example.com"),
		A("userPassword", UserPassword(uid)),
	}, attrs)...)
	return dn
}

// UserPassword is the password AddUser gives uid.
func UserPassword(uid string) string { return "password-" + uid }

// AddGroup adds a groupOfNames cn=<cn> under ou=groups with the given
// member DNs and returns its DN. groupOfNames requires a member: with none,
// the group gets the empty DN as its only member, which readers treat as
// no member.
func (s *Server) AddGroup(t testing.TB, cn string, memberDNs ...string) string {
	t.Helper()
	dn := s.GroupDN(cn)
	if len(memberDNs) == 0 {
		memberDNs = []string{""}
	}
	s.Add(t, dn,
		A("objectClass", "groupOfNames"),
		A("cn", cn),
		A("description", "Group "+cn),
		A("member", memberDNs...),
	)
	return dn
}

// Modify applies changes to dn in one request.
func (s *Server) Modify(t testing.TB, dn string, changes ...Change) {
	t.Helper()
	req := goldap.NewModifyRequest(dn, nil)
	for _, c := range changes {
		c(req)
	}
	s.do(t, "modify "+dn, func(c *goldap.Conn) error { return c.Modify(req) })
}

// SetMembers replaces a group's members.
func (s *Server) SetMembers(t testing.TB, groupDN string, memberDNs ...string) {
	t.Helper()
	if len(memberDNs) == 0 {
		memberDNs = []string{""}
	}
	s.Modify(t, groupDN, Replace("member", memberDNs...))
}

// Delete deletes an entry (without children).
func (s *Server) Delete(t testing.TB, dn string) {
	t.Helper()
	s.do(t, "delete "+dn, func(c *goldap.Conn) error { return c.Del(goldap.NewDelRequest(dn, nil)) })
}

func (s *Server) do(t testing.TB, what string, op func(*goldap.Conn) error) {
	t.Helper()
	c, err := s.adminConn()
	if err != nil {
		t.Fatalf("slapdtest: %s: %v", what, err)
	}
	if err := op(c); err != nil {
		t.Fatalf("slapdtest: %s: %v", what, err)
	}
}

// merge returns base with every attribute of over replacing the one of the
// same name (case-insensitively); attributes without values are dropped.
func merge(base, over []Attr) []Attr {
	out := make([]Attr, 0, len(base)+len(over))
	for _, b := range base {
		replaced := false
		for _, o := range over {
			if strings.EqualFold(o.Name, b.Name) {
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, b)
		}
	}
	for _, o := range over {
		if len(o.Values) > 0 {
			out = append(out, o)
		}
	}
	return out
}

package ldapfront

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirgate/dirgate/cache"
)

// Tree maps the merged directory onto the LDAP tree of ARCHITECTURE.md:
//
//	<base_dn>                         the naming context
//	ou=users,<base_dn>                uid=<username> for every user
//	ou=groups,<base_dn>               cn=<group> for every group
//	ou=services,<base_dn>             cn=<name> for every service account
//
// It is the one definition of what an entry looks like: the LDAP frontend
// serves these entries and `dirgate cache export --format ldif` writes them.
type Tree struct {
	BaseDN string
	// TransitiveMemberOf: memberOf lists every group reached through
	// nesting (the default); otherwise only direct groups.
	TransitiveMemberOf bool
	// ServiceAccounts are the names of the configured service accounts.
	ServiceAccounts []string
}

// Attr is one attribute of an entry, values in order.
type Attr struct {
	Name   string
	Values []string
}

// Entry is one LDAP entry.
type Entry struct {
	DN    string
	Attrs []Attr
}

// Get returns the values of an attribute (case-insensitive name).
func (e *Entry) Get(name string) []string {
	for _, a := range e.Attrs {
		if strings.EqualFold(a.Name, name) {
			return a.Values
		}
	}
	return nil
}

func (e *Entry) add(name string, values ...string) {
	var vs []string
	for _, v := range values {
		if v != "" {
			vs = append(vs, v)
		}
	}
	if len(vs) > 0 {
		e.Attrs = append(e.Attrs, Attr{Name: name, Values: vs})
	}
}

// UsersDN, GroupsDN and ServicesDN are the containers.
func (t *Tree) UsersDN() string    { return "ou=users," + t.BaseDN }
func (t *Tree) GroupsDN() string   { return "ou=groups," + t.BaseDN }
func (t *Tree) ServicesDN() string { return "ou=services," + t.BaseDN }

// UserDN returns the DN of a user.
func (t *Tree) UserDN(username string) string {
	return "uid=" + goldap.EscapeDN(username) + "," + t.UsersDN()
}

// GroupDN returns the DN of a group.
func (t *Tree) GroupDN(name string) string {
	return "cn=" + goldap.EscapeDN(name) + "," + t.GroupsDN()
}

// ServiceDN returns the DN of a service account.
func (t *Tree) ServiceDN(name string) string {
	return "cn=" + goldap.EscapeDN(name) + "," + t.ServicesDN()
}

// BaseEntries returns the naming context and the three containers.
func (t *Tree) BaseEntries() []*Entry {
	base := &Entry{DN: t.BaseDN}
	base.add("objectClass", "top", "dcObject", "organization")
	rdn := t.BaseDN
	if dn, err := goldap.ParseDN(t.BaseDN); err == nil && len(dn.RDNs) > 0 && len(dn.RDNs[0].Attributes) > 0 {
		a := dn.RDNs[0].Attributes[0]
		base.add(a.Type, a.Value)
		rdn = a.Value
	}
	base.add("o", rdn)
	out := []*Entry{base}
	for _, ou := range []string{"users", "groups", "services"} {
		e := &Entry{DN: "ou=" + ou + "," + t.BaseDN}
		e.add("objectClass", "top", "organizationalUnit")
		e.add("ou", ou)
		out = append(out, e)
	}
	return out
}

// ServiceEntry returns a service account's entry.
func (t *Tree) ServiceEntry(name string) *Entry {
	e := &Entry{DN: t.ServiceDN(name)}
	e.add("objectClass", "top", "applicationProcess", "simpleSecurityObject")
	e.add("cn", name)
	return e
}

// UserEntry returns a user's entry, with memberOf from the store.
func (t *Tree) UserEntry(s *cache.Store, u cache.User) *Entry {
	r := u.Rec
	e := &Entry{DN: t.UserDN(r.Username)}
	e.add("objectClass", "top", "person", "organizationalPerson", "inetOrgPerson")
	e.add("uid", r.Username)
	e.add("cn", firstNonEmpty(r.DisplayName, strings.TrimSpace(r.FirstName+" "+r.LastName), r.Username))
	e.add("sn", firstNonEmpty(r.LastName, r.Username))
	e.add("givenName", r.FirstName)
	e.add("displayName", r.DisplayName)
	e.add("mail", r.Email)
	groups := s.UserGroups(r.Username, t.TransitiveMemberOf, true)
	dns := make([]string, len(groups))
	for i, g := range groups {
		dns[i] = t.GroupDN(g)
	}
	e.add("memberOf", dns...)
	e.add("entryUUID", EntryUUID(u.Upstream, r.ExternalID, r.Key))
	e.add("createTimestamp", generalizedTime(r.Created))
	e.add("modifyTimestamp", generalizedTime(r.Updated))
	return e
}

// GroupEntry returns a group's entry: direct members (users and groups)
// and the groups it belongs to.
func (t *Tree) GroupEntry(s *cache.Store, g cache.Group) *Entry {
	r := g.Rec
	e := &Entry{DN: t.GroupDN(r.Name)}
	e.add("objectClass", "top", "groupOfNames")
	e.add("cn", r.Name)
	e.add("description", r.Description)
	users := s.GroupUsers(r.Name, false, true)
	children := s.GroupChildren(r.Name, false)
	members := make([]string, 0, len(users)+len(children))
	for _, n := range users {
		members = append(members, t.UserDN(n))
	}
	for _, n := range children {
		members = append(members, t.GroupDN(n))
	}
	e.add("member", members...)
	parents := s.GroupParents(r.Name, t.TransitiveMemberOf)
	pdns := make([]string, len(parents))
	for i, p := range parents {
		pdns[i] = t.GroupDN(p)
	}
	e.add("memberOf", pdns...)
	e.add("entryUUID", EntryUUID(g.Upstream, r.ExternalID, r.Key))
	e.add("createTimestamp", generalizedTime(r.Created))
	e.add("modifyTimestamp", generalizedTime(r.Updated))
	return e
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

func generalizedTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("20060102150405Z")
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// EntryUUID returns the entry's entryUUID: the upstream's external ID when
// it is a UUID (entryUUID, objectGUID), otherwise a name-based UUID (RFC
// 9562 version 5 layout) derived from the upstream and the ID, so that it
// is stable across syncs and restarts.
func EntryUUID(upstreamName, externalID, key string) string {
	if uuidRE.MatchString(externalID) {
		return strings.ToLower(externalID)
	}
	id := externalID
	if id == "" {
		id = key
	}
	h := sha1.Sum([]byte("dirgate:" + upstreamName + ":" + id))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// WriteLDIF writes e as an LDIF record (RFC 2849) followed by a blank
// line. Values that are not safe strings are base64-encoded.
func (e *Entry) WriteLDIF(w io.Writer) error {
	var b strings.Builder
	writeLDIFLine(&b, "dn", e.DN)
	for _, a := range e.Attrs {
		for _, v := range a.Values {
			writeLDIFLine(&b, a.Name, v)
		}
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

func writeLDIFLine(b *strings.Builder, name, value string) {
	b.WriteString(name)
	if safeLDIF(value) {
		b.WriteString(": ")
		b.WriteString(value)
	} else {
		b.WriteString(":: ")
		b.WriteString(base64.StdEncoding.EncodeToString([]byte(value)))
	}
	b.WriteByte('\n')
}

// safeLDIF implements RFC 2849's SAFE-STRING: ASCII without NUL, CR, LF,
// not starting with space, ':' or '<', and (our addition, as ldapsearch
// does) not ending with a space.
func safeLDIF(v string) bool {
	if v == "" {
		return true
	}
	switch v[0] {
	case ' ', ':', '<':
		return false
	}
	if v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == 0 || c == '\n' || c == '\r' || c >= 0x80 {
			return false
		}
	}
	return true
}

// WriteLDIF writes the whole tree: the naming context and containers,
// service accounts, users and groups, each in name order.
func (t *Tree) WriteLDIF(s *cache.Store, w io.Writer) error {
	for _, e := range t.BaseEntries() {
		if err := e.WriteLDIF(w); err != nil {
			return err
		}
	}
	for _, n := range t.ServiceAccounts {
		if err := t.ServiceEntry(n).WriteLDIF(w); err != nil {
			return err
		}
	}
	var err error
	s.Users("", func(u cache.User) bool {
		err = t.UserEntry(s, u).WriteLDIF(w)
		return err == nil
	})
	if err != nil {
		return err
	}
	s.Groups("", func(g cache.Group) bool {
		err = t.GroupEntry(s, g).WriteLDIF(w)
		return err == nil
	})
	return err
}

package ldapfront

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/ldapfront/filter"
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

	once                                        sync.Once
	normBase, normUsers, normGroups, normServ   string
	depthBase, depthUsers, depthGroups, depthSv int

	dnMu      sync.RWMutex
	dnVersion uint64
	groupDNs  map[string]string // group name → DN, for the current store version
}

// init computes the normalised container DNs.
func (t *Tree) init() {
	t.once.Do(func() {
		t.normBase, _ = filter.NormalizeDN(t.BaseDN)
		t.normUsers, _ = filter.NormalizeDN(t.UsersDN())
		t.normGroups, _ = filter.NormalizeDN(t.GroupsDN())
		t.normServ, _ = filter.NormalizeDN(t.ServicesDN())
		t.depthBase = len(splitRDNs(t.normBase))
		t.depthUsers, t.depthGroups, t.depthSv = t.depthBase+1, t.depthBase+1, t.depthBase+1
	})
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

// groupDN is GroupDN memoised per store version: memberOf repeats the same
// few thousand group DNs over and over.
func (t *Tree) groupDN(s *cache.Store, name string) string {
	v := s.Version()
	t.dnMu.RLock()
	dn, ok := t.groupDNs[name]
	fresh := t.dnVersion == v
	t.dnMu.RUnlock()
	if ok && fresh {
		return dn
	}
	dn = t.GroupDN(name)
	t.dnMu.Lock()
	if t.dnVersion != v || t.groupDNs == nil {
		t.groupDNs, t.dnVersion = make(map[string]string), v
	}
	t.groupDNs[name] = dn
	t.dnMu.Unlock()
	return dn
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

// attrDef defines one attribute of user or group entries: its name as
// served, its canonical (lower-case) name, whether it is operational
// (returned for "+" or by name, not for "*"), and how to compute it.
type attrDef[T any] struct {
	name, lower string
	operational bool
	values      func(t *Tree, s *cache.Store, x T) []string
}

var (
	userClasses  = []string{"top", "person", "organizationalPerson", "inetOrgPerson"}
	groupClasses = []string{"top", "groupOfNames"}
)

func one(v string) []string {
	if v == "" {
		return nil
	}
	return []string{v}
}

// userAttrs are the attributes of uid=<username>,ou=users,<base>.
var userAttrs = []attrDef[cache.User]{
	{"objectClass", "objectclass", false, func(*Tree, *cache.Store, cache.User) []string { return userClasses }},
	{"uid", "uid", false, func(_ *Tree, _ *cache.Store, u cache.User) []string { return one(u.Rec.Username) }},
	{"cn", "cn", false, func(_ *Tree, _ *cache.Store, u cache.User) []string {
		r := u.Rec
		return one(firstNonEmpty(r.DisplayName, strings.TrimSpace(r.FirstName+" "+r.LastName), r.Username))
	}},
	{"sn", "sn", false, func(_ *Tree, _ *cache.Store, u cache.User) []string {
		return one(firstNonEmpty(u.Rec.LastName, u.Rec.Username))
	}},
	{"givenName", "givenname", false, func(_ *Tree, _ *cache.Store, u cache.User) []string { return one(u.Rec.FirstName) }},
	{"displayName", "displayname", false, func(_ *Tree, _ *cache.Store, u cache.User) []string { return one(u.Rec.DisplayName) }},
	{"mail", "mail", false, func(_ *Tree, _ *cache.Store, u cache.User) []string { return one(u.Rec.Email) }},
	{"memberOf", "memberof", false, func(t *Tree, s *cache.Store, u cache.User) []string {
		groups := s.UserGroups(u.Rec.Username, t.TransitiveMemberOf, true)
		if len(groups) == 0 {
			return nil
		}
		dns := make([]string, len(groups))
		for i, g := range groups {
			dns[i] = t.groupDN(s, g)
		}
		return dns
	}},
	{"entryUUID", "entryuuid", true, func(_ *Tree, _ *cache.Store, u cache.User) []string {
		return one(EntryUUID(u.Upstream, u.Rec.ExternalID, u.Rec.Key))
	}},
	{"createTimestamp", "createtimestamp", true, func(_ *Tree, _ *cache.Store, u cache.User) []string { return one(generalizedTime(u.Rec.Created)) }},
	{"modifyTimestamp", "modifytimestamp", true, func(_ *Tree, _ *cache.Store, u cache.User) []string { return one(generalizedTime(u.Rec.Updated)) }},
}

// groupAttrs are the attributes of cn=<group>,ou=groups,<base>: direct
// members (users and groups) and the groups it belongs to.
var groupAttrs = []attrDef[cache.Group]{
	{"objectClass", "objectclass", false, func(*Tree, *cache.Store, cache.Group) []string { return groupClasses }},
	{"cn", "cn", false, func(_ *Tree, _ *cache.Store, g cache.Group) []string { return one(g.Rec.Name) }},
	{"description", "description", false, func(_ *Tree, _ *cache.Store, g cache.Group) []string { return one(g.Rec.Description) }},
	{"member", "member", false, func(t *Tree, s *cache.Store, g cache.Group) []string {
		users := s.GroupUsers(g.Rec.Name, false, true)
		children := s.GroupChildren(g.Rec.Name, false)
		if len(users)+len(children) == 0 {
			return nil
		}
		members := make([]string, 0, len(users)+len(children))
		for _, n := range users {
			members = append(members, t.UserDN(n))
		}
		for _, n := range children {
			members = append(members, t.groupDN(s, n))
		}
		return members
	}},
	{"memberOf", "memberof", false, func(t *Tree, s *cache.Store, g cache.Group) []string {
		parents := s.GroupParents(g.Rec.Name, t.TransitiveMemberOf)
		if len(parents) == 0 {
			return nil
		}
		dns := make([]string, len(parents))
		for i, p := range parents {
			dns[i] = t.groupDN(s, p)
		}
		return dns
	}},
	{"entryUUID", "entryuuid", true, func(_ *Tree, _ *cache.Store, g cache.Group) []string {
		return one(EntryUUID(g.Upstream, g.Rec.ExternalID, g.Rec.Key))
	}},
	{"createTimestamp", "createtimestamp", true, func(_ *Tree, _ *cache.Store, g cache.Group) []string { return one(generalizedTime(g.Rec.Created)) }},
	{"modifyTimestamp", "modifytimestamp", true, func(_ *Tree, _ *cache.Store, g cache.Group) []string { return one(generalizedTime(g.Rec.Updated)) }},
}

func entryFrom[T any](dn string, defs []attrDef[T], t *Tree, s *cache.Store, x T) *Entry {
	e := &Entry{DN: dn, Attrs: make([]Attr, 0, len(defs))}
	for _, d := range defs {
		if v := d.values(t, s, x); len(v) > 0 {
			e.Attrs = append(e.Attrs, Attr{Name: d.name, Values: v})
		}
	}
	return e
}

// UserEntry returns a user's whole entry, operational attributes included.
func (t *Tree) UserEntry(s *cache.Store, u cache.User) *Entry {
	return entryFrom(t.UserDN(u.Rec.Username), userAttrs, t, s, u)
}

// GroupEntry returns a group's whole entry, operational attributes included.
func (t *Tree) GroupEntry(s *cache.Store, g cache.Group) *Entry {
	return entryFrom(t.groupDN(s, g.Rec.Name), groupAttrs, t, s, g)
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

// isUUID reports the 8-4-4-4-12 hexadecimal form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHex(s[i]) {
				return false
			}
		}
	}
	return true
}

// EntryUUID returns the entry's entryUUID: the upstream's external ID when
// it is a UUID (entryUUID, objectGUID), otherwise a name-based UUID (RFC
// 9562 version 5 layout) derived from the upstream and the ID, so that it
// is stable across syncs and restarts.
func EntryUUID(upstreamName, externalID, key string) string {
	if isUUID(externalID) {
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

package restfront

import (
	"net/url"
	"sort"
	"strings"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/upstream"
)

// view renders the directory as one application sees it: names
// lower-cased when the application asks for it, memberships aggregated or
// not, links pointing back at the URL the request came to.
type view struct {
	s    *Server
	app  *application
	base string // absolute URL of the API root (…/rest/usermanagement/1)
}

func (v *view) out(name string) string {
	if v.app.lowercase {
		return strings.ToLower(name)
	}
	return name
}

func (v *view) link(path string, q ...string) *link {
	var b strings.Builder
	b.WriteString(v.base)
	b.WriteString(path)
	for i := 0; i+1 < len(q); i += 2 {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(q[i])
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(q[i+1]))
	}
	return &link{Href: b.String(), Rel: "self"}
}

// directoryID is the Crowd directory ID of an upstream: its position.
func directoryID(idx int) string { return itoa(idx + 1) }

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// userEntity is a user in both forms.
type userEntity struct {
	x userXML
	j userJSON
}

func (u *userEntity) xmlForm() any  { return &u.x }
func (u *userEntity) jsonForm() any { return &u.j }

func strp(s string) *string { return &s }
func boolp(b bool) *bool    { return &b }

// attributesOf turns free-form attributes into the list form, sorted.
func (v *view) attributesOf(attrs map[string][]string, path, param, name string) *attributeList {
	l := &attributeList{Link: v.link(path, param, name), Attributes: []attributeEntity{}}
	for _, k := range sortedAttrNames(attrs) {
		vals := attrs[k]
		if vals == nil {
			vals = []string{}
		}
		l.Attributes = append(l.Attributes, attributeEntity{Name: k, Values: vals,
			Link: v.link(path, param, name, "attributename", k)})
	}
	return l
}

func sortedAttrNames(attrs map[string][]string) []string {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// user renders a user. minimal gives name and link only; attrs adds the
// attributes element (filled when expand=attributes, otherwise empty with
// its link, as Crowd does on single-entity reads).
func (v *view) user(u cache.User, minimal, attrs, expandAttrs bool) *userEntity {
	r := u.Rec
	name := v.out(r.Username)
	self := v.link("/user", "username", name)
	e := &userEntity{}
	e.x = userXML{Name: name, Link: self}
	e.j = userJSON{Name: name, Link: self}
	if minimal {
		return e
	}
	e.x.Expand, e.j.Expand = "attributes", "attributes"
	first, last, display, email := strp(r.FirstName), strp(r.LastName), strp(r.DisplayName), strp(r.Email)
	if *display == "" {
		display = strp(strings.TrimSpace(r.FirstName + " " + r.LastName))
		if *display == "" {
			display = strp(r.Username)
		}
	}
	pw := &passwordLink{Link: link{Href: v.base + "/user/password?username=" + url.QueryEscape(name), Rel: "edit"}}
	key := ""
	if r.ExternalID != "" {
		key = directoryID(u.UpstreamIndex) + ":" + r.ExternalID
	}
	e.x.FirstName, e.x.LastName, e.x.DisplayName, e.x.Email = first, last, display, email
	e.j.FirstName, e.j.LastName, e.j.DisplayName, e.j.Email = first, last, display, email
	e.x.Password, e.j.Password = pw, pw
	e.x.Key, e.j.Key = key, key
	e.x.Active, e.j.Active = boolp(r.Active), boolp(r.Active)
	if !r.Created.IsZero() {
		t := r.Created
		e.x.Created, e.j.Created = (*xmlTime)(&t), (*jsonTime)(&t)
	}
	if !r.Updated.IsZero() {
		t := r.Updated
		e.x.Updated, e.j.Updated = (*xmlTime)(&t), (*jsonTime)(&t)
	}
	if attrs || expandAttrs {
		a := v.attributeListOf(r.Attributes, "/user/attribute", "username", name, expandAttrs)
		e.x.Attributes, e.j.Attributes = a, a
	}
	return e
}

// attributeListOf is an entity's attribute list: with expand, its
// attributes; otherwise only the link to them.
func (v *view) attributeListOf(attrs map[string][]string, path, param, name string, expand bool) *attributeList {
	if expand {
		return v.attributesOf(attrs, path, param, name)
	}
	return &attributeList{Link: v.link(path, param, name), Attributes: []attributeEntity{}}
}

type groupEntity struct {
	x groupXML
	j groupJSON
}

func (g *groupEntity) xmlForm() any  { return &g.x }
func (g *groupEntity) jsonForm() any { return &g.j }

// userMinimal and groupMinimal are the minimal entries for a name.
func (v *view) userMinimal(name string) *userEntity {
	return v.user(cache.User{Rec: &upstream.User{Username: name}}, true, false, false)
}

func (v *view) groupMinimal(name string) *groupEntity {
	return v.group(cache.Group{Rec: &upstream.Group{Name: name}}, true, false, false)
}

func (v *view) group(g cache.Group, minimal, attrs, expandAttrs bool) *groupEntity {
	r := g.Rec
	name := v.out(r.Name)
	self := v.link("/group", "groupname", name)
	e := &groupEntity{}
	e.x = groupXML{Name: name, Link: self}
	e.j = groupJSON{Name: name, Link: self}
	if minimal {
		return e
	}
	e.x.Expand, e.j.Expand = "attributes", "attributes"
	d := strp(r.Description)
	e.x.Description, e.j.Description = d, d
	e.x.Type, e.j.Type = "GROUP", "GROUP"
	e.x.Active, e.j.Active = boolp(r.Active), boolp(r.Active)
	if attrs || expandAttrs {
		a := v.attributeListOf(r.Attributes, "/group/attribute", "groupname", name, expandAttrs)
		e.x.Attributes, e.j.Attributes = a, a
	}
	return e
}

// userList and groupList are list entities.
type userList struct {
	x userListXML
	j userListJSON
}

func (l *userList) xmlForm() any  { return &l.x }
func (l *userList) jsonForm() any { return &l.j }

func newUserList() *userList {
	return &userList{x: userListXML{Expand: "user", Users: []userXML{}}, j: userListJSON{Expand: "user", Users: []userJSON{}}}
}

func (l *userList) add(u *userEntity) {
	l.x.Users = append(l.x.Users, u.x)
	l.j.Users = append(l.j.Users, u.j)
}

type groupList struct {
	x groupListXML
	j groupListJSON
}

func (l *groupList) xmlForm() any  { return &l.x }
func (l *groupList) jsonForm() any { return &l.j }

func newGroupList() *groupList {
	return &groupList{x: groupListXML{Expand: "group", Groups: []groupXML{}}, j: groupListJSON{Expand: "group", Groups: []groupJSON{}}}
}

func (l *groupList) add(g *groupEntity) {
	l.x.Groups = append(l.x.Groups, g.x)
	l.j.Groups = append(l.j.Groups, g.j)
}

// plain is an entity whose two forms are the same value.
type plain struct{ v any }

func (p plain) xmlForm() any  { return p.v }
func (p plain) jsonForm() any { return p.v }

// foldAll folds names for membership tests.
func foldAll(l []string) map[string]bool {
	m := make(map[string]bool, len(l))
	for _, n := range l {
		m[upstream.Fold(n)] = true
	}
	return m
}

func foldName(s string) string { return upstream.Fold(s) }

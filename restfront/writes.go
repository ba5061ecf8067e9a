package restfront

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/upstream"
)

// Writes go to the first writable upstream (the local directory), with the
// application's write permission (checked in wrap). A user or group that
// lives in another upstream cannot be changed through Crowd: that is
// APPLICATION_PERMISSION_DENIED, as in Crowd for a read-only directory.

// flexBool accepts true/false as booleans or strings ("active":"true").
type flexBool struct {
	set, v bool
}

func (b *flexBool) UnmarshalJSON(data []byte) error {
	s := strings.Trim(string(data), `"`)
	switch strings.ToLower(s) {
	case "true":
		*b = flexBool{true, true}
	case "false":
		*b = flexBool{true, false}
	case "null", "":
	default:
		return fmt.Errorf("not a boolean: %s", data)
	}
	return nil
}

func (b *flexBool) UnmarshalText(data []byte) error { return b.UnmarshalJSON(data) }

type attributeIn struct {
	Name   string   `xml:"name,attr" json:"name"`
	Values []string `xml:"values>value" json:"values"`
}

type attributesInXML struct {
	XMLName    xml.Name      `xml:"attributes"`
	Attributes []attributeIn `xml:"attribute"`
}

type attributesInJSON struct {
	Attributes []attributeIn `json:"attributes"`
}

type userInXML struct {
	XMLName     xml.Name `xml:"user"`
	Name        string   `xml:"name,attr"`
	FirstName   string   `xml:"first-name"`
	LastName    string   `xml:"last-name"`
	DisplayName string   `xml:"display-name"`
	Email       string   `xml:"email"`
	Active      flexBool `xml:"active"`
	Password    *struct {
		Value *string `xml:"value"`
	} `xml:"password"`
	Attributes *attributesInXML `xml:"attributes"`
}

type userInJSON struct {
	Name        string   `json:"name"`
	FirstName   string   `json:"first-name"`
	LastName    string   `json:"last-name"`
	DisplayName string   `json:"display-name"`
	Email       string   `json:"email"`
	Active      flexBool `json:"active"`
	Password    *struct {
		Value *string `json:"value"`
	} `json:"password"`
	Attributes *attributesInJSON `json:"attributes"`
}

// userIn is a user from a request body, whichever format.
type userIn struct {
	u        upstream.User
	active   flexBool
	password *string
}

func (q *request) decodeUser() (userIn, bool) {
	var x userInXML
	var j userInJSON
	if err := q.decode(&x, &j); err != nil {
		q.fail(http.StatusBadRequest, "ILLEGAL_ARGUMENT", err.Error())
		return userIn{}, false
	}
	in := userIn{}
	if j.Name != "" || x.Name == "" {
		in.u = upstream.User{Username: j.Name, FirstName: j.FirstName, LastName: j.LastName, DisplayName: j.DisplayName, Email: j.Email}
		in.active = j.Active
		if j.Password != nil {
			in.password = j.Password.Value
		}
		if j.Attributes != nil {
			in.u.Attributes = attrMap(j.Attributes.Attributes)
		}
	} else {
		in.u = upstream.User{Username: x.Name, FirstName: x.FirstName, LastName: x.LastName, DisplayName: x.DisplayName, Email: x.Email}
		in.active = x.Active
		if x.Password != nil {
			in.password = x.Password.Value
		}
		if x.Attributes != nil {
			in.u.Attributes = attrMap(x.Attributes.Attributes)
		}
	}
	return in, true
}

func attrMap(l []attributeIn) map[string][]string {
	if len(l) == 0 {
		return nil
	}
	m := make(map[string][]string, len(l))
	for _, a := range l {
		m[a.Name] = append([]string{}, a.Values...)
	}
	return m
}

type groupInXML struct {
	XMLName     xml.Name `xml:"group"`
	Name        string   `xml:"name,attr"`
	Description string   `xml:"description"`
	Type        string   `xml:"type"`
	Active      flexBool `xml:"active"`
}

type groupInJSON struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Type        string   `json:"type"`
	Active      flexBool `json:"active"`
}

func (q *request) decodeGroup() (upstream.Group, flexBool, bool) {
	var x groupInXML
	var j groupInJSON
	if err := q.decode(&x, &j); err != nil {
		q.fail(http.StatusBadRequest, "ILLEGAL_ARGUMENT", err.Error())
		return upstream.Group{}, flexBool{}, false
	}
	if j.Name != "" || x.Name == "" {
		return upstream.Group{Name: j.Name, Description: j.Description}, j.Active, true
	}
	return upstream.Group{Name: x.Name, Description: x.Description}, x.Active, true
}

// writer returns the writable upstream, or answers 403.
func (q *request) writer() (upstream.Writer, bool) {
	if q.s.cfg.Writer == nil {
		q.fail(http.StatusForbidden, "APPLICATION_PERMISSION_DENIED", "no writable directory: configure an upstream of type local")
		return nil, false
	}
	return q.s.cfg.Writer, true
}

// writableUser finds a user that lives in the writable upstream.
func (q *request) writableUser(name string, missing int) (cache.User, upstream.Writer, bool) {
	w, ok := q.writer()
	if !ok {
		return cache.User{}, nil, false
	}
	u, ok := q.user(name, missing)
	if !ok {
		return u, nil, false
	}
	if u.Upstream != q.s.cfg.WriterUpstream {
		q.fail(http.StatusForbidden, "APPLICATION_PERMISSION_DENIED",
			fmt.Sprintf("user <%s> comes from %s, which dirgate cannot change", u.Rec.Username, u.Upstream))
		return u, nil, false
	}
	return u, w, true
}

// writableGroup finds a group whose canonical record (the first upstream
// that has the name, the one every answer shows) is in the writable
// upstream, with that record. Updates go to the canonical directory
// (crowd-rest.md §11): a group served from a read-only upstream is 403
// APPLICATION_PERMISSION_DENIED even when the local directory has a
// shadowed copy, since changing the copy would change nothing anybody sees.
func (q *request) writableGroup(name string, missing int) (cache.Group, *upstream.Group, upstream.Writer, bool) {
	w, ok := q.writer()
	if !ok {
		return cache.Group{}, nil, nil, false
	}
	g, ok := q.group(name, missing)
	if !ok {
		return g, nil, nil, false
	}
	rec, local := q.s.store.UpstreamGroup(q.s.cfg.WriterUpstream, g.Rec.Name)
	if !local || g.Upstream != q.s.cfg.WriterUpstream {
		q.fail(http.StatusForbidden, "APPLICATION_PERMISSION_DENIED",
			fmt.Sprintf("group <%s> comes from %s, which dirgate cannot change", g.Rec.Name, g.Upstream))
		return g, nil, nil, false
	}
	return g, rec, w, true
}

// writeFailed maps a Writer error.
func (q *request) writeFailed(err error, what string) {
	switch {
	case errors.Is(err, upstream.ErrExists):
		q.fail(http.StatusBadRequest, "INVALID_"+what, err.Error())
	case errors.Is(err, upstream.ErrNotFound):
		q.fail(http.StatusNotFound, what+"_NOT_FOUND", err.Error())
	default:
		q.s.log.Error("write to the local directory failed", "err", err)
		q.fail(http.StatusBadRequest, "INVALID_"+what, err.Error())
	}
}

func (s *Server) createUser(q *request) {
	w, ok := q.writer()
	if !ok {
		return
	}
	in, ok := q.decodeUser()
	if !ok {
		return
	}
	name := in.u.Username
	if strings.TrimSpace(name) == "" || strings.TrimSpace(name) != name {
		q.fail(http.StatusBadRequest, "INVALID_USER", "the user name is empty or has leading or trailing white space")
		return
	}
	if _, exists := s.store.User(name); exists {
		q.fail(http.StatusBadRequest, "INVALID_USER", fmt.Sprintf("User <%s> already exists", name))
		return
	}
	in.u.Active = !in.active.set || in.active.v
	// Sessions left by an earlier user of that name (deleted or renamed
	// at its upstream) must not log the new one in.
	if _, err := s.store.DeleteUserSessions(name, ""); err != nil {
		q.fail(http.StatusInternalServerError, "OPERATION_FAILED", "cannot clear old sessions of that name")
		return
	}
	pw := ""
	if in.password != nil {
		pw = *in.password
	}
	if _, err := w.CreateUser(q.r.Context(), in.u, pw); err != nil {
		q.writeFailed(err, "USER")
		return
	}
	u, ok := s.store.User(name)
	if !ok {
		q.fail(http.StatusInternalServerError, "OPERATION_FAILED", "the user vanished after creation")
		return
	}
	s.log.Info("user created", "user", name, "application", q.app.name)
	q.w.Header().Set("Location", q.v.base+"/user?username="+url.QueryEscape(q.v.out(name)))
	q.reply(http.StatusCreated, q.v.user(u, false, true, true))
}

func (s *Server) updateUser(q *request) {
	name, ok := q.required("username")
	if !ok {
		return
	}
	in, ok := q.decodeUser()
	if !ok {
		return
	}
	if in.u.Username != "" && !strings.EqualFold(in.u.Username, name) {
		q.fail(http.StatusBadRequest, "INVALID_USER", fmt.Sprintf("the user name in the body <%s> differs from <%s>", in.u.Username, name))
		return
	}
	u, w, ok := q.writableUser(name, http.StatusNotFound)
	if !ok {
		return
	}
	n := *u.Rec
	n.FirstName, n.LastName, n.DisplayName, n.Email = in.u.FirstName, in.u.LastName, in.u.DisplayName, in.u.Email
	if in.active.set {
		n.Active = in.active.v
	}
	if _, err := w.UpdateUser(q.r.Context(), u.Rec.Username, n); err != nil {
		q.writeFailed(err, "USER")
		return
	}
	q.empty(http.StatusNoContent)
}

func (s *Server) deleteUser(q *request) {
	name, ok := q.required("username")
	if !ok {
		return
	}
	u, w, ok := q.writableUser(name, http.StatusNotFound)
	if !ok {
		return
	}
	if err := w.DeleteUser(q.r.Context(), u.Rec.Username); err != nil {
		q.writeFailed(err, "USER")
		return
	}
	_, _ = s.store.DeleteUserSessions(u.Rec.Username, "")
	s.log.Info("user deleted", "user", u.Rec.Username, "application", q.app.name)
	q.empty(http.StatusNoContent)
}

type renameXML struct {
	XMLName xml.Name `xml:"rename"`
	NewName string   `xml:"new-name"`
}

type renameJSON struct {
	NewName string `json:"new-name"`
}

func (s *Server) renameUser(q *request) {
	name, ok := q.required("username")
	if !ok {
		return
	}
	var x renameXML
	var j renameJSON
	if err := q.decode(&x, &j); err != nil {
		q.fail(http.StatusBadRequest, "ILLEGAL_ARGUMENT", err.Error())
		return
	}
	newName := x.NewName + j.NewName
	if strings.TrimSpace(newName) == "" {
		q.fail(http.StatusBadRequest, "INVALID_USER", "the new name is empty")
		return
	}
	u, w, ok := q.writableUser(name, http.StatusNotFound)
	if !ok {
		return
	}
	if other, exists := s.store.User(newName); exists && other.Rec.Key != u.Rec.Key {
		q.fail(http.StatusBadRequest, "INVALID_USER", fmt.Sprintf("User <%s> already exists", newName))
		return
	}
	if _, err := w.RenameUser(q.r.Context(), u.Rec.Username, newName); err != nil {
		q.writeFailed(err, "USER")
		return
	}
	// Sessions name their user: left alone, they would log in whoever
	// takes the old name next. The renamed user logs in again.
	if !strings.EqualFold(u.Rec.Username, newName) {
		if _, err := s.store.DeleteUserSessions(u.Rec.Username, ""); err != nil {
			s.log.Warn("ending the sessions of a renamed user", "user", u.Rec.Username, "err", err)
		}
	}
	nu, _ := s.store.User(newName)
	q.reply(http.StatusOK, q.v.user(nu, false, true, false))
}

func (s *Server) setPassword(q *request) {
	name, ok := q.required("username")
	if !ok {
		return
	}
	var body passwordBody
	if err := q.decode(&body, &body); err != nil {
		q.fail(http.StatusBadRequest, "ILLEGAL_ARGUMENT", err.Error())
		return
	}
	if body.Value == nil || *body.Value == "" {
		q.fail(http.StatusBadRequest, "INVALID_CREDENTIAL", "the new password is empty")
		return
	}
	u, w, ok := q.writableUser(name, http.StatusNotFound)
	if !ok {
		return
	}
	if err := w.SetPassword(q.r.Context(), u.Rec.Username, *body.Value); err != nil {
		q.fail(http.StatusBadRequest, "INVALID_CREDENTIAL", err.Error())
		return
	}
	s.log.Info("password changed", "user", u.Rec.Username, "application", q.app.name)
	q.empty(http.StatusNoContent)
}

// clearPassword removes a user's password: the account cannot log in
// until it gets a new one.
func (s *Server) clearPassword(q *request) {
	name, ok := q.required("username")
	if !ok {
		return
	}
	u, w, ok := q.writableUser(name, http.StatusNotFound)
	if !ok {
		return
	}
	if err := w.SetPassword(q.r.Context(), u.Rec.Username, ""); err != nil {
		q.writeFailed(err, "USER")
		return
	}
	q.empty(http.StatusNoContent)
}

func (s *Server) noMail(q *request) {
	q.fail(http.StatusBadRequest, "UNSUPPORTED_OPERATION", "dirgate does not send mail")
}

func (s *Server) expirePasswords(q *request) {
	q.fail(http.StatusBadRequest, "UNSUPPORTED_OPERATION", "dirgate does not expire passwords")
}

func (q *request) decodeAttributes() (map[string][]string, bool) {
	var x attributesInXML
	var j attributesInJSON
	if err := q.decode(&x, &j); err != nil {
		q.fail(http.StatusBadRequest, "ILLEGAL_ARGUMENT", err.Error())
		return nil, false
	}
	l := append(x.Attributes, j.Attributes...)
	for _, a := range l {
		if strings.TrimSpace(a.Name) == "" {
			q.fail(http.StatusBadRequest, "ILLEGAL_ARGUMENT", "an attribute without a name")
			return nil, false
		}
	}
	return attrMap(l), true
}

func mergeAttrs(old, set map[string][]string, del string) map[string][]string {
	m := make(map[string][]string, len(old)+len(set))
	for k, v := range old {
		if k != del {
			m[k] = v
		}
	}
	for k, v := range set {
		m[k] = v
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

func (s *Server) setUserAttributes(q *request) {
	s.changeUserAttributes(q, true)
}

func (s *Server) deleteUserAttribute(q *request) {
	s.changeUserAttributes(q, false)
}

func (s *Server) changeUserAttributes(q *request, set bool) {
	name, ok := q.required("username")
	if !ok {
		return
	}
	var attrs map[string][]string
	del := ""
	if set {
		if attrs, ok = q.decodeAttributes(); !ok {
			return
		}
	} else if del, ok = q.required("attributename"); !ok {
		return
	}
	u, w, ok := q.writableUser(name, http.StatusNotFound)
	if !ok {
		return
	}
	n := *u.Rec
	n.Attributes = mergeAttrs(u.Rec.Attributes, attrs, del)
	if _, err := w.UpdateUser(q.r.Context(), u.Rec.Username, n); err != nil {
		q.writeFailed(err, "USER")
		return
	}
	q.empty(http.StatusNoContent)
}

func (s *Server) createGroup(q *request) {
	w, ok := q.writer()
	if !ok {
		return
	}
	g, active, ok := q.decodeGroup()
	if !ok {
		return
	}
	if strings.TrimSpace(g.Name) == "" || strings.TrimSpace(g.Name) != g.Name {
		q.fail(http.StatusBadRequest, "INVALID_GROUP", "the group name is empty or has leading or trailing white space")
		return
	}
	if _, exists := s.store.Group(g.Name); exists {
		q.fail(http.StatusBadRequest, "INVALID_GROUP", fmt.Sprintf("Group <%s> already exists", g.Name))
		return
	}
	g.Active = !active.set || active.v
	if _, err := w.CreateGroup(q.r.Context(), g); err != nil {
		q.writeFailed(err, "GROUP")
		return
	}
	ng, _ := s.store.Group(g.Name)
	s.log.Info("group created", "group", g.Name, "application", q.app.name)
	q.w.Header().Set("Location", q.v.base+"/group?groupname="+url.QueryEscape(q.v.out(g.Name)))
	q.reply(http.StatusCreated, q.v.group(ng, false, true, false))
}

func (s *Server) updateGroup(q *request) {
	name, ok := q.required("groupname")
	if !ok {
		return
	}
	in, active, ok := q.decodeGroup()
	if !ok {
		return
	}
	if in.Name != "" && !strings.EqualFold(in.Name, name) {
		q.fail(http.StatusBadRequest, "INVALID_GROUP", fmt.Sprintf("the group name in the body <%s> differs from <%s>", in.Name, name))
		return
	}
	g, rec, w, ok := q.writableGroup(name, http.StatusNotFound)
	if !ok {
		return
	}
	n := *rec
	n.Description = in.Description
	if active.set {
		n.Active = active.v
	}
	if _, err := w.UpdateGroup(q.r.Context(), rec.Name, n); err != nil {
		q.writeFailed(err, "GROUP")
		return
	}
	ng, _ := s.store.Group(g.Rec.Name)
	q.reply(http.StatusOK, q.v.group(ng, false, true, false))
}

func (s *Server) deleteGroup(q *request) {
	name, ok := q.required("groupname")
	if !ok {
		return
	}
	g, rec, w, ok := q.writableGroup(name, http.StatusNotFound)
	if !ok {
		return
	}
	if err := w.DeleteGroup(q.r.Context(), rec.Name); err != nil {
		q.writeFailed(err, "GROUP")
		return
	}
	s.log.Info("group deleted", "group", g.Rec.Name, "application", q.app.name)
	q.empty(http.StatusNoContent)
}

func (s *Server) setGroupAttributes(q *request)   { s.changeGroupAttributes(q, true) }
func (s *Server) deleteGroupAttribute(q *request) { s.changeGroupAttributes(q, false) }

func (s *Server) changeGroupAttributes(q *request, set bool) {
	name, ok := q.required("groupname")
	if !ok {
		return
	}
	var attrs map[string][]string
	del := ""
	if set {
		if attrs, ok = q.decodeAttributes(); !ok {
			return
		}
	} else if del, ok = q.required("attributename"); !ok {
		return
	}
	_, rec, w, ok := q.writableGroup(name, http.StatusNotFound)
	if !ok {
		return
	}
	n := *rec
	n.Attributes = mergeAttrs(rec.Attributes, attrs, del)
	if _, err := w.UpdateGroup(q.r.Context(), rec.Name, n); err != nil {
		q.writeFailed(err, "GROUP")
		return
	}
	q.empty(http.StatusNoContent)
}

// nameBody reads the entity named in a membership request's body: a
// <group name=…/> or <user name=…/> (or {"name": …}).
func (q *request) nameBody(isGroup bool) (string, bool) {
	var err error
	var name string
	if isGroup {
		var g groupInXML
		var j groupInJSON
		err = q.decode(&g, &j)
		name = g.Name + j.Name
	} else {
		var u userInXML
		var j userInJSON
		err = q.decode(&u, &j)
		name = u.Name + j.Name
	}
	if err != nil {
		q.fail(http.StatusBadRequest, "ILLEGAL_ARGUMENT", err.Error())
		return "", false
	}
	if name == "" {
		q.fail(http.StatusBadRequest, "ILLEGAL_ARGUMENT", "the body names no entity")
		return "", false
	}
	return name, true
}

// memberPlace is one upstream's side of a membership: whether it has the
// group and the member (users and child groups live in the same upstream as
// the groups that list them), and whether the group lists the member.
type memberPlace struct {
	up        string
	group     *upstream.Group
	hasMember bool
	direct    bool
}

// memberPlaces returns, for the upstreams a membership change concerns,
// what each holds. An aggregating application sees memberships from every
// upstream that has the member's name; a non-aggregating one only those of
// the member's canonical upstream (crowd-rest.md §11), which is where Crowd
// writes them too.
func (q *request) memberPlaces(group, member, canonical string, isGroup bool) []memberPlace {
	st := q.s.store
	var out []memberPlace
	for _, up := range st.Upstreams() {
		if !q.app.aggregate && up != canonical {
			continue
		}
		p := memberPlace{up: up}
		p.group, _ = st.UpstreamGroup(up, group)
		var key string
		if isGroup {
			if c, ok := st.UpstreamGroup(up, member); ok {
				key = c.Key
			}
		} else if u, ok := st.UpstreamUser(up, member); ok {
			key = u.Key
		}
		p.hasMember = key != ""
		p.direct = p.group != nil && p.hasMember && slices.Contains(p.group.Members, key)
		out = append(out, p)
	}
	return out
}

// addMember adds user (or child group) member to group, as Crowd does
// (ApplicationServiceGeneric.addUserToGroup/addGroupToGroup): no group in
// itself or in its own descendants (400 INVALID_MEMBERSHIP); an existing
// direct membership is 409; the membership is written in the writable
// upstream when it has both the group and the member (for a
// non-aggregating application, only when that is the member's canonical
// upstream), and is 403 APPLICATION_PERMISSION_DENIED otherwise. Crowd
// would create a copy of a group the writable directory lacks; dirgate does
// not create groups behind the client's back. groupMissing and
// memberMissing are the statuses to answer when either does not exist
// (they depend on which one was in the body).
func (q *request) addMember(group, member string, isGroup bool, groupMissing, memberMissing int, location string) {
	w, ok := q.writer()
	if !ok {
		return
	}
	g, ok := q.group(group, groupMissing)
	if !ok {
		return
	}
	s := q.s
	var memberName, canonical string
	if isGroup {
		c, found := q.group(member, memberMissing)
		if !found {
			return
		}
		if strings.EqualFold(c.Rec.Name, g.Rec.Name) {
			q.fail(http.StatusBadRequest, "INVALID_MEMBERSHIP", "a group cannot be a member of itself")
			return
		}
		if containsFold(s.store.GroupChildren(c.Rec.Name, true), g.Rec.Name) {
			q.fail(http.StatusBadRequest, "INVALID_MEMBERSHIP",
				fmt.Sprintf("cannot add <%s> to <%s>: <%s> is nested in <%s>, which would make a cycle", c.Rec.Name, g.Rec.Name, g.Rec.Name, c.Rec.Name))
			return
		}
		memberName, canonical = c.Rec.Name, c.Upstream
	} else {
		u, found := q.user(member, memberMissing)
		if !found {
			return
		}
		memberName, canonical = u.Rec.Username, u.Upstream
	}
	places := q.memberPlaces(g.Rec.Name, memberName, canonical, isGroup)
	for _, p := range places {
		if p.direct {
			q.fail(http.StatusConflict, "MEMBERSHIP_ALREADY_EXISTS", fmt.Sprintf("<%s> is already a member of <%s>", memberName, g.Rec.Name))
			return
		}
	}
	var target *memberPlace
	for i, p := range places {
		if p.up == s.cfg.WriterUpstream && p.group != nil && p.hasMember {
			target = &places[i]
		}
	}
	if target == nil {
		q.fail(http.StatusForbidden, "APPLICATION_PERMISSION_DENIED",
			fmt.Sprintf("<%s> and <%s> are not both in %s, the directory dirgate can change", memberName, g.Rec.Name, s.cfg.WriterUpstream))
		return
	}
	if err := w.AddMember(q.r.Context(), target.group.Name, memberName, isGroup); err != nil {
		q.writeFailed(err, "GROUP")
		return
	}
	q.w.Header().Set("Location", q.v.base+location)
	q.empty(http.StatusCreated)
}

// removeMember removes a direct membership from every upstream that has
// it (Crowd's aggregating removal; non-aggregating: the member's canonical
// upstream only). When a read-only upstream has it, nothing is changed and
// the answer is 403, as in Crowd.
func (q *request) removeMember(group, member string, isGroup bool) {
	w, ok := q.writer()
	if !ok {
		return
	}
	var memberName, canonical string
	if isGroup {
		c, found := q.group(member, http.StatusNotFound)
		if !found {
			return
		}
		memberName, canonical = c.Rec.Name, c.Upstream
	} else {
		u, found := q.user(member, http.StatusNotFound)
		if !found {
			return
		}
		memberName, canonical = u.Rec.Username, u.Upstream
	}
	g, ok := q.group(group, http.StatusNotFound)
	if !ok {
		return
	}
	var in []memberPlace
	for _, p := range q.memberPlaces(g.Rec.Name, memberName, canonical, isGroup) {
		if p.direct {
			in = append(in, p)
		}
	}
	if len(in) == 0 {
		q.fail(http.StatusNotFound, "MEMBERSHIP_NOT_FOUND", fmt.Sprintf("<%s> is not a direct member of <%s>", memberName, g.Rec.Name))
		return
	}
	for _, p := range in {
		if p.up != q.s.cfg.WriterUpstream {
			q.fail(http.StatusForbidden, "APPLICATION_PERMISSION_DENIED",
				fmt.Sprintf("<%s> is a member of <%s> in %s, which dirgate cannot change", memberName, g.Rec.Name, p.up))
			return
		}
	}
	if err := w.RemoveMember(q.r.Context(), in[0].group.Name, memberName, isGroup); err != nil {
		if errors.Is(err, upstream.ErrNotFound) {
			q.fail(http.StatusNotFound, "MEMBERSHIP_NOT_FOUND", err.Error())
			return
		}
		q.writeFailed(err, "GROUP")
		return
	}
	q.empty(http.StatusNoContent)
}

func (s *Server) addUserToGroup(q *request) {
	user, ok := q.required("username")
	if !ok {
		return
	}
	group, ok := q.nameBody(true)
	if !ok {
		return
	}
	// The group is the body entity here: missing is 400.
	q.addMember(group, user, false, http.StatusBadRequest, http.StatusNotFound,
		"/user/group/direct?username="+url.QueryEscape(user)+"&groupname="+url.QueryEscape(group))
}

func (s *Server) removeUserFromGroup(q *request) {
	user, ok := q.required("username")
	if !ok {
		return
	}
	group, ok := q.required("groupname")
	if !ok {
		return
	}
	q.removeMember(group, user, false)
}

func (s *Server) addGroupUser(q *request) {
	group, ok := q.required("groupname")
	if !ok {
		return
	}
	user, ok := q.nameBody(false)
	if !ok {
		return
	}
	q.addMember(group, user, false, http.StatusNotFound, http.StatusBadRequest,
		"/group/user/direct?groupname="+url.QueryEscape(group)+"&username="+url.QueryEscape(user))
}

func (s *Server) removeGroupUser(q *request) {
	group, ok := q.required("groupname")
	if !ok {
		return
	}
	user, ok := q.required("username")
	if !ok {
		return
	}
	q.removeMember(group, user, false)
}

func (s *Server) addChildGroup(q *request) {
	parent, ok := q.required("groupname")
	if !ok {
		return
	}
	child, ok := q.nameBody(true)
	if !ok {
		return
	}
	q.addMember(parent, child, true, http.StatusNotFound, http.StatusBadRequest,
		"/group/child-group/direct?groupname="+url.QueryEscape(parent)+"&child-groupname="+url.QueryEscape(child))
}

func (s *Server) removeChildGroup(q *request) {
	parent, ok := q.required("groupname")
	if !ok {
		return
	}
	child, ok := q.required("child-groupname")
	if !ok {
		return
	}
	q.removeMember(parent, child, true)
}

func (s *Server) addParentGroup(q *request) {
	child, ok := q.required("groupname")
	if !ok {
		return
	}
	parent, ok := q.nameBody(true)
	if !ok {
		return
	}
	// The child is in the query (missing: 404), the parent in the body (400).
	if _, ok := q.group(child, http.StatusNotFound); !ok {
		return
	}
	q.addMember(parent, child, true, http.StatusBadRequest, http.StatusNotFound,
		"/group/parent-group/direct?groupname="+url.QueryEscape(child)+"&parent-groupname="+url.QueryEscape(parent))
}

func containsFold(l []string, s string) bool {
	for _, x := range l {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

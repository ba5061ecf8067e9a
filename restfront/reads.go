package restfront

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/dirgate/dirgate/cache"
)

// required returns a query parameter or answers 400 ILLEGAL_ARGUMENT.
func (q *request) required(name string) (string, bool) {
	v := q.param(name)
	if v == "" {
		q.fail(http.StatusBadRequest, "ILLEGAL_ARGUMENT", fmt.Sprintf("the %s parameter is required", name))
		return "", false
	}
	return v, true
}

// user finds a user by name, answering 404 USER_NOT_FOUND (or status).
func (q *request) user(name string, status int) (cache.User, bool) {
	u, ok := q.s.store.User(name)
	if !ok {
		q.noUser(status, name)
	}
	return u, ok
}

func (q *request) noUser(status int, name string) {
	q.fail(status, "USER_NOT_FOUND", fmt.Sprintf("User <%s> does not exist", name))
}

func (q *request) group(name string, status int) (cache.Group, bool) {
	g, ok := q.s.store.Group(name)
	if !ok {
		q.fail(status, "GROUP_NOT_FOUND", fmt.Sprintf("Group <%s> does not exist", name))
	}
	return g, ok
}

// userByKey finds a user by Crowd key "<directoryId>:<externalId>".
func (q *request) userByKey(key string) (cache.User, bool) {
	dir, ext, ok := strings.Cut(key, ":")
	ups := q.s.store.Upstreams()
	idx := 0
	for _, c := range dir {
		if c < '0' || c > '9' || idx > len(ups) {
			ok = false
			break
		}
		idx = idx*10 + int(c-'0')
	}
	if ok && idx >= 1 && idx <= len(ups) {
		if rec, found := q.s.store.UpstreamUserByExternalID(ups[idx-1], ext); found {
			// Only the canonical user with that name counts.
			if u, found := q.s.store.User(rec.Username); found && u.UpstreamIndex == idx-1 && u.Rec.Key == rec.Key {
				return u, true
			}
		}
	}
	q.fail(http.StatusNotFound, "USER_NOT_FOUND", fmt.Sprintf("User with key <%s> does not exist", key))
	return cache.User{}, false
}

func (s *Server) getUser(q *request) {
	var u cache.User
	var ok bool
	if key := q.param("key"); key != "" && q.param("username") == "" {
		u, ok = q.userByKey(key)
	} else {
		name, okName := q.required("username")
		if !okName {
			return
		}
		u, ok = q.user(name, http.StatusNotFound)
	}
	if !ok {
		return
	}
	q.reply(http.StatusOK, q.v.user(u, false, true, q.expand("attributes")))
}

func (s *Server) getUserAttributes(q *request) {
	name, ok := q.required("username")
	if !ok {
		return
	}
	u, ok := q.user(name, http.StatusNotFound)
	if !ok {
		return
	}
	q.reply(http.StatusOK, attributesDoc{q.v.attributesOf(u.Rec.Attributes, "/user/attribute", "username", q.v.out(u.Rec.Username))})
}

func (s *Server) getGroup(q *request) {
	name, ok := q.required("groupname")
	if !ok {
		return
	}
	g, ok := q.group(name, http.StatusNotFound)
	if !ok {
		return
	}
	q.reply(http.StatusOK, q.v.group(g, false, true, q.expand("attributes")))
}

func (s *Server) getGroupAttributes(q *request) {
	name, ok := q.required("groupname")
	if !ok {
		return
	}
	g, ok := q.group(name, http.StatusNotFound)
	if !ok {
		return
	}
	q.reply(http.StatusOK, attributesDoc{q.v.attributesOf(g.Rec.Attributes, "/group/attribute", "groupname", q.v.out(g.Rec.Name))})
}

// groupNames and userNames render a list of names: paged, minimal or
// expanded.
func (q *request) groupNames(names []string) { q.nameList(names, false) }
func (q *request) userNames(names []string)  { q.nameList(names, true) }

func (q *request) nameList(names []string, users bool) {
	start, max, err := q.page()
	if err != nil {
		q.fail(http.StatusBadRequest, "ILLEGAL_ARGUMENT", err.Error())
		return
	}
	entity := "group"
	if users {
		entity = "user"
	}
	full, attrs := q.expand(entity), q.expand("attributes")
	lw := q.beginList(users)
	for i := start; i < len(names) && i-start < max; i++ {
		switch {
		case !full:
			lw.minimal(names[i])
		case users:
			if u, ok := q.s.store.User(names[i]); ok {
				lw.user(q.v.user(u, false, false, attrs))
			}
		default:
			if g, ok := q.s.store.Group(names[i]); ok {
				lw.group(q.v.group(g, false, false, attrs))
			}
		}
	}
	lw.end()
}

// oneOf answers a single-member query (…&groupname=G): the member itself,
// or 404 MEMBERSHIP_NOT_FOUND (Jira's isUserDirectGroupMember: 2xx is
// true, 404 false).
func (q *request) oneOf(names []string, want string, isGroup bool) {
	for _, n := range names {
		if strings.EqualFold(n, want) {
			if isGroup {
				if g, ok := q.s.store.Group(n); ok {
					q.reply(http.StatusOK, q.v.group(g, false, false, q.expand("attributes")))
					return
				}
			} else if u, ok := q.s.store.User(n); ok {
				q.reply(http.StatusOK, q.v.user(u, false, false, q.expand("attributes")))
				return
			}
		}
	}
	q.fail(http.StatusNotFound, "MEMBERSHIP_NOT_FOUND", fmt.Sprintf("<%s> is not a member", want))
}

// related answers the membership reads: the entity named by the required
// parameter subject (username or groupname), then the names list gives
// for it, paged — or, when one of the single parameters names a member,
// that member alone or 404 MEMBERSHIP_NOT_FOUND.
func (s *Server) related(subject string, list func(q *request, name string) []string, groups bool, single ...string) handlerFunc {
	return func(q *request) {
		name, ok := q.required(subject)
		if !ok {
			return
		}
		if subject == "username" {
			// Only the name is needed: Username builds no record.
			u, found := q.s.store.Username(name)
			if !found {
				q.noUser(http.StatusNotFound, name)
				return
			}
			name = u
		} else {
			g, found := q.group(name, http.StatusNotFound)
			if !found {
				return
			}
			name = g.Rec.Name
		}
		names := list(q, name)
		for _, p := range single {
			if v := q.param(p); v != "" {
				q.oneOf(names, v, groups)
				return
			}
		}
		if groups {
			q.groupNames(names)
		} else {
			q.userNames(names)
		}
	}
}

func (s *Server) userGroups(nested bool) handlerFunc {
	return s.related("username", func(q *request, name string) []string {
		return s.store.UserGroups(name, nested, q.app.aggregate)
	}, true, "groupname")
}

func (s *Server) groupUsers(nested bool) handlerFunc {
	return s.related("groupname", func(q *request, name string) []string {
		return s.store.GroupUsers(name, nested, q.app.aggregate)
	}, false, "username")
}

func (s *Server) childGroups(nested bool) handlerFunc {
	return s.related("groupname", func(_ *request, name string) []string {
		return s.store.GroupChildren(name, nested)
	}, true, "child-groupname")
}

// parentGroups: Crowd 2.x reads child-groupname here (a copy and paste
// slip); clients send parent-groupname. Both are accepted.
func (s *Server) parentGroups(nested bool) handlerFunc {
	return s.related("groupname", func(_ *request, name string) []string {
		return s.store.GroupParents(name, nested)
	}, true, "parent-groupname", "child-groupname")
}

func (s *Server) cookieConfig(q *request) {
	c := s.cfg.Cookie
	q.reply(http.StatusOK, plain{&cookieConfig{Domain: c.Domain, Secure: c.Secure, Name: c.Name}})
}

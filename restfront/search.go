package restfront

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/restfront/restriction"
)

// userProps and groupProps expose entities to restriction.Match.
type userProps struct{ u cache.User }

func (p userProps) Property(name string) (restriction.Value, bool) {
	r := p.u.Rec
	switch name {
	case restriction.KeyName:
		return restriction.StringValue(r.Username), true
	case restriction.KeyEmail:
		return restriction.StringValue(r.Email), true
	case restriction.KeyFirstName:
		return restriction.StringValue(r.FirstName), true
	case restriction.KeyLastName:
		return restriction.StringValue(r.LastName), true
	case restriction.KeyDisplayName:
		return restriction.StringValue(r.DisplayName), true
	case restriction.KeyActive:
		return restriction.BoolValue(r.Active), true
	case restriction.KeyExternalID:
		return restriction.StringValue(r.ExternalID), true
	case restriction.KeyCreatedDate:
		return restriction.TimeValue(r.Created), true
	case restriction.KeyUpdatedDate:
		return restriction.TimeValue(r.Updated), true
	}
	if v, ok := r.Attributes[name]; ok {
		return restriction.StringsValue(v), true
	}
	return restriction.Value{}, false
}

type groupProps struct {
	g     cache.Group
	local bool
}

func (p groupProps) Property(name string) (restriction.Value, bool) {
	r := p.g.Rec
	switch name {
	case restriction.KeyName:
		return restriction.StringValue(r.Name), true
	case restriction.KeyDescription:
		return restriction.StringValue(r.Description), true
	case restriction.KeyActive:
		return restriction.BoolValue(r.Active), true
	case restriction.KeyLocal:
		return restriction.BoolValue(p.local), true
	case restriction.KeyExternalID:
		return restriction.StringValue(r.ExternalID), true
	case restriction.KeyCreatedDate:
		return restriction.TimeValue(r.Created), true
	case restriction.KeyUpdatedDate:
		return restriction.TimeValue(r.Updated), true
	}
	if v, ok := r.Attributes[name]; ok {
		return restriction.StringsValue(v), true
	}
	return restriction.Value{}, false
}

// searchCQL is GET /search?entity-type=…&restriction=<CQL>.
func (s *Server) searchCQL(q *request) {
	r, err := restriction.ParseCQL(q.param("restriction"))
	if err != nil {
		q.invalidRestriction(err)
		return
	}
	s.search(q, r)
}

// searchPost is POST /search with a restriction body (XML or JSON).
func (s *Server) searchPost(q *request) {
	body, err := io.ReadAll(io.LimitReader(q.r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		q.fail(http.StatusBadRequest, "ILLEGAL_ARGUMENT", "the request body is unreadable or too large")
		return
	}
	var r restriction.Restriction
	mt, _, _ := mime.ParseMediaType(q.r.Header.Get("Content-Type"))
	if mt == "application/json" || strings.HasSuffix(mt, "+json") {
		r, err = restriction.ParseJSON(bytes.NewReader(body))
	} else {
		r, err = restriction.ParseXML(bytes.NewReader(body))
	}
	if err != nil {
		q.invalidRestriction(err)
		return
	}
	s.search(q, r)
}

// invalidRestriction answers a restriction the parsers refused: 400
// ILLEGAL_ARGUMENT "Search restriction is invalid: <what and where>".
func (q *request) invalidRestriction(err error) {
	var re *restriction.Error
	if errors.As(err, &re) {
		q.fail(http.StatusBadRequest, "ILLEGAL_ARGUMENT", "Search restriction is invalid: "+re.Detail())
		return
	}
	q.fail(http.StatusBadRequest, "ILLEGAL_ARGUMENT", "Search restriction is invalid: the body cannot be read")
}

func (s *Server) search(q *request, r restriction.Restriction) {
	kind := strings.ToLower(q.param("entity-type"))
	if kind != "user" && kind != "group" {
		q.fail(http.StatusBadRequest, "ILLEGAL_ARGUMENT", `entity-type must be "user" or "group"`)
		return
	}
	start, max, err := q.page()
	if err != nil {
		q.fail(http.StatusBadRequest, "ILLEGAL_ARGUMENT", err.Error())
		return
	}
	attrs := q.expand("attributes")
	lw := q.beginList(kind == "user")
	defer lw.end()
	seen, sent := 0, 0
	// take decides on one candidate; false stops the walk.
	take := func(match bool, emit func()) bool {
		if !match {
			return true
		}
		seen++
		if seen <= start {
			return true
		}
		if sent == max {
			return false
		}
		emit()
		sent++
		return q.r.Context().Err() == nil
	}
	if kind == "user" {
		full := q.expand("user")
		emit := func(u cache.User) func() {
			if !full {
				return func() { lw.minimal(u.Rec.Username) }
			}
			return func() { lw.user(q.v.user(u, false, false, attrs)) }
		}
		for _, u := range s.userCandidates(r) {
			if !take(restriction.Match(r, userProps{u}), emit(u)) {
				return
			}
		}
		if _, indexed := s.userIndex(r); indexed {
			return
		}
		s.store.Users("", func(u cache.User) bool { return take(restriction.Match(r, userProps{u}), emit(u)) })
		return
	}
	full := q.expand("group")
	emit := func(g cache.Group) func() {
		if !full {
			return func() { lw.minimal(g.Rec.Name) }
		}
		return func() { lw.group(q.v.group(g, false, false, attrs)) }
	}
	if name, ok := restriction.Exact(r, restriction.KeyName); ok {
		if g, found := s.store.Group(name); found {
			take(restriction.Match(r, groupProps{g, s.isLocal(g)}), emit(g))
		}
		return
	}
	s.store.Groups("", func(g cache.Group) bool { return take(restriction.Match(r, groupProps{g, s.isLocal(g)}), emit(g)) })
}

// userIndex reports whether the restriction can be answered from an index
// (name or email EXACTLY_MATCHES), and which.
func (s *Server) userIndex(r restriction.Restriction) (string, bool) {
	if _, ok := restriction.Exact(r, restriction.KeyName); ok {
		return restriction.KeyName, true
	}
	if _, ok := restriction.Exact(r, restriction.KeyEmail); ok {
		return restriction.KeyEmail, true
	}
	return "", false
}

// userCandidates returns, in name order, the users an indexed restriction
// can match; nothing when it is not indexed (the caller walks everybody).
func (s *Server) userCandidates(r restriction.Restriction) []cache.User {
	if name, ok := restriction.Exact(r, restriction.KeyName); ok {
		if u, found := s.store.User(name); found {
			return []cache.User{u}
		}
		return nil
	}
	if email, ok := restriction.Exact(r, restriction.KeyEmail); ok {
		return s.store.UsersByEmail(email)
	}
	return nil
}

func (s *Server) isLocal(g cache.Group) bool {
	for _, u := range g.Upstreams {
		if u == s.cfg.WriterUpstream && u != "" {
			return true
		}
	}
	return false
}

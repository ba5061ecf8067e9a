package accessfake

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"time"
)

// Event is one audit event of the organization (cloud-apis.md §3.6).
type Event struct {
	ID          string
	Time        time.Time // when the action happened
	ProcessedAt time.Time // when the log ingested it; the stream's order
	Action      string
	ActorID     string
	ActorName   string
	Context     []Ref
	Message     string
}

// Ref is one entry of an event's context: Type "users" (ID an account
// ID), "groups" (a group ID), or anything else.
type Ref struct {
	ID    string
	Type  string
	Name  string
	Email string
}

type evQuery struct {
	pos   int // asc: index of the next event; desc: one past it
	desc  bool
	from  time.Time
	to    time.Time
	limit int
}

// AppendEvent adds an event to the log as processed now (ProcessedAt is
// set to the clock when zero, and never before the previous event's, so
// the log stays in processing order). Time defaults to ProcessedAt: set it
// earlier to model a late-processed event. ID and the actor are filled in
// when empty.
func (s *Server) AppendEvent(e Event) Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appendEventLocked(e, s.clock.Now(), true)
}

func (s *Server) appendEventLocked(e Event, now time.Time, force bool) Event {
	if s.noEvents && !force {
		return e
	}
	if e.ProcessedAt.IsZero() {
		e.ProcessedAt = now
	}
	if n := len(s.events); n > 0 && e.ProcessedAt.Before(s.events[n-1].ProcessedAt) {
		e.ProcessedAt = s.events[n-1].ProcessedAt
	}
	if e.Time.IsZero() {
		e.Time = e.ProcessedAt
	}
	if e.ID == "" {
		e.ID = fmt.Sprintf("e-%s-%06d", e.ProcessedAt.UTC().Format("20060102"), len(s.events)+1)
	}
	if e.ActorID == "" {
		e.ActorID, e.ActorName = fakeActorID, fakeName
	}
	e.Context = slices.Clone(e.Context)
	s.events = append(s.events, e)
	return e
}

// Events returns the whole log, oldest processed first.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// epochMS reads an epoch-milliseconds parameter.
func epochMS(v string) (time.Time, error) {
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms < 0 {
		return time.Time{}, fmt.Errorf("not epoch milliseconds: %q", v)
	}
	return time.UnixMilli(ms).UTC(), nil
}

// serveEvents is GET /admin/v1/orgs/{orgId}/events-stream: cursor, from,
// to (epoch ms, against processedAt), limit (default 200, max 500, larger
// clamped), sortOrder (asc, desc). With a cursor the other parameters are
// ignored. meta.next and links.next are always present: the cursor keeps
// working after the last page and then returns events processed since.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request, now time.Time) {
	v := r.URL.Query()
	var q evQuery
	if tok := v.Get("cursor"); tok != "" {
		c := s.cursor(tok, now, false)
		if c == nil {
			s.invalidCursor(w)
			return
		}
		q = *c.ev
	} else {
		q.limit = DefaultEventsLimit
		if l := v.Get("limit"); l != "" {
			n, err := strconv.Atoi(l)
			if err != nil || n < 1 {
				s.adminError(w, http.StatusBadRequest, "ADMIN-400-24", "Invalid request", "limit must be a positive number.")
				return
			}
			q.limit = min(n, MaxEventsLimit)
		}
		var err error
		if f := v.Get("from"); f != "" {
			if q.from, err = epochMS(f); err != nil {
				s.adminError(w, http.StatusBadRequest, "ADMIN-400-3", "Invalid time date", err.Error())
				return
			}
		}
		if t := v.Get("to"); t != "" {
			if q.to, err = epochMS(t); err != nil {
				s.adminError(w, http.StatusBadRequest, "ADMIN-400-3", "Invalid time date", err.Error())
				return
			}
		}
		switch v.Get("sortOrder") {
		case "", "asc":
			q.pos = sort.Search(len(s.events), func(i int) bool { return !s.events[i].ProcessedAt.Before(q.from) })
		case "desc":
			q.desc = true
			q.pos = len(s.events)
			if !q.to.IsZero() {
				q.pos = sort.Search(len(s.events), func(i int) bool { return s.events[i].ProcessedAt.After(q.to) })
			}
		default:
			s.adminError(w, http.StatusBadRequest, "ADMIN-400-24", "Invalid request", "sortOrder must be asc or desc.")
			return
		}
	}
	var page []Event
	if q.desc {
		for q.pos > 0 && len(page) < q.limit {
			e := s.events[q.pos-1]
			if e.ProcessedAt.Before(q.from) {
				q.pos = 0
				break
			}
			page = append(page, e)
			q.pos--
		}
	} else {
		for q.pos < len(s.events) && len(page) < q.limit {
			e := s.events[q.pos]
			if !q.to.IsZero() && e.ProcessedAt.After(q.to) {
				break
			}
			page = append(page, e)
			q.pos++
		}
	}
	next := s.newCursor(&cursorState{ev: &q}, now)
	base := s.URL + "/admin/v1/orgs/" + s.OrgID
	data := make([]any, 0, len(page))
	for _, e := range page {
		data = append(data, s.eventDoc(e, base))
	}
	s.writeJSON(w, http.StatusOK, map[string]any{
		"data": data,
		"meta": map[string]any{"next": next, "page_size": q.limit},
		"links": map[string]any{
			"self": base + "/events-stream?" + r.URL.RawQuery,
			"next": base + "/events-stream?" + url.Values{"cursor": {next}}.Encode(),
		},
	})
}

func (s *Server) eventDoc(e Event, base string) map[string]any {
	ctx := make([]map[string]any, 0, len(e.Context))
	for _, c := range e.Context {
		attrs := map[string]any{"name": c.Name}
		if c.Type == "users" {
			attrs["email"] = c.Email
			attrs["accountType"] = "atlassian"
		}
		ctx = append(ctx, map[string]any{"id": c.ID, "type": c.Type, "attributes": attrs})
	}
	return map[string]any{
		"id": e.ID, "type": "events",
		"attributes": map[string]any{
			"time":        e.Time.UTC().Format("2006-01-02T15:04:05.000Z"),
			"processedAt": e.ProcessedAt.UTC().Format("2006-01-02T15:04:05.000Z"),
			"action":      e.Action,
			"actor": map[string]any{"id": e.ActorID, "name": e.ActorName,
				"links": map[string]any{"self": "https://api.atlassian.com/users/" + e.ActorID + "/manage/profile"}},
			"context":   ctx,
			"container": []map[string]any{{"id": "site-1", "type": "sites", "attributes": map[string]any{"siteHostName": "acme.atlassian.net"}}},
			"location":  map[string]any{"ip": "203.0.113.9", "geo": "Berlin, Germany"},
		},
		"links":   map[string]any{"self": base + "/events/" + e.ID},
		"message": map[string]any{"content": e.Message, "format": "simple"},
	}
}

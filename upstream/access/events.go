package access

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dirgate/dirgate/internal/cloudhttp"
	"github.com/dirgate/dirgate/upstream"
)

const (
	// eventsLimit is the page size asked of the events stream (its
	// maximum, cloud-apis.md §3.6).
	eventsLimit = 500
	// maxEventPages bounds what one incremental sync reads (10,000
	// events, about two minutes at the paced rate); a longer backlog is
	// cheaper as a full sync.
	maxEventPages = 20
	// captureSlack: a full sync asks for the events processed since this
	// long before it started, to be safe from a clock difference with the
	// server. Events in that window that it does not page past are
	// replayed by the next incremental sync, which is harmless.
	captureSlack = 10 * time.Minute
	// capturePages bounds the pages a full sync reads to find its
	// position.
	capturePages = 4
	// minRefetchBudget: an incremental sync may always spend this many
	// requests on refetches before a full sync is considered cheaper.
	minRefetchBudget = 20
)

// What an event means for the directory.
type evKind int

const (
	evUser       evKind = iota + 1 // refetch the users it names
	evGroup                        // refetch the groups it names, with their members
	evMembership                   // refetch the groups' members
)

// knownActions are the action keys the connector maps. The spec names
// none (they are to be learnt from /event-actions, cloud-apis.md §3.6 and
// U9); these are the keys accessfake emits, with a few obvious variants.
// Deletions need no key of their own: a refetched user or group that is
// no longer there is reported deleted.
var knownActions = map[string]evKind{
	"user_created": evUser, "user_added": evUser, "user_updated": evUser,
	"user_removed": evUser, "user_deleted": evUser,
	"group_created": evGroup, "group_updated": evGroup, "group_renamed": evGroup, "group_deleted": evGroup,
	"user_added_to_group": evMembership, "user_removed_from_group": evMembership,
}

// directoryWords mark an unknown action as possibly about users, groups or
// memberships: such an event forces a full sync. Unknown actions without
// them that name no user or group (policies, domains, API keys, products)
// are ignored.
var directoryWords = []string{"user", "group", "member", "account", "directory", "scim", "identity"}

// apiEvent is the part of an events-stream event the connector reads.
type apiEvent struct {
	ID         string `json:"id"`
	Attributes struct {
		Action  string `json:"action"`
		Context []struct {
			ID   string `json:"id"`
			Type string `json:"type"`
		} `json:"context"`
	} `json:"attributes"`
}

type eventsPage struct {
	Data []apiEvent `json:"data"`
	Meta struct {
		Next     string `json:"next"`
		PageSize int    `json:"page_size"`
	} `json:"meta"`
	Links struct {
		Next string `json:"next"`
	} `json:"links"`
}

// readEvents reads the stream from the first request (a cursor, or from/
// limit parameters) until a page is not full, for at most pages pages. pos
// is the cursor after the last event read (start when none came back);
// complete is false when pages ran out first. Only the cursor is sent on
// follow-ups. Requests go through the paced events client.
func (s *syncRun) readEvents(ctx context.Context, first url.Values, start string, pages int) (evs []apiEvent, pos string, complete bool, err error) {
	pos = start
	q := first
	for i := 0; i < pages; i++ {
		var p eventsPage
		_, err := s.u.events.Get(ctx, s.u.eventsPath(), q, &p)
		s.requests.Add(1)
		if err != nil {
			if ctx.Err() != nil {
				return nil, "", false, ctx.Err()
			}
			return nil, "", false, err
		}
		evs = append(evs, p.Data...)
		next := p.Meta.Next
		if next == "" {
			next = nextCursor(p.Links.Next)
		}
		if next != "" {
			pos = next
		}
		size := p.Meta.PageSize
		if size <= 0 {
			size = eventsLimit
		}
		if len(p.Data) == 0 || len(p.Data) < size || next == "" {
			return evs, pos, true, nil
		}
		q = url.Values{"cursor": {next}}
	}
	return evs, pos, false, nil
}

// capture finds the events position of a full sync that starts at: the
// cursor after the events processed since at-captureSlack.
func (s *syncRun) capture(ctx context.Context, at time.Time) (string, error) {
	from := at.Add(-captureSlack).UnixMilli()
	q := url.Values{"from": {strconv.FormatInt(from, 10)}, "limit": {strconv.Itoa(eventsLimit)}, "sortOrder": {"asc"}}
	_, pos, _, err := s.readEvents(ctx, q, "", capturePages)
	if err != nil {
		return "", err
	}
	if pos == "" {
		return "", fmt.Errorf("%w: the events stream returned no cursor", upstream.ErrRejected)
	}
	return pos, nil
}

// plan is what a batch of events asks to refetch.
type plan struct {
	users, groups map[string]bool
}

// classify maps events to refetches. reason is set when they cannot be
// mapped (a full sync is needed).
func classify(evs []apiEvent) (p plan, reason string) {
	p = plan{users: map[string]bool{}, groups: map[string]bool{}}
	for _, e := range evs {
		action := e.Attributes.Action
		var users, groups []string
		for _, c := range e.Attributes.Context {
			switch c.Type {
			case "users":
				if c.ID != "" {
					users = append(users, c.ID)
				}
			case "groups":
				if c.ID != "" {
					groups = append(groups, c.ID)
				}
			}
		}
		kind, known := knownActions[action]
		switch {
		case !known:
			lower := strings.ToLower(action)
			if len(users) > 0 || len(groups) > 0 || slices.ContainsFunc(directoryWords, func(w string) bool { return strings.Contains(lower, w) }) {
				return p, fmt.Sprintf("event %s has an action the connector does not know (%q)", e.ID, action)
			}
		case kind == evUser && len(users) == 0:
			return p, fmt.Sprintf("event %s (%s) names no user", e.ID, action)
		case kind != evUser && len(groups) == 0:
			return p, fmt.Sprintf("event %s (%s) names no group", e.ID, action)
		case kind == evUser:
			for _, id := range users {
				p.users[id] = true
			}
		default:
			for _, id := range groups {
				p.groups[id] = true
			}
		}
	}
	return p, ""
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// incremental reads the events since c and refetches what they name. It
// returns a nil result with the reason when a full sync is needed, and pos,
// the events position reached, when the full sync may start from it.
func (s *syncRun) incremental(ctx context.Context, c *cursor) (res *upstream.SyncResult, fallback, pos string, err error) {
	at := s.u.clock.Now().UTC()
	evs, pos, complete, err := s.readEvents(ctx, url.Values{"cursor": {c.Events}}, c.Events, s.u.eventPages)
	if err != nil {
		var e *cloudhttp.Error
		switch {
		case ctx.Err() != nil:
			return nil, "", "", ctx.Err()
		case errors.As(err, &e) && e.Status == 400:
			why := "the events stream refused the stored cursor (expired?)"
			s.warn("incremental sync fell back to a full sync: %s", why)
			return nil, why, "", nil
		case errors.As(err, &e) && (e.Kind == cloudhttp.KindPermission || e.Kind == cloudhttp.KindNotFound):
			why := explain("events", err, s.cfg).Error()
			s.warn("incremental sync fell back to a full sync: %s", why)
			return nil, why, "", nil
		}
		return nil, "", "", explain("events", err, s.cfg)
	}
	if !complete {
		why := fmt.Sprintf("more than %d events since the last sync", s.u.eventPages*eventsLimit)
		s.warn("incremental sync fell back to a full sync: %s", why)
		return nil, why, "", nil
	}
	p, why := classify(evs)
	if why != "" {
		s.warn("incremental sync fell back to a full sync: %s", why)
		return nil, why, pos, nil
	}
	users, groups := keys(p.users), keys(p.groups)
	cost := (len(users)+maxIDs-1)/maxIDs + (len(groups)+maxIDs-1)/maxIDs + len(groups)
	if budget := max(minRefetchBudget, c.FullRequests/2); cost > budget {
		return nil, fmt.Sprintf("the %d events name %d users and %d groups: a full sync is cheaper", len(evs), len(users), len(groups)), pos, nil
	}
	res, err = s.refetch(ctx, users, groups)
	if errors.Is(err, errUseGet) {
		s.u.getMode.Store(true) // refetch reads the mode
		res, err = s.refetch(ctx, users, groups)
		if err != nil {
			s.u.getMode.Store(false)
		} else {
			s.u.log.Info("the POST searches are not available; using the GET lists")
		}
	}
	if err != nil {
		return nil, "", "", err
	}
	cur := &cursor{V: cursorVersion, Config: s.u.configHash, Events: pos, At: at, FullRequests: c.FullRequests}
	res.Cursor = cur.encode()
	s.u.log.Debug("events read", "events", len(evs), "users", len(users), "groups", len(groups))
	return res, "", pos, nil
}

// refetch reads the named users, and the named groups with their members.
// Users and groups that are no longer there are reported deleted.
func (s *syncRun) refetch(ctx context.Context, userIDs, groupIDs []string) (*upstream.SyncResult, error) {
	search := !s.u.getMode.Load()
	res := &upstream.SyncResult{}
	var mu sync.Mutex
	found := map[string]upstream.User{}
	addUsers := func(us []upstream.User) {
		mu.Lock()
		defer mu.Unlock()
		for _, u := range us {
			found[u.Key] = u
		}
	}
	ub, gb := batches(userIDs), batches(groupIDs)
	groupsByBatch := make([][]upstream.Group, len(gb))
	err := s.forEach(ctx, len(ub)+len(gb), func(ctx context.Context, i int) error {
		if i < len(ub) {
			us, err := s.listUsers(ctx, search, ub[i])
			addUsers(us)
			return err
		}
		gs, err := s.listGroups(ctx, search, gb[i-len(ub)])
		groupsByBatch[i-len(ub)] = gs
		return err
	})
	if err != nil {
		return nil, err
	}
	var groups []upstream.Group
	for _, gs := range groupsByBatch {
		groups = append(groups, gs...)
	}
	listed := map[string]bool{}
	for _, g := range groups {
		listed[g.Key] = true
	}
	gone := make([]bool, len(groups))
	err = s.forEach(ctx, len(groups), func(ctx context.Context, i int) error {
		ids, us, err := s.groupMembers(ctx, groups[i].Key, search)
		if errors.Is(err, errGroupGone) {
			gone[i] = true
			return nil
		}
		if err != nil {
			return err
		}
		groups[i].Members = ids
		addUsers(us)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, g := range groups {
		if gone[i] {
			res.DeletedGroups = append(res.DeletedGroups, g.Key)
		} else {
			res.Groups = append(res.Groups, g)
		}
	}
	for _, id := range groupIDs {
		if !listed[id] {
			res.DeletedGroups = append(res.DeletedGroups, id)
		}
	}
	for _, id := range userIDs {
		if _, ok := found[id]; !ok {
			res.DeletedUsers = append(res.DeletedUsers, id)
		}
	}
	ids := make([]string, 0, len(found))
	for k := range found {
		ids = append(ids, k)
	}
	sort.Strings(ids)
	for _, k := range ids {
		res.Users = append(res.Users, found[k])
	}
	return res, nil
}

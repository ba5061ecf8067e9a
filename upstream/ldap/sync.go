package ldap

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirgate/dirgate/upstream"
)

// searcher is the part of *goldap.Conn a sync uses; tests substitute a fake
// server.
type searcher interface {
	Search(*goldap.SearchRequest) (*goldap.SearchResult, error)
}

// Operational attributes read with every entry.
var (
	timestampAttrs = []string{"entryUUID", "entryCSN", "createTimestamp", "modifyTimestamp"}
	adAttrs        = []string{"uSNChanged", "whenCreated", "whenChanged", "objectGUID"}
)

// accountDisable is the ACCOUNTDISABLE bit of Active Directory's
// userAccountControl.
const accountDisable = 0x2

// Sync reads the users under user_base and the groups under group_base with
// paged searches. It is incremental (Full false, only the entries changed
// since req.Cursor) when the request and cursor allow, and full otherwise;
// see cursor for the format. Deletions show only in full results.
func (u *Upstream) Sync(ctx context.Context, req upstream.SyncRequest) (*upstream.SyncResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, u.errf("sync", "%w", err)
	}
	u.syncMu.Lock()
	defer u.syncMu.Unlock()

	for attempt := 0; ; attempt++ {
		c, url, reused, err := u.syncConnection(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, u.errf("sync", "%w", ctx.Err())
			}
			return nil, u.errf("sync", "%w", err)
		}
		stop := context.AfterFunc(ctx, func() { c.Close() })
		s := u.newSync(url)
		res, err := s.run(ctx, c, req)
		stop()
		if err == nil {
			return res, nil
		}
		if ctx.Err() != nil {
			u.dropSyncConn(c)
			return nil, u.errf("sync", "%w", ctx.Err())
		}
		if errors.Is(err, upstream.ErrUnavailable) {
			u.dropSyncConn(c)
			if u.isClosed() {
				return nil, u.errf("sync", "%w", ErrClosed)
			}
			// A connection that sat idle since the last sync may have been
			// dropped by the server or a firewall: one more try on a new
			// connection, if nothing was read yet.
			if reused && attempt == 0 && s.requests <= 1 {
				u.log.Info("sync connection broke, reconnecting", "err", err)
				continue
			}
		}
		return nil, u.errf("sync", "%w", err)
	}
}

// syncRun is one sync's state.
type syncRun struct {
	u        *Upstream
	cfg      Config
	url      string
	requests int // searches sent
	fetched  int // entries received
	progress func(int)

	prev     *cursor             // the cursor an incremental sync resumes from
	prevAt   map[string]struct{} // prev.At
	track    *tracker
	intern   map[string]string // normalised DNs already held, to share member strings
	adMode   bool
	dsServer string // dsServiceName of the AD domain controller
	highUSN  int64  // its highestCommittedUSN before the searches

	skippedUsers, skippedGroups, badDNs, badMembers int
	badMemberExample                                string
}

func (u *Upstream) newSync(url string) *syncRun {
	return &syncRun{u: u, cfg: u.cfg, url: url, adMode: u.cfg.Incremental == IncrementalUSNChanged}
}

func (s *syncRun) run(ctx context.Context, conn searcher, req upstream.SyncRequest) (*upstream.SyncResult, error) {
	start := time.Now()
	s.progress = req.Progress
	log := s.u.log

	if s.adMode {
		if err := s.readRootDSE(conn); err != nil {
			return nil, err
		}
	}

	// Incremental or full?
	full, why := true, "full sync requested"
	if !req.Full {
		switch prev, err := decodeCursor(req.Cursor); {
		case s.cfg.Incremental == IncrementalNone:
			why = "incremental syncs are off"
		case err != nil:
			why = err.Error()
		default:
			if why = prev.usable(s.cfg.Incremental, s.u.configHash, s.dsServer); why == "" {
				full, s.prev = false, prev
				s.prevAt = make(map[string]struct{}, len(prev.At))
				for _, h := range prev.At {
					s.prevAt[h] = struct{}{}
				}
			}
		}
	}
	if full && !req.Full {
		log.Info("full sync", "reason", why)
	}
	s.track = newTracker(s.cfg.Incremental, s.prev)

	userFilter, groupFilter := s.cfg.UserFilter, s.cfg.GroupFilter
	if !full {
		userFilter, groupFilter = s.prev.filter(userFilter), s.prev.filter(groupFilter)
	}

	res := &upstream.SyncResult{Full: full}
	s.intern = make(map[string]string)
	err := s.search(ctx, conn, "users", s.cfg.UserBase, userFilter, s.userAttrs(), func(e *goldap.Entry) {
		if usr, ok := s.user(e); ok {
			res.Users = append(res.Users, usr)
		}
	})
	if err != nil {
		return nil, err
	}
	// Groups whose members the server sent in ranges (Active Directory):
	// the rest is read once the paged search is over.
	type rangedGroup struct {
		index, next int
		dn          string
	}
	var ranged []rangedGroup
	err = s.search(ctx, conn, "groups", s.cfg.GroupBase, groupFilter, s.groupAttrs(), func(e *goldap.Entry) {
		if g, more, ok := s.group(e); ok {
			if more >= 0 {
				ranged = append(ranged, rangedGroup{index: len(res.Groups), next: more, dn: e.DN})
			}
			res.Groups = append(res.Groups, g)
		}
	})
	if err != nil {
		return nil, err
	}
	for _, r := range ranged {
		if err := s.fetchRanges(ctx, conn, &res.Groups[r.index], r.dn, r.next); err != nil {
			return nil, err
		}
	}
	s.intern = nil

	res.Cursor = s.track.cursor(s.u.configHash, s.url, s.dsServer, s.highUSN)
	if full && len(res.Users) == 0 {
		// Often a filter the server evaluates as Undefined (slapd does that
		// with an unknown attribute or matching rule) rather than refusing.
		log.Warn("full sync found no users", "base", s.cfg.UserBase, "filter", s.cfg.UserFilter)
	}
	if s.skippedUsers > 0 {
		log.Warn("skipped users without a username attribute", "attribute", s.cfg.Attributes.Username, "count", s.skippedUsers)
	}
	if s.skippedGroups > 0 {
		log.Warn("skipped groups without a name attribute", "attribute", s.cfg.Attributes.GroupName, "count", s.skippedGroups)
	}
	if s.badDNs > 0 {
		log.Warn("skipped entries whose DN does not parse", "count", s.badDNs)
	}
	if s.badMembers > 0 {
		log.Warn("skipped member values that are not DNs", "count", s.badMembers, "example", s.badMemberExample)
	}
	log.Info("sync done", "full", full, "users", len(res.Users), "groups", len(res.Groups),
		"fetched", s.fetched, "url", s.url, "duration", time.Since(start).Round(time.Millisecond))
	return res, nil
}

// readRootDSE reads the domain controller's identity and its
// highestCommittedUSN (Active Directory).
func (s *syncRun) readRootDSE(conn searcher) error {
	s.requests++
	req := goldap.NewSearchRequest("", goldap.ScopeBaseObject, goldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{"dsServiceName", "highestCommittedUSN"}, nil)
	r, err := conn.Search(req)
	if err != nil {
		if sentinel := classify(err); errors.Is(sentinel, upstream.ErrUnavailable) {
			return fmt.Errorf("reading the root DSE: %w: %w", sentinel, err)
		}
		s.u.log.Warn("cannot read the root DSE; incremental syncs stay on this URL", "err", err)
	}
	if r != nil && len(r.Entries) == 1 {
		e := r.Entries[0]
		s.dsServer = e.GetEqualFoldAttributeValue("dsServiceName")
		s.highUSN, _ = strconv.ParseInt(e.GetEqualFoldAttributeValue("highestCommittedUSN"), 10, 64)
	}
	if s.dsServer == "" {
		// Not Active Directory, or the DSE is hidden: the URL is the best
		// identity there is.
		s.dsServer = s.url
	}
	return nil
}

func (s *syncRun) userAttrs() []string {
	a := s.cfg.Attributes
	attrs := []string{a.Username, a.Email, a.FirstName, a.LastName, a.DisplayName, a.ExternalID, "cn"}
	attrs = append(attrs, timestampAttrs...)
	if s.adMode {
		attrs = append(attrs, adAttrs...)
		attrs = append(attrs, "userAccountControl")
	}
	return dedupFold(attrs)
}

func (s *syncRun) groupAttrs() []string {
	a := s.cfg.Attributes
	attrs := []string{a.GroupName, a.Description, a.Member, a.ExternalID}
	attrs = append(attrs, timestampAttrs...)
	if s.adMode {
		attrs = append(attrs, adAttrs...)
	}
	return dedupFold(attrs)
}

func dedupFold(in []string) []string {
	out := in[:0]
	for _, a := range in {
		dup := false
		for _, o := range out {
			if strings.EqualFold(a, o) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, a)
		}
	}
	return out
}

// search runs one paged subtree search and hands every entry to fn, page
// by page; a page's entries are dropped before the next is read.
func (s *syncRun) search(ctx context.Context, conn searcher, what, base, filter string, attrs []string, fn func(*goldap.Entry)) error {
	var cookie []byte
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		paging := goldap.NewControlPaging(uint32(s.cfg.PageSize))
		paging.SetCookie(cookie)
		// A new request every page: go-ldap requests must not be reused.
		req := goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
			filter, attrs, []goldap.Control{paging})
		s.requests++
		r, err := conn.Search(req)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("searching %s under %q with filter %q: %w: %w", what, base, filter, classify(err), err)
		}
		for _, e := range r.Entries {
			fn(e)
		}
		s.fetched += len(r.Entries)
		if s.progress != nil {
			s.progress(s.fetched)
		}
		ctrl, _ := goldap.FindControl(r.Controls, goldap.ControlTypePaging).(*goldap.ControlPaging)
		if ctrl == nil || len(ctrl.Cookie) == 0 {
			// Done, or a server that ignored the (non-critical) paging
			// control and sent everything at once.
			return nil
		}
		cookie = ctrl.Cookie
	}
}

// key normalises an entry's DN, counting failures.
func (s *syncRun) key(dn string) (string, bool) {
	k, err := NormalizeDN(dn)
	if err != nil {
		s.badDNs++
		return "", false
	}
	if in, ok := s.intern[k]; ok {
		return in, true
	}
	s.intern[k] = k
	return k, true
}

// common reads what users and groups share, and tells the cursor tracker
// about the entry. skip is set for an entry the previous incremental sync
// returned already, unchanged.
func (s *syncRun) common(e *goldap.Entry, key string) (externalID string, created, updated time.Time, skip bool) {
	extAttr := s.cfg.Attributes.ExternalID
	if strings.EqualFold(extAttr, "objectGUID") {
		if id, ok := formatGUID(e.GetEqualFoldRawAttributeValue(extAttr)); ok {
			externalID = id
		}
	} else {
		externalID = e.GetEqualFoldAttributeValue(extAttr)
	}
	created = timeAttr(e, "createTimestamp", "whenCreated")
	mod := e.GetEqualFoldAttributeValue("modifyTimestamp")
	updated = timeAttr(e, "modifyTimestamp", "whenChanged")

	switch s.cfg.Incremental {
	case IncrementalModifyTimestamp:
		if t, err := parseGeneralizedTime(mod); err == nil {
			ts := t.Truncate(time.Second).Format(timestampLayout)
			h := entryHash(key, mod, e.GetEqualFoldAttributeValue("entryCSN"))
			s.track.see(ts, h)
			if s.prev != nil && ts == s.prev.Since {
				_, skip = s.prevAt[h]
			}
		}
	case IncrementalUSNChanged:
		if n, err := strconv.ParseInt(e.GetEqualFoldAttributeValue("uSNChanged"), 10, 64); err == nil {
			s.track.seeUSN(n)
		}
	}
	return externalID, created, updated, skip
}

func timeAttr(e *goldap.Entry, names ...string) time.Time {
	for _, n := range names {
		if v := e.GetEqualFoldAttributeValue(n); v != "" {
			if t, err := parseGeneralizedTime(v); err == nil {
				return t
			}
		}
	}
	return time.Time{}
}

// user converts an entry; ok is false for an entry to leave out.
func (s *syncRun) user(e *goldap.Entry) (upstream.User, bool) {
	key, ok := s.key(e.DN)
	if !ok {
		return upstream.User{}, false
	}
	ext, created, updated, skip := s.common(e, key)
	if skip {
		return upstream.User{}, false
	}
	a := s.cfg.Attributes
	username := strings.TrimSpace(e.GetEqualFoldAttributeValue(a.Username))
	if username == "" {
		s.skippedUsers++
		return upstream.User{}, false
	}
	display := e.GetEqualFoldAttributeValue(a.DisplayName)
	if display == "" {
		display = e.GetEqualFoldAttributeValue("cn")
	}
	active := true
	if v := e.GetEqualFoldAttributeValue("userAccountControl"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n&accountDisable != 0 {
			active = false
		}
	}
	return upstream.User{
		Key:         key,
		ExternalID:  ext,
		Username:    username,
		FirstName:   e.GetEqualFoldAttributeValue(a.FirstName),
		LastName:    e.GetEqualFoldAttributeValue(a.LastName),
		DisplayName: display,
		Email:       e.GetEqualFoldAttributeValue(a.Email),
		Active:      active,
		Created:     created,
		Updated:     updated,
	}, true
}

// group converts an entry; ok is false for an entry to leave out. more is
// the first member index still to fetch when the server sent only a range
// of the members, or -1.
func (s *syncRun) group(e *goldap.Entry) (g upstream.Group, more int, ok bool) {
	key, ok := s.key(e.DN)
	if !ok {
		return g, -1, false
	}
	ext, created, updated, skip := s.common(e, key)
	if skip {
		return g, -1, false
	}
	a := s.cfg.Attributes
	name := strings.TrimSpace(e.GetEqualFoldAttributeValue(a.GroupName))
	if name == "" {
		s.skippedGroups++
		return g, -1, false
	}
	g = upstream.Group{
		Key:         key,
		ExternalID:  ext,
		Name:        name,
		Description: e.GetEqualFoldAttributeValue(a.Description),
		Active:      true,
		Created:     created,
		Updated:     updated,
	}
	more = -1
	for _, attr := range e.Attributes {
		switch {
		case strings.EqualFold(attr.Name, a.Member):
			g.Members = s.appendMembers(g.Members, attr.Values)
		default:
			base, _, high, last, isRange := parseRange(attr.Name)
			if isRange && strings.EqualFold(base, a.Member) {
				g.Members = s.appendMembers(g.Members, attr.Values)
				if !last {
					more = high + 1
				}
			}
		}
	}
	g.Members = dedup(g.Members)
	return g, more, true
}

// dedup removes repeated members (one DN spelled twice), keeping the
// server's order.
func dedup(members []string) []string {
	if len(members) < 2 {
		return members
	}
	seen := make(map[string]struct{}, len(members))
	out := members[:0]
	for _, m := range members {
		if _, dup := seen[m]; !dup {
			seen[m] = struct{}{}
			out = append(out, m)
		}
	}
	return out
}

// appendMembers normalises member DNs. The empty DN, which groupOfNames
// uses as a placeholder for "no member", is skipped silently.
func (s *syncRun) appendMembers(dst, values []string) []string {
	if dst == nil {
		dst = make([]string, 0, len(values))
	}
	for _, v := range values {
		if strings.TrimSpace(v) == "" {
			continue
		}
		k, err := NormalizeDN(v)
		if err != nil {
			if s.badMembers == 0 {
				s.badMemberExample = truncate(v, 200)
			}
			s.badMembers++
			continue
		}
		if in, ok := s.intern[k]; ok {
			k = in
		}
		dst = append(dst, k)
	}
	return dst
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// fetchRanges reads the rest of a group's members when the server returned
// them in ranges (Active Directory sends at most 1500 values of an
// attribute per entry: member;range=0-1499, then asks for
// member;range=1500-*).
func (s *syncRun) fetchRanges(ctx context.Context, conn searcher, g *upstream.Group, dn string, next int) error {
	member := s.cfg.Attributes.Member
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		attr := fmt.Sprintf("%s;range=%d-*", member, next)
		req := goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{attr}, nil)
		s.requests++
		r, err := conn.Search(req)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("reading %s of %q: %w: %w", attr, dn, classify(err), err)
		}
		progressed := false
		for _, e := range r.Entries {
			for _, at := range e.Attributes {
				base, low, high, last, ok := parseRange(at.Name)
				if !ok || !strings.EqualFold(base, member) || low != next {
					continue
				}
				g.Members = s.appendMembers(g.Members, at.Values)
				if last {
					g.Members = dedup(g.Members)
					return nil
				}
				next, progressed = high+1, true
			}
		}
		if !progressed {
			return fmt.Errorf("reading %s of %q: %w: the server sent no further range", attr, dn, upstream.ErrRejected)
		}
	}
}

package ldapfront

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jimlambrt/gldap"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/ldapfront/filter"
	"github.com/dirgate/dirgate/upstream"
)

// Search scopes as numbers on the wire.
const (
	scopeBase = 0
	scopeOne  = 1
	scopeSub  = 2
)

// segment is a run of entries a search visits: one fixed entry, or the
// users, groups or service accounts (all of them, or a list of names the
// planner narrowed them to).
type segment struct {
	kind     kind
	fixed    *Entry
	services bool     // the service accounts
	names    []string // narrowed user or group names (sorted, folded); nil: all
	narrowed bool
}

// query is one search, parsed.
type query struct {
	baseDN    string
	scope     int
	filter    *filter.Filter
	attrs     attrSelection
	typesOnly bool
	sizeLimit int
	deadline  time.Time
	sig       string // identifies the search for paging cookies
}

// attrSelection is the requested attribute list, parsed (RFC 4511 §4.5.1.8).
type attrSelection struct {
	all, operational, none bool
	names                  map[string]bool // canonical names
}

func parseAttrs(list []string) attrSelection {
	var a attrSelection
	if len(list) == 0 {
		a.all = true
		return a
	}
	for _, n := range list {
		switch n = strings.TrimSpace(n); n {
		case "*":
			a.all = true
		case "+":
			a.operational = true
		case "1.1", "":
			// no attributes, unless others are asked for too
		default:
			if a.names == nil {
				a.names = map[string]bool{}
			}
			if i := strings.IndexByte(n, ';'); i >= 0 {
				n = n[:i] // options: we serve no tagged values
			}
			a.names[filter.Canonical(n)] = true
		}
	}
	a.none = !a.all && !a.operational && len(a.names) == 0
	return a
}

func (a attrSelection) wants(lower string, operational bool) bool {
	if a.names[lower] {
		return true
	}
	if operational {
		return a.operational
	}
	return a.all
}

// search answers a search request.
func (l *listener) search(w *gldap.ResponseWriter, r *gldap.Request, st *connState) int {
	s := l.s
	m, err := r.GetSearchMessage()
	if err != nil {
		reply(w, r, "search", gldap.ResultProtocolError, "malformed search request")
		return gldap.ResultProtocolError
	}
	out := newSink(w, r, m.GetID())
	defer out.release()
	done := func(code int, diag, matched string, ctrls ...*gldap.ControlPaging) int {
		if out.raw() {
			var p *pagingResponse
			if len(ctrls) > 0 {
				p = &pagingResponse{cookie: string(ctrls[0].Cookie)}
			}
			out.buf.done(out.msgID, code, matched, diag, p)
			_ = out.flush()
			return code
		}
		resp := response(r, "search", code, diag, matched)
		if len(ctrls) > 0 {
			resp.(*gldap.SearchResponseDone).SetControls(ctrls[0])
		}
		_ = w.Write(resp)
		return code
	}
	if len(m.Filter) > s.lim.MaxFilterLength {
		return done(gldap.ResultUnwillingToPerform, "filter too long", "")
	}
	f, err := filter.Parse(m.Filter, filter.Limits{MaxLength: s.lim.MaxFilterLength, MaxDepth: s.lim.MaxFilterDepth, MaxNodes: s.lim.MaxFilterNodes})
	if err != nil {
		if errors.Is(err, filter.ErrLimit) {
			return done(gldap.ResultUnwillingToPerform, "filter too complex: "+err.Error(), "")
		}
		return done(gldap.ResultProtocolError, "bad filter: "+err.Error(), "")
	}
	base, ok := parseDN(m.BaseDN)
	if !ok {
		return done(gldap.ResultInvalidDNSyntax, "invalid base DN", "")
	}
	q := &query{baseDN: base.norm, scope: int(m.Scope), filter: f, attrs: parseAttrs(m.Attributes), typesOnly: m.TypesOnly}
	if q.scope < scopeBase || q.scope > 3 {
		return done(gldap.ResultProtocolError, "unknown scope", "")
	}

	// Anonymous connections reach the root DSE and the schema only.
	bound, _ := st.identity()
	if bound == bindAnonymous && !s.cfg.AllowAnonymousSearch && !(q.scope == scopeBase && (q.baseDN == "" || q.baseDN == subschemaDN)) {
		return done(gldap.ResultInsufficientAccessRights, "anonymous search is not allowed: bind first", "")
	}

	// Limits: the client's, capped by the server's.
	q.sizeLimit = int(m.SizeLimit)
	if s.lim.MaxSizeLimit > 0 && (q.sizeLimit == 0 || q.sizeLimit > s.lim.MaxSizeLimit) {
		q.sizeLimit = s.lim.MaxSizeLimit
	}
	tl := s.lim.MaxTimeLimit
	if m.TimeLimit > 0 && time.Duration(m.TimeLimit)*time.Second < tl {
		tl = time.Duration(m.TimeLimit) * time.Second
	}
	q.deadline = time.Now().Add(tl)

	segs, code, matched := s.segments(q)
	if code != gldap.ResultSuccess {
		return done(code, "no such entry", matched)
	}

	// Paged results (RFC 2696).
	var paging *gldap.ControlPaging
	for _, c := range m.Controls {
		if p, ok := c.(*gldap.ControlPaging); ok {
			paging = p
		}
	}
	pos := position{}
	var cur *cursor
	if paging != nil {
		q.sig = q.signature(m)
		if len(paging.Cookie) > 0 {
			cur = st.takeCursor(string(paging.Cookie))
			if cur == nil || cur.sig != q.sig {
				return done(gldap.ResultProtocolError, "paged results cookie is invalid or expired", "")
			}
			if paging.PagingSize == 0 {
				// The client abandons the paged search (RFC 2696 §3).
				ctrl, _ := gldap.NewControlPaging(0)
				return done(gldap.ResultSuccess, "", "", ctrl)
			}
			pos = cur.pos
		}
	}

	pageSize := 0
	if paging != nil && paging.PagingSize > 0 {
		pageSize = int(paging.PagingSize)
	}
	sent := 0
	if cur != nil {
		sent = cur.sent
	}
	result := gldap.ResultSuccess
	diag := ""
	emit := func(e *served) bool {
		if q.sizeLimit > 0 && sent >= q.sizeLimit {
			result, diag = gldap.ResultSizeLimitExceeded, "size limit exceeded"
			return false
		}
		if out.raw() {
			s.encode(out.buf, out.msgID, e, q)
			if len(out.buf.b) >= flushAfter && out.flush() != nil {
				result = gldap.ResultOther
				return false
			}
		} else if err := w.Write(s.render(r, e, q)); err != nil {
			result = gldap.ResultOther
			return false
		}
		sent++
		s.metrics.entries.Inc()
		return true
	}
	next, finished, timedOut := s.walk(q, segs, pos, pageSize, emit)
	if timedOut {
		result, diag = gldap.ResultTimeLimitExceeded, "time limit exceeded"
	}
	if paging == nil {
		return done(result, diag, "")
	}
	ctrl, _ := gldap.NewControlPaging(0)
	if !finished && result == gldap.ResultSuccess {
		cookie := st.putCursor(&cursor{sig: q.sig, pos: next, sent: sent}, s.lim.MaxCursors)
		ctrl.SetCookie([]byte(cookie))
	}
	return done(result, diag, "", ctrl)
}

// signature identifies a search for its paging cookie: the next page must
// ask the same thing (RFC 2696 §3).
func (q *query) signature(m *gldap.SearchMessage) string {
	var b strings.Builder
	b.WriteString(q.baseDN)
	b.WriteByte(0)
	b.WriteByte(byte('0' + q.scope))
	b.WriteByte(0)
	b.WriteString(q.filter.String())
	for _, a := range m.Attributes {
		b.WriteByte(0)
		b.WriteString(strings.ToLower(a))
	}
	if m.TypesOnly {
		b.WriteString("\x00typesonly")
	}
	return b.String()
}

// segments maps the base and scope onto the tree: the entries to visit, or
// noSuchObject with the closest existing ancestor.
func (s *Server) segments(q *query) ([]segment, int, string) {
	t := s.cfg.Tree
	fixed := func(e *Entry) segment { return segment{kind: kindFixed, fixed: e} }
	base := q.baseDN
	switch {
	case base == "":
		if q.scope == scopeBase {
			return []segment{fixed(s.dse)}, gldap.ResultSuccess, ""
		}
		return nil, gldap.ResultNoSuchObject, ""
	case base == subschemaDN:
		if q.scope == scopeBase || q.scope == scopeSub {
			return []segment{fixed(s.schema)}, gldap.ResultSuccess, ""
		}
		return nil, gldap.ResultSuccess, ""
	}
	p, _ := parseDN(base)
	if !p.under(t.normBase) {
		return nil, gldap.ResultNoSuchObject, ""
	}
	users, groups := s.plan(q.filter.Root())
	baseEntries := s.base // context, users, groups, services
	userSeg := segment{kind: kindUser, names: users.names, narrowed: users.narrowed}
	groupSeg := segment{kind: kindGroup, names: groups.names, narrowed: groups.narrowed}
	svcSeg := segment{kind: kindFixed, services: true}
	children := func(seg segment) []segment {
		if q.scope == scopeBase {
			return nil
		}
		return []segment{seg}
	}
	switch {
	case base == t.normBase:
		switch q.scope {
		case scopeBase:
			return []segment{fixed(baseEntries[0])}, gldap.ResultSuccess, ""
		case scopeOne:
			return []segment{fixed(baseEntries[1]), fixed(baseEntries[2]), fixed(baseEntries[3])}, gldap.ResultSuccess, ""
		case 3: // subordinates (children and below, not the base)
			return []segment{fixed(baseEntries[1]), userSeg, fixed(baseEntries[2]), groupSeg, fixed(baseEntries[3]), svcSeg}, gldap.ResultSuccess, ""
		}
		return []segment{fixed(baseEntries[0]), fixed(baseEntries[1]), userSeg, fixed(baseEntries[2]), groupSeg, fixed(baseEntries[3]), svcSeg}, gldap.ResultSuccess, ""
	case base == t.normUsers, base == t.normGroups, base == t.normServ:
		var self *Entry
		var seg segment
		switch base {
		case t.normUsers:
			self, seg = baseEntries[1], userSeg
		case t.normGroups:
			self, seg = baseEntries[2], groupSeg
		default:
			self, seg = baseEntries[3], svcSeg
		}
		switch q.scope {
		case scopeOne, 3:
			return children(seg), gldap.ResultSuccess, ""
		case scopeSub:
			return append([]segment{fixed(self)}, seg), gldap.ResultSuccess, ""
		}
		return []segment{fixed(self)}, gldap.ResultSuccess, ""
	case p.depth() == t.depthUsers+1 && p.under(t.normUsers):
		if q.scope == scopeOne || q.scope == 3 {
			if _, ok := s.store.User(p.rdnValue("uid")); ok {
				return nil, gldap.ResultSuccess, ""
			}
			return nil, gldap.ResultNoSuchObject, t.UsersDN()
		}
		if u, ok := s.store.User(p.rdnValue("uid")); ok && p.rdnValue("uid") != "" {
			return []segment{{kind: kindUser, names: []string{upstream.Fold(u.Rec.Username)}, narrowed: true}}, gldap.ResultSuccess, ""
		}
		return nil, gldap.ResultNoSuchObject, t.UsersDN()
	case p.depth() == t.depthGroups+1 && p.under(t.normGroups):
		g, ok := s.store.Group(p.rdnValue("cn"))
		if !ok || p.rdnValue("cn") == "" {
			return nil, gldap.ResultNoSuchObject, t.GroupsDN()
		}
		if q.scope == scopeOne || q.scope == 3 {
			return nil, gldap.ResultSuccess, ""
		}
		return []segment{{kind: kindGroup, names: []string{upstream.Fold(g.Rec.Name)}, narrowed: true}}, gldap.ResultSuccess, ""
	case p.depth() == t.depthSv+1 && p.under(t.normServ):
		name := s.services.name(p.rdnValue("cn"))
		if name == "" {
			return nil, gldap.ResultNoSuchObject, t.ServicesDN()
		}
		if q.scope == scopeOne || q.scope == 3 {
			return nil, gldap.ResultSuccess, ""
		}
		return []segment{fixed(t.ServiceEntry(name))}, gldap.ResultSuccess, ""
	}
	// Below an entry that has no children, or a container that does not
	// exist: the closest ancestor that does.
	for _, c := range []struct{ norm, dn string }{{t.normUsers, t.UsersDN()}, {t.normGroups, t.GroupsDN()}, {t.normServ, t.ServicesDN()}} {
		if p.under(c.norm) {
			return nil, gldap.ResultNoSuchObject, c.dn
		}
	}
	return nil, gldap.ResultNoSuchObject, t.BaseDN
}

// position is where a paged search resumes: in segment seg, at the entries
// whose names sort after `after` (and the one named `after` itself when
// inclusive). An unset position starts the segment from its beginning.
type position struct {
	seg       int
	after     string
	inclusive bool
	set       bool
}

func (p position) skips(seg int, name string) bool {
	if !p.set || seg != p.seg {
		return false
	}
	return name < p.after || name == p.after && !p.inclusive
}

// walk visits the segments from pos, sending the entries that match. It
// stops after pageSize entries (0: no paging) or when emit refuses one, and
// returns where to resume and whether everything was visited.
func (s *Server) walk(q *query, segs []segment, pos position, pageSize int, emit func(*served) bool) (next position, finished, timedOut bool) {
	sent, visited := 0, 0
	// visit returns false to stop the walk.
	visit := func(seg int, name string, e *served) bool {
		visited++
		if visited%256 == 0 && (time.Now().After(q.deadline) || s.abort.Err() != nil) {
			timedOut = true
			return false
		}
		if !q.filter.Matches(e) {
			return true
		}
		if pageSize > 0 && sent == pageSize {
			// The page is full: this entry starts the next one.
			next = position{seg: seg, after: name, inclusive: true, set: true}
			return false
		}
		if !emit(e) {
			return false
		}
		sent++
		next = position{seg: seg, after: name, set: true}
		return true
	}
	for i := pos.seg; i < len(segs); i++ {
		seg := segs[i]
		from := ""
		if pos.set && i == pos.seg {
			from = pos.after
		}
		ok := true
		switch {
		case seg.kind == kindFixed && seg.services:
			for _, n := range s.cfg.Tree.ServiceAccounts {
				k := upstream.Fold(n)
				if pos.skips(i, k) {
					continue
				}
				if ok = visit(i, k, s.fixedEntry(s.cfg.Tree.ServiceEntry(n))); !ok {
					break
				}
			}
		case seg.kind == kindFixed:
			if !pos.skips(i, "") {
				ok = visit(i, "", s.fixedEntry(seg.fixed))
			}
		case seg.narrowed:
			for _, n := range seg.names {
				if pos.skips(i, n) {
					continue
				}
				var e *served
				if seg.kind == kindUser {
					if u, found := s.store.User(n); found {
						e = s.userEntry(u)
					}
				} else if g, found := s.store.Group(n); found {
					e = s.groupEntry(g)
				}
				if e != nil {
					if ok = visit(i, n, e); !ok {
						break
					}
				}
			}
		case seg.kind == kindUser:
			s.store.Users(from, func(u cache.User) bool {
				n := upstream.Fold(u.Rec.Username)
				if pos.skips(i, n) {
					return true
				}
				ok = visit(i, n, s.userEntry(u))
				return ok
			})
		case seg.kind == kindGroup:
			s.store.Groups(from, func(g cache.Group) bool {
				n := upstream.Fold(g.Rec.Name)
				if pos.skips(i, n) {
					return true
				}
				ok = visit(i, n, s.groupEntry(g))
				return ok
			})
		}
		if !ok {
			return next, false, timedOut
		}
		next = position{seg: i + 1}
	}
	return next, true, false
}

// render builds the SearchResultEntry of e with the requested attributes.
func (s *Server) render(r *gldap.Request, e *served, q *query) *gldap.SearchResponseEntry {
	out := r.NewSearchResponseEntry(e.dn)
	if q.attrs.none {
		return out
	}
	add := func(name string, values []string) {
		if len(values) == 0 {
			return
		}
		if q.typesOnly {
			values = []string{}
		}
		out.AddAttribute(name, values)
	}
	switch e.kind {
	case kindUser:
		for i := range userAttrs {
			d := &userAttrs[i]
			if q.attrs.wants(d.lower, d.operational) {
				add(d.name, e.Values(d.lower))
			}
		}
	case kindGroup:
		for i := range groupAttrs {
			d := &groupAttrs[i]
			if q.attrs.wants(d.lower, d.operational) {
				add(d.name, e.Values(d.lower))
			}
		}
	default:
		for _, a := range e.fixed.Attrs {
			lower := strings.ToLower(a.Name)
			if q.attrs.wants(lower, isOperational(e.fixed, lower)) {
				add(a.Name, a.Values)
			}
		}
	}
	return out
}

// encode appends e's SearchResultEntry with the requested attributes: the
// same attributes, in the same order, as render.
func (s *Server) encode(b *berBuf, msgID int64, e *served, q *query) {
	b.beginEntry(msgID, e.dn)
	add := func(name string, values []string) {
		if len(values) == 0 {
			return
		}
		if q.typesOnly {
			values = nil
		}
		b.attr(name, values)
	}
	if !q.attrs.none {
		switch e.kind {
		case kindUser:
			for i := range userAttrs {
				d := &userAttrs[i]
				if q.attrs.wants(d.lower, d.operational) {
					add(d.name, e.Values(d.lower))
				}
			}
		case kindGroup:
			for i := range groupAttrs {
				d := &groupAttrs[i]
				if q.attrs.wants(d.lower, d.operational) {
					add(d.name, e.Values(d.lower))
				}
			}
		default:
			for _, a := range e.fixed.Attrs {
				lower := strings.ToLower(a.Name)
				if q.attrs.wants(lower, isOperational(e.fixed, lower)) {
					add(a.Name, a.Values)
				}
			}
		}
	}
	b.endEntry()
}

// cursor is a paged search's server-side state.
type cursor struct {
	sig     string
	pos     position
	sent    int
	created time.Time
}

const cursorTTL = 10 * time.Minute

// putCursor stores c under a new random cookie, dropping the oldest cursor
// beyond max and any expired ones.
func (st *connState) putCursor(c *cursor, max int) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	cookie := hex.EncodeToString(b)
	c.created = time.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.cursors == nil {
		st.cursors = map[string]*cursor{}
	}
	for k, x := range st.cursors {
		if time.Since(x.created) > cursorTTL {
			delete(st.cursors, k)
		}
	}
	for len(st.cursors) >= max {
		var oldest string
		for k, x := range st.cursors {
			if oldest == "" || x.created.Before(st.cursors[oldest].created) {
				oldest = k
			}
		}
		delete(st.cursors, oldest)
	}
	st.cursors[cookie] = c
	return cookie
}

// takeCursor removes and returns the cursor of a cookie (nil if unknown or
// expired): each cookie is good for one page.
func (st *connState) takeCursor(cookie string) *cursor {
	st.mu.Lock()
	defer st.mu.Unlock()
	c := st.cursors[cookie]
	delete(st.cursors, cookie)
	if c == nil || time.Since(c.created) > cursorTTL {
		return nil
	}
	return c
}

// restriction is what the planner knows about which users (or groups) can
// match: narrowed to names, or not narrowed (all must be evaluated).
type restriction struct {
	narrowed bool
	names    []string // folded, sorted, unique
}

var (
	unrestricted = restriction{}
	nothing      = restriction{narrowed: true}
)

func narrowTo(names []string) restriction {
	if len(names) == 1 {
		return restriction{narrowed: true, names: []string{upstream.Fold(names[0])}}
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, upstream.Fold(n))
	}
	sort.Strings(out)
	return restriction{narrowed: true, names: slices.Compact(out)}
}

// plan narrows the users and the groups a filter can match, from the
// store's indexes: uid, mail, cn, memberOf (and the in-chain rule), member
// and objectClass, through AND and OR. The filter is still evaluated on
// every candidate, so the plan only has to be a superset.
func (s *Server) plan(n *filter.Node) (users, groups restriction) {
	t := s.cfg.Tree
	st := s.store
	switch n.Op {
	case filter.And:
		// Cheap, selective children first; once both sets are small, the
		// rest is left to evaluation (a memberOf child would otherwise list
		// a whole group to intersect with one uid).
		users, groups = unrestricted, unrestricted
		for _, c := range byPlanCost(n.Children) {
			u, g := s.plan(c)
			users, groups = intersect(users, u), intersect(groups, g)
			if small(users) && small(groups) {
				break
			}
		}
		return users, groups
	case filter.Or:
		users, groups = nothing, nothing
		for _, c := range n.Children {
			u, g := s.plan(c)
			users, groups = union(users, u), union(groups, g)
		}
		return users, groups
	case filter.AbsoluteFalse:
		return nothing, nothing
	case filter.Equal, filter.Approx:
		key, ok := n.Key()
		if !ok {
			return nothing, nothing // never True: Undefined, or options we hold no values for
		}
		if strings.Contains(key, " ") && n.Attr != "memberof" && n.Attr != "member" {
			// Matching collapses runs of spaces; the name indexes do not.
			return unrestricted, unrestricted
		}
		switch n.Attr {
		case "uid":
			if u, ok := st.User(key); ok {
				return narrowTo([]string{u.Rec.Username}), nothing
			}
			return nothing, nothing
		case "mail":
			var names []string
			for _, u := range st.UsersByEmail(key) {
				names = append(names, u.Rec.Username)
			}
			return narrowTo(names), nothing
		case "cn":
			var gs []string
			if g, ok := st.Group(key); ok {
				gs = []string{g.Rec.Name}
			}
			return unrestricted, narrowTo(gs) // a user's cn is its display name: not indexed
		case "objectclass":
			switch key {
			case "inetorgperson", "person", "organizationalperson":
				return unrestricted, nothing
			case "groupofnames":
				return nothing, unrestricted
			case "top":
				return unrestricted, unrestricted
			}
			return nothing, nothing
		case "memberof":
			if g, ok := s.groupOfDN(key); ok {
				return narrowTo(st.GroupUsers(g, t.TransitiveMemberOf, true)), narrowTo(st.GroupChildren(g, t.TransitiveMemberOf))
			}
			return nothing, nothing
		case "member":
			if p, ok := parseDN(key); ok {
				switch {
				case p.under(t.normUsers) && p.depth() == t.depthUsers+1:
					return nothing, narrowTo(st.UserGroups(p.rdnValue("uid"), false, true))
				case p.under(t.normGroups) && p.depth() == t.depthGroups+1:
					return nothing, narrowTo(st.GroupParents(p.rdnValue("cn"), false))
				}
			}
			return nothing, nothing
		}
	case filter.Extensible:
		if n.Rule == inChainRule && !n.DNAttrs {
			switch n.Attr {
			case "memberof":
				if g, ok := s.groupOfDN(n.Value); ok {
					return narrowTo(st.GroupUsers(g, true, true)), narrowTo(st.GroupChildren(g, true))
				}
				return nothing, nothing
			}
		}
	}
	return unrestricted, unrestricted
}

const inChainRule = "1.2.840.113556.1.4.1941"

// groupOfDN returns the group a DN names, if it is one of ours.
func (s *Server) groupOfDN(dn string) (string, bool) {
	t := s.cfg.Tree
	p, ok := parseDN(dn)
	if !ok || !p.under(t.normGroups) || p.depth() != t.depthGroups+1 {
		return "", false
	}
	g, ok := s.store.Group(p.rdnValue("cn"))
	if !ok {
		return "", false
	}
	return g.Rec.Name, true
}

// small reports a restriction worth evaluating directly.
func small(r restriction) bool { return r.narrowed && len(r.names) <= 16 }

// planCost orders the children of an And: unique keys, then names, then
// memberships (which list whole groups), then everything else.
func planCost(n *filter.Node) int {
	switch {
	case n.Op != filter.Equal && n.Op != filter.Approx:
		return 4
	case n.Attr == "uid" || n.Attr == "mail":
		return 0
	case n.Attr == "cn":
		return 1
	case n.Attr == "memberof" || n.Attr == "member":
		return 2
	}
	return 3
}

func byPlanCost(children []*filter.Node) []*filter.Node {
	sorted := true
	for i := 1; i < len(children); i++ {
		if planCost(children[i]) < planCost(children[i-1]) {
			sorted = false
		}
	}
	if sorted {
		return children
	}
	out := slices.Clone(children)
	slices.SortStableFunc(out, func(a, b *filter.Node) int { return planCost(a) - planCost(b) })
	return out
}

func intersect(a, b restriction) restriction {
	switch {
	case !a.narrowed:
		return b
	case !b.narrowed:
		return a
	}
	small, big := a.names, b.names
	if len(small) > len(big) {
		small, big = big, small
	}
	var out []string
	for _, n := range small {
		if _, found := slices.BinarySearch(big, n); found {
			out = append(out, n)
		}
	}
	return restriction{narrowed: true, names: out}
}

func union(a, b restriction) restriction {
	if !a.narrowed || !b.narrowed {
		return unrestricted
	}
	out := append(slices.Clone(a.names), b.names...)
	sort.Strings(out)
	return restriction{narrowed: true, names: slices.Compact(out)}
}

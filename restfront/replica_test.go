package restfront

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/upstream"
)

// jiraClient does what Jira's RemoteCrowdDirectory + DbCachingRemoteDirectory
// do against a Crowd server (crowd-rest.md §9), with the same requests and
// the same reading of the XML, and keeps the replica Jira would keep in its
// own tables. It parses with its own structs, not the server's.
type jiraClient struct {
	t                testing.TB
	base, app, appPw string
	nested           bool // useNestedGroups
	token            string
	replica          *replica
	requests         []string // "METHOD path?query", for assertions on the sequence
}

// replica is Jira's copy of the directory, keyed by lower-cased name.
type replica struct {
	Users        map[string]replicaUser
	Groups       map[string]replicaGroup
	UserParents  map[string]map[string]bool // user → direct groups
	GroupParents map[string]map[string]bool // child group → direct parents
}

type replicaUser struct {
	Name, First, Last, Display, Email, Key string
	Active                                 bool
}

type replicaGroup struct {
	Name, Description string
	Active            bool
}

func newReplica() *replica {
	return &replica{Users: map[string]replicaUser{}, Groups: map[string]replicaGroup{},
		UserParents: map[string]map[string]bool{}, GroupParents: map[string]map[string]bool{}}
}

// The client's XML view of the entities (DF/CENT).
type cUser struct {
	Name    string `xml:"name,attr"`
	First   string `xml:"first-name"`
	Last    string `xml:"last-name"`
	Display string `xml:"display-name"`
	Email   string `xml:"email"`
	Key     string `xml:"key"`
	Active  bool   `xml:"active"`
}

func (u cUser) rec() replicaUser {
	return replicaUser{Name: u.Name, First: u.First, Last: u.Last, Display: u.Display, Email: u.Email, Key: u.Key, Active: u.Active}
}

type cGroup struct {
	Name        string `xml:"name,attr"`
	Description string `xml:"description"`
	Type        string `xml:"type"`
	Active      bool   `xml:"active"`
}

type cName struct {
	Name string `xml:"name,attr"`
}

type cEvents struct {
	Token       string `xml:"newEventToken,attr"`
	Incremental string `xml:"incrementalSynchronisationAvailable,attr"`
}

func (c *jiraClient) do(method, pathQuery, body string) (int, []byte) {
	c.t.Helper()
	c.requests = append(c.requests, method+" "+pathQuery)
	req, err := http.NewRequest(method, c.base+pathQuery, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.app+":"+c.appPw)))
	req.Header.Set("Accept", "application/xml")
	req.Header.Set("X-Atlassian-Token", "no-check")
	if body != "" {
		req.Header.Set("Content-Type", "application/xml; charset=UTF-8")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if resp.Header.Get("X-Embedded-Crowd-Version") == "" {
		c.t.Fatalf("%s %s: not a Crowd REST service (no X-Embedded-Crowd-Version)", method, pathQuery)
	}
	return resp.StatusCode, b
}

// must does a request that has to succeed and decodes its XML into v.
func (c *jiraClient) must(method, pathQuery, body string, v any) {
	c.t.Helper()
	st, b := c.do(method, pathQuery, body)
	if st != http.StatusOK {
		c.t.Fatalf("%s %s: %d %s", method, pathQuery, st, b)
	}
	if v != nil {
		if err := xml.Unmarshal(b, v); err != nil {
			c.t.Fatalf("%s %s: %v\n%s", method, pathQuery, err, b)
		}
	}
}

// testConnection is the "Test settings" button.
func (c *jiraClient) testConnection() {
	c.t.Helper()
	var l struct {
		Users []cUser `xml:"user"`
	}
	c.must("POST", "/search?entity-type=user&start-index=0&max-results=1&expand=user",
		`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><property-search-restriction><property><name>name</name><type>STRING</type></property><match-mode>NULL</match-mode></property-search-restriction>`, &l)
	if len(l.Users) > 1 {
		c.t.Fatalf("test connection: max-results=1 returned %d users", len(l.Users))
	}
}

// eventToken is GET /event; "" when incremental sync is not available.
func (c *jiraClient) eventToken() string {
	c.t.Helper()
	var ev cEvents
	c.must("GET", "/event", "", &ev)
	if ev.Incremental != "true" || ev.Token == "" {
		c.t.Fatalf("GET /event: incrementalSynchronisationAvailable=%q token=%q", ev.Incremental, ev.Token)
	}
	return ev.Token
}

// fullSync is DbCachingRemoteDirectory's full synchronisation with
// /group/membership, replacing the replica.
func (c *jiraClient) fullSync() {
	c.t.Helper()
	token := c.eventToken()
	r := newReplica()
	var users struct {
		Users []cUser `xml:"user"`
	}
	c.must("POST", "/search?entity-type=user&start-index=0&max-results=-1&expand=user", "<null-search-restriction/>", &users)
	for _, u := range users.Users {
		r.Users[strings.ToLower(u.Name)] = u.rec()
	}
	var groups struct {
		Groups []cGroup `xml:"group"`
	}
	c.must("POST", "/search?entity-type=group&start-index=0&max-results=-1&expand=group", "<null-search-restriction/>", &groups)
	seen := map[string]int{}
	for _, g := range groups.Groups {
		if g.Type != "GROUP" {
			c.t.Fatalf("group %q has type %q", g.Name, g.Type)
		}
		seen[strings.ToLower(g.Name)]++
	}
	for _, g := range groups.Groups {
		// DirectoryEntities.filterOutDuplicates: colliding names are all dropped.
		if seen[strings.ToLower(g.Name)] > 1 {
			c.t.Errorf("full sync: group name %q collides case-insensitively", g.Name)
			continue
		}
		r.Groups[strings.ToLower(g.Name)] = replicaGroup{Name: g.Name, Description: g.Description, Active: g.Active}
	}
	var ms struct {
		Memberships []struct {
			Group  string  `xml:"group,attr"`
			Users  []cName `xml:"users>user"`
			Groups []cName `xml:"groups>group"`
		} `xml:"membership"`
	}
	c.must("GET", "/group/membership", "", &ms)
	for _, m := range ms.Memberships {
		g := strings.ToLower(m.Group)
		if _, ok := r.Groups[g]; !ok {
			continue // unknown groups are skipped (DF/ACR)
		}
		for _, u := range m.Users {
			r.addUser(strings.ToLower(u.Name), g)
		}
		if c.nested {
			for _, ch := range m.Groups {
				r.addGroup(strings.ToLower(ch.Name), g)
			}
		}
	}
	c.eventToken() // Jira always asks again at the end; the first token is kept
	c.replica, c.token = r, token
}

func (r *replica) addUser(user, group string) {
	if r.UserParents[user] == nil {
		r.UserParents[user] = map[string]bool{}
	}
	r.UserParents[user][group] = true
}

func (r *replica) addGroup(child, parent string) {
	if r.GroupParents[child] == nil {
		r.GroupParents[child] = map[string]bool{}
	}
	r.GroupParents[child][parent] = true
}

// incrementalSync applies GET /event/{token}; it reports false when the
// server says the token expired (Jira then syncs in full).
func (c *jiraClient) incrementalSync() bool {
	c.t.Helper()
	for {
		st, b := c.do("GET", "/event/"+url.PathEscape(c.token), "")
		if st == http.StatusGone {
			if !strings.Contains(string(b), "<reason>EVENT_TOKEN_EXPIRED</reason>") {
				c.t.Fatalf("410 without EVENT_TOKEN_EXPIRED: %s", b)
			}
			return false
		}
		if st != http.StatusOK {
			c.t.Fatalf("GET /event/%s: %d %s", c.token, st, b)
		}
		next, n := c.applyEvents(b)
		if next == "" {
			c.t.Fatalf("events without newEventToken: %s", b)
		}
		same := next == c.token
		c.token = next
		if n == 0 || same {
			return true
		}
	}
}

// applyEvents applies one <events> document as EventTokenChangedRemote
// does; an unknown event element fails the sync.
func (c *jiraClient) applyEvents(doc []byte) (token string, n int) {
	c.t.Helper()
	d := xml.NewDecoder(strings.NewReader(string(doc)))
	r := c.replica
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return token, n
		}
		if err != nil {
			c.t.Fatalf("events: %v\n%s", err, doc)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if se.Name.Local == "events" {
			for _, a := range se.Attr {
				if a.Name.Local == "newEventToken" {
					token = a.Value
				}
			}
			continue
		}
		n++
		switch se.Name.Local {
		case "userEvent":
			var e struct {
				Op   string `xml:"operation"`
				User cUser  `xml:"user"`
			}
			c.decode(d, &se, &e)
			k := strings.ToLower(e.User.Name)
			switch e.Op {
			case "CREATED", "UPDATED":
				r.Users[k] = e.User.rec()
			case "DELETED":
				delete(r.Users, k)
				delete(r.UserParents, k)
			default:
				c.t.Fatalf("userEvent operation %q", e.Op)
			}
		case "groupEvent":
			var e struct {
				Op    string `xml:"operation"`
				Group cGroup `xml:"group"`
			}
			c.decode(d, &se, &e)
			k := strings.ToLower(e.Group.Name)
			switch e.Op {
			case "CREATED", "UPDATED":
				r.Groups[k] = replicaGroup{Name: e.Group.Name, Description: e.Group.Description, Active: e.Group.Active}
			case "DELETED":
				delete(r.Groups, k)
				delete(r.GroupParents, k)
				for _, set := range r.UserParents {
					delete(set, k)
				}
				for _, set := range r.GroupParents {
					delete(set, k)
				}
			default:
				c.t.Fatalf("groupEvent operation %q", e.Op)
			}
		case "userMembershipEvent":
			var e struct {
				Op      string  `xml:"operation"`
				Child   cName   `xml:"childUser"`
				Parents []cName `xml:"parentGroups>group"`
			}
			c.decode(d, &se, &e)
			u := strings.ToLower(e.Child.Name)
			if e.Op == "UPDATED" {
				r.UserParents[u] = map[string]bool{}
			}
			for _, p := range e.Parents {
				if e.Op == "DELETED" {
					delete(r.UserParents[u], strings.ToLower(p.Name))
				} else {
					r.addUser(u, strings.ToLower(p.Name))
				}
			}
		case "groupMembershipEvent":
			var e struct {
				Op       string  `xml:"operation"`
				Group    cName   `xml:"group"`
				Parents  []cName `xml:"parentGroups>group"`
				Children []cName `xml:"childGroups>group"`
			}
			c.decode(d, &se, &e)
			if !c.nested {
				continue
			}
			g := strings.ToLower(e.Group.Name)
			if e.Op == "UPDATED" {
				r.GroupParents[g] = map[string]bool{}
				for _, set := range r.GroupParents {
					delete(set, g)
				}
			}
			for _, p := range e.Parents {
				if e.Op == "DELETED" {
					delete(r.GroupParents[g], strings.ToLower(p.Name))
				} else {
					r.addGroup(g, strings.ToLower(p.Name))
				}
			}
			for _, ch := range e.Children {
				if e.Op == "DELETED" {
					delete(r.GroupParents[strings.ToLower(ch.Name)], g)
				} else {
					r.addGroup(strings.ToLower(ch.Name), g)
				}
			}
		default:
			c.t.Fatalf("unknown event element <%s>: Jira fails the sync\n%s", se.Name.Local, doc)
		}
	}
}

func (c *jiraClient) decode(d *xml.Decoder, se *xml.StartElement, v any) {
	c.t.Helper()
	if err := d.DecodeElement(v, se); err != nil {
		c.t.Fatalf("<%s>: %v", se.Name.Local, err)
	}
}

// login is a password login: POST /authentication, then the user's direct
// groups (crowd.sync.group.membership.after.successful.user.auth.enabled
// defaults to always).
func (c *jiraClient) login(username, password string) (cUser, []string, int, string) {
	c.t.Helper()
	body := "<password><value>" + xmlEscape(password) + "</value></password>"
	st, b := c.do("POST", "/authentication?username="+url.QueryEscape(username), body)
	if st != http.StatusOK {
		var e struct {
			Reason string `xml:"reason"`
		}
		if err := xml.Unmarshal(b, &e); err != nil {
			c.t.Fatalf("authentication error body is not XML: %v\n%s", err, b)
		}
		return cUser{}, nil, st, e.Reason
	}
	var u cUser
	if err := xml.Unmarshal(b, &u); err != nil {
		c.t.Fatal(err)
	}
	var gs struct {
		Groups []cName `xml:"group"`
	}
	c.must("GET", "/user/group/direct?username="+url.QueryEscape(u.Name)+"&start-index=0&max-results=-1", "", &gs)
	var names []string
	for _, g := range gs.Groups {
		names = append(names, g.Name)
	}
	return u, names, st, ""
}

func xmlEscape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// expectedReplica is what the replica must hold: the cache's merged view
// as application app sees it, read from the store, not through HTTP.
func expectedReplica(store *cache.Store, lowercase, aggregate, nested bool) *replica {
	out := func(s string) string {
		if lowercase {
			return strings.ToLower(s)
		}
		return s
	}
	r := newReplica()
	store.Users("", func(u cache.User) bool {
		rec := u.Rec
		ru := replicaUser{Name: out(rec.Username), First: rec.FirstName, Last: rec.LastName, Display: rec.DisplayName,
			Email: rec.Email, Active: rec.Active}
		if ru.Display == "" { // Crowd requires a display name: first and last, or the name
			ru.Display = strings.TrimSpace(rec.FirstName + " " + rec.LastName)
			if ru.Display == "" {
				ru.Display = ru.Name
			}
		}
		if rec.ExternalID != "" {
			ru.Key = fmt.Sprint(u.UpstreamIndex+1) + ":" + rec.ExternalID
		}
		r.Users[upstream.Fold(rec.Username)] = ru
		for _, g := range store.UserGroups(rec.Username, false, aggregate) {
			r.addUser(upstream.Fold(rec.Username), upstream.Fold(g))
		}
		return true
	})
	store.Groups("", func(g cache.Group) bool {
		r.Groups[upstream.Fold(g.Rec.Name)] = replicaGroup{Name: out(g.Rec.Name), Description: g.Rec.Description, Active: g.Rec.Active}
		if nested {
			for _, p := range store.GroupParents(g.Rec.Name, false) {
				r.addGroup(upstream.Fold(g.Rec.Name), upstream.Fold(p))
			}
		}
		return true
	})
	return r
}

// diff describes how got differs from want, or "".
func (want *replica) diff(got *replica) string {
	var b strings.Builder
	for _, k := range unionKeys(want.Users, got.Users) {
		w, wok := want.Users[k]
		g, gok := got.Users[k]
		if w != g || wok != gok {
			fmt.Fprintf(&b, "user %s: want %+v (%v), replica %+v (%v)\n", k, w, wok, g, gok)
		}
	}
	for _, k := range unionKeys(want.Groups, got.Groups) {
		w, wok := want.Groups[k]
		g, gok := got.Groups[k]
		if w != g || wok != gok {
			fmt.Fprintf(&b, "group %s: want %+v (%v), replica %+v (%v)\n", k, w, wok, g, gok)
		}
	}
	setDiff := func(what string, w, g map[string]map[string]bool) {
		for _, k := range unionKeys(w, g) {
			ws, gs := sortedKeys(w[k]), sortedKeys(g[k])
			if !slices.Equal(ws, gs) {
				fmt.Fprintf(&b, "%s of %s: want %v, replica %v\n", what, k, ws, gs)
			}
		}
	}
	setDiff("groups", want.UserParents, got.UserParents)
	setDiff("parent groups", want.GroupParents, got.GroupParents)
	return b.String()
}

func unionKeys[V any](a, b map[string]V) []string {
	m := map[string]bool{}
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return sortedKeys(m)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := slices.Collect(maps.Keys(m))
	sort.Strings(ks)
	return ks
}

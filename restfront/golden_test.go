package restfront

// Golden response bodies for every route, in XML and JSON, checked
// against testdata/golden/<scenario>/<step>.{xml,json,txt}.
//
//	go test ./restfront -run Golden            # compare
//	go test ./restfront -run Golden -update    # rewrite the golden files
//
// The golden files are the contract of crowd-rest.md, not a recording:
// after -update every file is reviewed against the spec, and where the
// server disagrees the file is written as the spec says and listed in
// specDivergences (which -update leaves alone). Those steps run as
// subtests named SPEC_DIVERGENT_<step> and fail until the server is fixed;
// to see the rest of the suite green meanwhile:
//
//	go test ./restfront -run Golden -skip 'Golden/.*/.*/SPEC_DIVERGENT'
//
// Bodies are compared byte for byte after normalisation (no pretty
// printing: element order and attribute names count): the server's
// http://127.0.0.1:PORT becomes http://HOST, and what changes from run to
// run becomes a placeholder — session tokens (SESSION-n), event tokens
// (EVENT-n), the random external IDs of local entries (LOCAL-ID-n, so keys
// read 2:LOCAL-ID-n), and the created/updated/expiry dates of entries made
// during the test (DATETIME in XML, EPOCH-MILLIS in JSON). Placeholders are
// numbered in order of first appearance within a scenario run, so the same
// token or ID reads the same in every step. The fixed dates of the staff
// records (2026-01-02T03:04:05.000Z, 1767323045000) stay verbatim: they
// check the date formats (T11). A value only becomes a placeholder when it
// has the right shape (24 alphanumerics for a session token, xsd:dateTime
// in XML, an integer in JSON), so a wrongly shaped one shows up as a diff.
//
// Besides the body, each step checks the status, the exact Content-Type
// (T6: application/xml or application/json, no parameters), the Location
// header where the spec promises one, and the headers listed in the step.

import (
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/golden (except those in specDivergences)")

// specDivergences are golden files written as crowd-rest.md says, which
// the server does not produce today. -update does not overwrite them; the
// steps run as SPEC_DIVERGENT_<step> subtests and fail until the server is
// fixed (then remove the entry). Key: the golden file (or, for steps
// without a body, "<scenario>/<format>/<step>"); value: what differs, the
// spec section, and the code responsible.
var specDivergences = map[string]string{}

const goldenDir = "testdata/golden"

// goldenStep is one request of a scenario.
type goldenStep struct {
	name   string // golden file name without extension; "" for a setup step (status checked, no golden)
	app    string // name:password, default jira:jira-pw; "-" for none
	method string
	path   string // after the API root ({var} is replaced by a captured value)
	xbody  string // request body for the XML run (and the JSON run when jbody is empty)
	jbody  string // request body for the JSON run
	header map[string]string

	status   int
	ctype    string            // expected Content-Type when not the negotiated one
	location string            // expected Location header (normalised), "" for none
	headers  map[string]string // further headers to check, exactly
	empty    bool              // expect no body (204s, body-less 201s)
	only     string            // "xml" or "json": run in that format only
	noAccept bool              // send no Accept header (the Java client's membership probes, G1)
	root     bool              // path is from the server root, not the API root
	capture  map[string]string // variable → regexp whose first non-empty group is read from the raw body

	// check makes further checks on the raw body.
	check func(t *testing.T, raw string, asJSON bool)
}

type goldenScenario struct {
	name  string
	only  string // "xml": the whole scenario runs in XML only
	steps []goldenStep
}

func TestGolden(t *testing.T) {
	scs := goldenScenarios()
	checkGoldenNames(t, scs)
	checkRoutesCovered(t, scs)
	for _, sc := range scs {
		for _, format := range []string{"xml", "json"} {
			if sc.only != "" && sc.only != format {
				continue
			}
			t.Run(sc.name+"/"+format, func(t *testing.T) {
				t.Parallel()
				runGoldenScenario(t, sc, format == "json")
			})
		}
	}
}

// goldenStepRuns reports whether a step runs in the given format.
func goldenStepRuns(st goldenStep, asJSON bool) bool {
	switch st.only {
	case "xml":
		return !asJSON
	case "json":
		return asJSON
	}
	return true
}

// goldenCType is the Content-Type a step must answer with.
func goldenCType(st goldenStep, asJSON bool) string {
	switch {
	case st.ctype != "":
		return st.ctype
	case asJSON:
		return "application/json"
	}
	return "application/xml"
}

// goldenFile names a step's golden file (relative to goldenDir) by the
// content type it must have.
func goldenFile(sc goldenScenario, st goldenStep, asJSON bool) string {
	ext := "xml"
	switch ct := goldenCType(st, asJSON); {
	case strings.HasPrefix(ct, "text/plain"):
		ext = "txt"
	case ct == "application/json":
		ext = "json"
	}
	return sc.name + "/" + st.name + "." + ext
}

// goldenDivergenceKey is the specDivergences key of a step.
func goldenDivergenceKey(sc goldenScenario, st goldenStep, asJSON bool) string {
	if st.empty {
		f := "xml"
		if asJSON {
			f = "json"
		}
		return sc.name + "/" + f + "/" + st.name
	}
	return goldenFile(sc, st, asJSON)
}

// checkGoldenNames fails on two steps sharing a golden file, on golden
// files no step uses (with -update: removes them), and on
// specDivergences entries that name no step.
func checkGoldenNames(t *testing.T, scs []goldenScenario) {
	t.Helper()
	used := map[string]bool{}
	keys := map[string]bool{}
	for _, sc := range scs {
		for _, format := range []string{"xml", "json"} {
			if sc.only != "" && sc.only != format {
				continue
			}
			asJSON := format == "json"
			steps := map[string]bool{}
			for _, st := range sc.steps {
				if st.name == "" || !goldenStepRuns(st, asJSON) {
					continue
				}
				if steps[st.name] {
					t.Fatalf("scenario %s: two steps named %s", sc.name, st.name)
				}
				steps[st.name] = true
				keys[goldenDivergenceKey(sc, st, asJSON)] = true
				if st.empty {
					continue
				}
				f := goldenFile(sc, st, asJSON)
				if used[f] {
					t.Fatalf("golden file %s is used by two steps (a text/plain step must run in one format only)", f)
				}
				used[f] = true
			}
		}
	}
	for k := range specDivergences {
		if !keys[k] {
			t.Errorf("specDivergences names %s, which no step produces", k)
		}
	}
	_ = filepath.WalkDir(goldenDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(goldenDir, path)
		rel = filepath.ToSlash(rel)
		if used[rel] {
			return nil
		}
		if *updateGolden {
			t.Logf("removing unused golden file %s", rel)
			return os.Remove(path)
		}
		t.Errorf("golden file %s is not used by any step (run with -update to remove it)", rel)
		return nil
	})
}

// checkRoutesCovered fails when a route of routes.go has no step: a new
// endpoint needs its golden files.
func checkRoutesCovered(t *testing.T, scs []goldenScenario) {
	t.Helper()
	src, err := os.ReadFile("routes.go")
	if err != nil {
		t.Fatal(err)
	}
	routes := regexp.MustCompile(`\{"(GET|POST|PUT|DELETE)", "(/[^"]*)", s\.`).FindAllStringSubmatch(string(src), -1)
	if len(routes) < 40 {
		t.Fatalf("found only %d routes in routes.go: has its table changed shape?", len(routes))
	}
	for _, rt := range routes {
		var parts []string // {token} matches any one segment
		for _, seg := range strings.Split(rt[2], "/") {
			if strings.HasPrefix(seg, "{") {
				seg = "[^/]+"
			} else {
				seg = regexp.QuoteMeta(seg)
			}
			parts = append(parts, seg)
		}
		re := regexp.MustCompile("^" + strings.Join(parts, "/") + "$")
		found := false
		for _, sc := range scs {
			for _, st := range sc.steps {
				p, _, _ := strings.Cut(st.path, "?")
				if st.root {
					p = strings.TrimPrefix(p, "/rest/usermanagement/latest")
				}
				method := st.method
				if method == "" {
					method = "GET"
				}
				found = found || method == rt[1] && re.MatchString(p)
			}
		}
		if !found {
			t.Errorf("route %s %s has no golden step", rt[1], rt[2])
		}
	}
}

var goldenVarRef = regexp.MustCompile(`\{[a-z0-9]+\}`)

func runGoldenScenario(t *testing.T, sc goldenScenario, asJSON bool) {
	e := newEnv(t)
	host := strings.TrimPrefix(strings.TrimSuffix(e.base, "/rest/usermanagement/1"), "http://")
	n := newGoldenNormalizer(host)
	vars := map[string]string{}
	// The key of the local Alice, shadowed by staff's alice: no request
	// shows it, so it comes from the store.
	if rec, ok := e.store.UpstreamUser("internal", "Alice"); ok && rec.ExternalID != "" {
		vars["shadowedkey"] = "2:" + rec.ExternalID
	}
	for _, st := range sc.steps {
		if !goldenStepRuns(st, asJSON) {
			continue
		}
		path := goldenVarRef.ReplaceAllStringFunc(st.path, func(ref string) string {
			v, ok := vars[ref[1:len(ref)-1]]
			if !ok {
				t.Fatalf("step %s: %s was not captured by an earlier step", st.name, ref)
			}
			return v
		})
		c := call{app: st.app, method: st.method, path: path, body: st.xbody, json: asJSON, header: st.header}
		if asJSON {
			if st.jbody != "" {
				c.body = st.jbody
			} else if st.xbody != "" {
				c.ctype = "application/xml; charset=UTF-8" // request and response formats are independent (T4)
			}
		}
		var r response
		if st.noAccept || st.root {
			r = goldenSendRaw(t, e, c, st.noAccept, st.root)
		} else {
			r = e.do(t, c)
		}
		for v, re := range st.capture {
			m := regexp.MustCompile(re).FindStringSubmatch(r.body)
			val := ""
			for _, g := range m[min(len(m), 1):] {
				if g != "" {
					val = g
					break
				}
			}
			if val == "" {
				t.Fatalf("%s %s → %d: cannot capture %s (%s) from\n%s", c.method, path, r.status, v, re, r.body)
			}
			vars[v] = val
		}
		body := n.apply(r.body)
		loc := n.apply(r.header.Get("Location"))
		if st.name == "" {
			if r.status != st.status {
				t.Fatalf("setup %s %s: status %d, want %d\n%s", st.method, path, r.status, st.status, body)
			}
			continue
		}
		label := st.name
		key := goldenDivergenceKey(sc, st, asJSON)
		why, divergent := specDivergences[key]
		if divergent {
			label = "SPEC_DIVERGENT_" + st.name
		}
		t.Run(label, func(t *testing.T) {
			ok := checkGoldenStep(t, sc, st, asJSON, c, r, body, loc)
			if st.check != nil && r.status == st.status {
				st.check(t, r.body, asJSON)
			}
			if divergent {
				if ok {
					t.Logf("%s now matches the spec: remove it from specDivergences", key)
				} else {
					t.Logf("known divergence from the spec: %s", why)
				}
			}
		})
	}
}

// checkGoldenStep compares one response with its step; it reports whether all
// matched.
func checkGoldenStep(t *testing.T, sc goldenScenario, st goldenStep, asJSON bool, c call, r response, body, loc string) bool {
	t.Helper()
	failed := false
	app, _, _ := strings.Cut(c.app, ":")
	if app == "" {
		app = "jira"
	}
	errorf := func(format string, args ...any) {
		t.Helper()
		failed = true
		t.Errorf("%s %s (as %s): "+format, append([]any{c.method, c.path, app}, args...)...)
	}
	if r.status != st.status {
		errorf("status %d, want %d", r.status, st.status)
	}
	if st.status != http.StatusNoContent {
		if got, want := r.header.Get("Content-Type"), goldenCType(st, asJSON); got != want {
			errorf("Content-Type %q, want %q", got, want)
		}
	}
	if loc != st.location {
		errorf("Location %q, want %q", loc, st.location)
	}
	for k, want := range st.headers {
		if got := strings.Join(r.header.Values(k), ", "); got != want {
			errorf("%s %q, want %q", k, got, want)
		}
	}
	// T12: nothing that lets the Java client's HTTP cache keep answers.
	if cc := r.header.Get("Cache-Control"); strings.Contains(cc, "max-age") || r.header.Get("Expires") != "" {
		errorf("caching headers: Cache-Control %q, Expires %q", cc, r.header.Get("Expires"))
	}
	if st.empty {
		if r.body != "" {
			errorf("want no body, got %q", r.body)
		}
		return !failed
	}
	file := goldenFile(sc, st, asJSON)
	path := filepath.Join(goldenDir, filepath.FromSlash(file))
	_, divergent := specDivergences[file]
	if *updateGolden && !divergent && !failed {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return !failed
	}
	if *updateGolden && !divergent {
		t.Logf("%s not rewritten: the status or headers are wrong", file)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		errorf("no golden file (run with -update): %v\ngot:\n%s", err, body)
		return false
	}
	if w := strings.TrimSuffix(string(want), "\n"); w != body {
		errorf("body differs from %s:\n%s", file, goldenDiff(w, body))
	}
	return !failed
}

// goldenDiff shows where two one-line documents part.
func goldenDiff(want, got string) string {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	from := max(0, i-80)
	cut := func(s string) string {
		end := min(len(s), i+120)
		if from >= end {
			return "…"
		}
		return "…" + s[from:end] + "…"
	}
	return fmt.Sprintf("first difference at byte %d\n want: %s\n  got: %s\nfull got:\n%s", i, cut(want), cut(got), got)
}

// goldenSendRaw is e.do for what it cannot express: no Accept header at
// all, or a path from the server root (the /latest alias).
func goldenSendRaw(t *testing.T, e *env, c call, noAccept, root bool) response {
	t.Helper()
	u := e.base + c.path
	if root {
		u = strings.TrimSuffix(e.base, "/rest/usermanagement/1") + c.path
	}
	method := c.method
	if method == "" {
		method = "GET"
	}
	req, err := http.NewRequest(method, u, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	app := c.app
	if app == "" {
		app = "jira:jira-pw"
	}
	name, pw, _ := strings.Cut(app, ":")
	req.SetBasicAuth(name, pw)
	if !noAccept {
		if c.json {
			req.Header.Set("Accept", "application/json")
		} else {
			req.Header.Set("Accept", "application/xml")
		}
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/xml; charset=UTF-8")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("X-Embedded-Crowd-Version") == "" {
		t.Errorf("%s %s: no X-Embedded-Crowd-Version header", method, u)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// goldenNormalizer turns what varies between runs into placeholders; one
// scenario run uses one, from one goroutine.
type goldenNormalizer struct {
	host   string
	subst  map[string]string // value → placeholder
	order  []string          // values, longest first when replacing
	counts map[string]int
}

func newGoldenNormalizer(host string) *goldenNormalizer {
	return &goldenNormalizer{host: host, subst: map[string]string{}, counts: map[string]int{}}
}

const (
	fixedXMLTime  = "2026-01-02T03:04:05.000Z"
	fixedJSONTime = "1767323045000"
)

var (
	// Session tokens: 24 alphanumerics (§5.6) wherever a token is shown.
	reSessionToken = regexp.MustCompile(`<token>([A-Za-z0-9]{24})</token>|"token":"([A-Za-z0-9]{24})"|/session/([A-Za-z0-9]{24})\b`)
	// Event tokens: the journal's epoch and sequence number.
	reEventToken = regexp.MustCompile(`newEventToken="([0-9a-f]+:[0-9]+)"|"newEventToken":"([0-9a-f]+:[0-9]+)"`)
	// External IDs of local entries: random UUIDs.
	reLocalID = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	// Dates of entries made during the test.
	reXMLDate  = regexp.MustCompile(`<(created-date|updated-date|expiry-date)>([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}(?:Z|[+-][0-9]{2}:[0-9]{2}))</`)
	reJSONDate = regexp.MustCompile(`"(created-date|updated-date|expiry-date)":(-?[0-9]+)([,}])`)
)

func (n *goldenNormalizer) register(kind, value string) {
	if _, ok := n.subst[value]; ok {
		return
	}
	n.counts[kind]++
	n.subst[value] = fmt.Sprintf("%s-%d", kind, n.counts[kind])
	n.order = append(n.order, value)
	sort.SliceStable(n.order, func(i, j int) bool { return len(n.order[i]) > len(n.order[j]) })
}

func (n *goldenNormalizer) apply(s string) string {
	s = strings.ReplaceAll(s, "http://"+n.host, "http://HOST")
	for _, m := range reSessionToken.FindAllStringSubmatch(s, -1) {
		for _, g := range m[1:] {
			if g != "" {
				n.register("SESSION", g)
			}
		}
	}
	for _, m := range reEventToken.FindAllStringSubmatch(s, -1) {
		for _, g := range m[1:] {
			if g != "" {
				n.register("EVENT", g)
			}
		}
	}
	for _, id := range reLocalID.FindAllString(s, -1) {
		n.register("LOCAL-ID", id)
	}
	for _, v := range n.order {
		s = strings.ReplaceAll(s, v, n.subst[v])
	}
	s = reXMLDate.ReplaceAllStringFunc(s, func(m string) string {
		g := reXMLDate.FindStringSubmatch(m)
		if g[2] == fixedXMLTime {
			return m
		}
		return "<" + g[1] + ">DATETIME</"
	})
	s = reJSONDate.ReplaceAllStringFunc(s, func(m string) string {
		g := reJSONDate.FindStringSubmatch(m)
		if g[2] == fixedJSONTime {
			return m
		}
		return `"` + g[1] + `":EPOCH-MILLIS` + g[3]
	})
	return s
}

// sessionLifetime checks a session's expiry-date - created-date, read as
// T11 says: xsd:dateTime in XML, epoch milliseconds in JSON.
func sessionLifetime(want time.Duration) func(t *testing.T, raw string, asJSON bool) {
	return func(t *testing.T, raw string, asJSON bool) {
		t.Helper()
		var created, expiry time.Time
		if asJSON {
			var j struct {
				Created *int64 `json:"created-date"`
				Expiry  *int64 `json:"expiry-date"`
			}
			if err := json.Unmarshal([]byte(raw), &j); err != nil || j.Created == nil || j.Expiry == nil {
				t.Fatalf("session dates: %v in %s", err, raw)
			}
			created, expiry = time.UnixMilli(*j.Created), time.UnixMilli(*j.Expiry)
		} else {
			var x struct {
				Created string `xml:"created-date"`
				Expiry  string `xml:"expiry-date"`
			}
			if err := xml.Unmarshal([]byte(raw), &x); err != nil {
				t.Fatalf("session dates: %v in %s", err, raw)
			}
			var err1, err2 error
			created, err1 = time.Parse(time.RFC3339Nano, x.Created)
			expiry, err2 = time.Parse(time.RFC3339Nano, x.Expiry)
			if err1 != nil || err2 != nil {
				t.Fatalf("session dates: %v, %v", err1, err2)
			}
		}
		if got := expiry.Sub(created); got != want {
			t.Errorf("session lifetime %v (created %v, expires %v), want %v", got, created, expiry, want)
		}
		if d := time.Since(created); d < -time.Minute || d > time.Hour {
			t.Errorf("session created %v, not now", created)
		}
	}
}

// Request bodies.
const (
	xNull                 = `<null-search-restriction/>`
	jNull                 = `{"restriction-type":"null-search-restriction"}`
	xAlicePw              = `<password><value>alice-pw</value></password>`
	jAlicePw              = `{"value":"alice-pw"}`
	textPlainUTF8         = "text/plain;charset=UTF-8"
	noCacheNoStore        = "no-cache, no-store"
	basicChallenge        = `BASIC realm="Crowd REST Service"`
	reSessionTokenCapture = `<token>([A-Za-z0-9]+)</token>|"token":"([A-Za-z0-9]+)"`
	reEventTokenCapture   = `newEventToken="([^"]+)"`
)

func xProp(name, typ, mode, value string) string {
	v := ""
	if mode != "NULL" {
		v = "<value>" + value + "</value>"
	}
	return "<property-search-restriction><property><name>" + name + "</name><type>" + typ + "</type></property><match-mode>" +
		mode + "</match-mode>" + v + "</property-search-restriction>"
}

func jProp(name, typ, mode, value string) string {
	v := ""
	if mode != "NULL" {
		v = `,"value":"` + value + `"`
	}
	return `{"restriction-type":"property-search-restriction","property":{"name":"` + name + `","type":"` + typ + `"},"match-mode":"` + mode + `"` + v + `}`
}

func xBool(logic string, rs ...string) string {
	return `<boolean-search-restriction boolean-logic="` + logic + `"><restrictions>` + strings.Join(rs, "") + `</restrictions></boolean-search-restriction>`
}

func jBool(logic string, rs ...string) string {
	return `{"restriction-type":"boolean-search-restriction","boolean-logic":"` + logic + `","restrictions":[` + strings.Join(rs, ",") + `]}`
}

func xPassword(pw string) string { return "<password><value>" + pw + "</value></password>" }
func jPassword(pw string) string { return `{"value":"` + pw + `"}` }

func xAuthContext(user, pw, addr string) string {
	return "<authentication-context><username>" + user + "</username><password>" + pw + "</password><validation-factors>" +
		"<validation-factor><name>remote_address</name><value>" + addr + "</value></validation-factor></validation-factors></authentication-context>"
}

func jAuthContext(user, pw, addr string) string {
	return `{"username":"` + user + `","password":"` + pw + `","validation-factors":{"validationFactors":[{"name":"remote_address","value":"` + addr + `"}]}}`
}

func xFactors(addr string) string {
	return "<validation-factors><validation-factor><name>remote_address</name><value>" + addr + "</value></validation-factor></validation-factors>"
}

func jFactors(addr string) string {
	return `{"validationFactors":[{"name":"remote_address","value":"` + addr + `"}]}`
}

func xGroupRef(name string) string { return `<group name="` + name + `"/>` }
func jGroupRef(name string) string { return `{"name":"` + name + `"}` }
func xUserRef(name string) string  { return `<user name="` + name + `"/>` }
func jUserRef(name string) string  { return `{"name":"` + name + `"}` }

const (
	xDave = `<user name="dave"><first-name>Dave</first-name><last-name>Lister</last-name><display-name>Dave Lister</display-name>` +
		`<email>dave@example.com</email><active>true</active><password><value>dave-pw</value></password>` +
		`<attributes><attribute name="shift"><values><value>night</value></values></attribute></attributes></user>`
	jDave = `{"name":"dave","first-name":"Dave","last-name":"Lister","display-name":"Dave Lister","email":"dave@example.com",` +
		`"active":true,"password":{"value":"dave-pw"},"attributes":{"attributes":[{"name":"shift","values":["night"]}]}}`
	// The update bodies are what clients send back: the whole entity as
	// read, output-only fields included (P1 PUTs the GET JSON).
	xDaveUpdate = `<user name="dave" expand="attributes"><link href="http://x/user?username=dave" rel="self"/><first-name>David</first-name>` +
		`<last-name>Lister</last-name><display-name>David Lister</display-name><email>david@example.com</email><active>false</active></user>`
	jDaveUpdate = `{"expand":"attributes","link":{"href":"http://x/user?username=dave","rel":"self"},"name":"dave","first-name":"David",` +
		`"last-name":"Lister","display-name":"David Lister","email":"david@example.com","active":false,"attributes":{"attributes":[]}}`
	xAttrs = `<attributes><attribute name="colour"><values><value>red</value><value>green</value></values></attribute>` +
		`<attribute name="shift"><values><value>day</value></values></attribute></attributes>`
	jAttrs   = `{"attributes":[{"name":"colour","values":["red","green"]},{"name":"shift","values":["day"]}]}`
	xTesters = `<group name="testers"><description>Testers</description><type>GROUP</type><active>true</active></group>`
	// G2 sends active as a string.
	jTesters       = `{"name":"testers","type":"GROUP","description":"Testers","active":"true"}`
	xTestersUpdate = `<group name="testers"><description>QA people</description><type>GROUP</type><active>false</active></group>`
	jTestersUpdate = `{"name":"testers","type":"GROUP","description":"QA people","active":false}`
)

func goldenScenarios() []goldenScenario {
	const (
		reCarolKey = `<key>(2:[^<]+)</key>|"key":"(2:[^"]+)"`
		conf       = "conf:conf-pw"
		base       = "http://HOST/rest/usermanagement/1"
	)
	searchHdr := map[string]string{"Cache-Control": noCacheNoStore}
	read := goldenScenario{name: "read", steps: []goldenStep{
		// GET /user (§5.1, §4.2)
		{name: "user", path: "/user?username=alice", status: 200},
		{name: "user_case_insensitive", path: "/user?username=ALICE", status: 200},
		{name: "user_expand_attributes", path: "/user?username=alice&expand=attributes", status: 200},
		{name: "user_inactive", path: "/user?username=bob", status: 200},
		{name: "user_no_last_name", path: "/user?username=erin", status: 200},
		{name: "user_local", path: "/user?username=carol", status: 200, capture: map[string]string{"carolkey": reCarolKey}},
		{name: "user_by_key", path: "/user?key=1:ext-ua", status: 200},
		{name: "user_by_key_local", path: "/user?key={carolkey}", status: 200},
		{name: "user_by_key_not_found", path: "/user?key=1:ext-nobody", status: 404},
		// The local Alice is shadowed by staff's alice: her key finds nobody (§11).
		{name: "user_by_key_shadowed", path: "/user?key={shadowedkey}", status: 404},
		{name: "user_not_found", path: "/user?username=nobody", status: 404},
		{name: "user_no_username", path: "/user", status: 400},
		// T8: + is a space in a query; §3: characters XML cannot carry are
		// stripped from messages (in JSON too).
		{name: "user_not_found_odd_name", path: "/user?username=no+body%01", status: 404},
		{name: "user_no_accept", path: "/user?username=erin", status: 200, noAccept: true, only: "xml"},
		{name: "user_not_found_no_accept", path: "/user?username=nobody", status: 404, noAccept: true, only: "xml"},
		{name: "user_latest_alias", path: "/rest/usermanagement/latest/user?username=erin", root: true, status: 200},
		{name: "user_attribute", path: "/user/attribute?username=alice", status: 200},
		{name: "user_attribute_none", path: "/user/attribute?username=erin", status: 200},
		{name: "user_attribute_not_found", path: "/user/attribute?username=nobody", status: 404},
		// GET /user/group/direct|nested
		{name: "user_group_direct", path: "/user/group/direct?username=alice", status: 200},
		{name: "user_group_direct_expand", path: "/user/group/direct?username=alice&expand=group", status: 200},
		{name: "user_group_direct_expand_attributes", path: "/user/group/direct?username=alice&expand=group,attributes", status: 200},
		{name: "user_group_direct_one", path: "/user/group/direct?username=alice&groupname=DEVS", status: 200},
		{name: "user_group_direct_one_not_member", path: "/user/group/direct?username=alice&groupname=staff", status: 404},
		{name: "user_group_direct_no_user", path: "/user/group/direct?username=nobody", status: 404},
		{name: "user_group_direct_none", path: "/user/group/direct?username=erin", status: 200},
		{name: "user_group_direct_probe", path: "/user/group/direct?username=alice&groupname=devs", noAccept: true, only: "xml", status: 200},
		{name: "user_group_nested", path: "/user/group/nested?username=alice", status: 200},
		{name: "user_group_nested_expand", path: "/user/group/nested?username=alice&expand=group", status: 200},
		{name: "user_group_nested_page", path: "/user/group/nested?username=alice&start-index=1&max-results=1", status: 200},
		{name: "user_group_nested_all", path: "/user/group/nested?username=alice&start-index=0&max-results=-1", status: 200},
		{name: "user_group_nested_one", path: "/user/group/nested?username=alice&groupname=all", status: 200},
		{name: "user_group_nested_one_not_member", path: "/user/group/nested?username=alice&groupname=ops", status: 404},
		{name: "user_group_nested_bad_page", path: "/user/group/nested?username=alice&max-results=x", status: 400},
		// GET /group (§5.3, §4.3)
		{name: "group", path: "/group?groupname=devs", status: 200},
		{name: "group_expand_attributes", path: "/group?groupname=devs&expand=attributes", status: 200},
		{name: "group_no_description", path: "/group?groupname=ALL", status: 200},
		{name: "group_not_found", path: "/group?groupname=nogroup", status: 404},
		{name: "group_no_groupname", path: "/group", status: 400},
		{name: "group_attribute", path: "/group/attribute?groupname=devs", status: 200},
		{name: "group_attribute_not_found", path: "/group/attribute?groupname=nogroup", status: 404},
		// GET /group/user/direct|nested
		{name: "group_user_direct", path: "/group/user/direct?groupname=devs", status: 200},
		{name: "group_user_direct_expand", path: "/group/user/direct?groupname=devs&expand=user", status: 200},
		{name: "group_user_direct_expand_attributes", path: "/group/user/direct?groupname=devs&expand=user&expand=attributes", status: 200},
		{name: "group_user_direct_one", path: "/group/user/direct?groupname=devs&username=Carol", status: 200},
		{name: "group_user_direct_one_not_member", path: "/group/user/direct?groupname=devs&username=erin", status: 404},
		{name: "group_user_direct_probe", path: "/group/user/direct?groupname=devs&username=alice", noAccept: true, only: "xml", status: 200},
		{name: "group_user_direct_empty", path: "/group/user/direct?groupname=all", status: 200},
		{name: "group_user_direct_no_group", path: "/group/user/direct?groupname=nogroup", status: 404},
		{name: "group_user_nested", path: "/group/user/nested?groupname=staff", status: 200},
		{name: "group_user_nested_expand", path: "/group/user/nested?groupname=staff&expand=user&max-results=-1", status: 200},
		{name: "group_user_nested_one", path: "/group/user/nested?groupname=all&username=bob", status: 200},
		{name: "group_user_nested_one_not_member", path: "/group/user/nested?groupname=all&username=erin", status: 404},
		// child and parent groups
		{name: "group_child_direct", path: "/group/child-group/direct?groupname=staff", status: 200},
		{name: "group_child_direct_expand", path: "/group/child-group/direct?groupname=staff&expand=group", status: 200},
		{name: "group_child_direct_one", path: "/group/child-group/direct?groupname=staff&child-groupname=ops", status: 200},
		{name: "group_child_direct_one_not_member", path: "/group/child-group/direct?groupname=all&child-groupname=ops", status: 404},
		{name: "group_child_direct_empty", path: "/group/child-group/direct?groupname=devs", status: 200},
		{name: "group_child_nested", path: "/group/child-group/nested?groupname=all", status: 200},
		{name: "group_child_nested_expand", path: "/group/child-group/nested?groupname=all&expand=group", status: 200},
		{name: "group_child_nested_one", path: "/group/child-group/nested?groupname=all&child-groupname=devs", status: 200},
		{name: "group_child_no_group", path: "/group/child-group/nested?groupname=nogroup", status: 404},
		{name: "group_parent_direct", path: "/group/parent-group/direct?groupname=devs", status: 200},
		{name: "group_parent_direct_expand", path: "/group/parent-group/direct?groupname=devs&expand=group", status: 200},
		{name: "group_parent_direct_one", path: "/group/parent-group/direct?groupname=devs&parent-groupname=staff", status: 200},
		{name: "group_parent_direct_one_2x_param", path: "/group/parent-group/direct?groupname=devs&child-groupname=staff", status: 200},
		{name: "group_parent_direct_one_not_member", path: "/group/parent-group/direct?groupname=devs&parent-groupname=all", status: 404},
		{name: "group_parent_direct_empty", path: "/group/parent-group/direct?groupname=all", status: 200},
		{name: "group_parent_nested", path: "/group/parent-group/nested?groupname=devs", status: 200},
		{name: "group_parent_nested_expand", path: "/group/parent-group/nested?groupname=devs&expand=group", status: 200},
		{name: "group_parent_nested_one", path: "/group/parent-group/nested?groupname=devs&parent-groupname=all", status: 200},
		{name: "group_parent_no_group", path: "/group/parent-group/direct?groupname=nogroup", status: 404},
		// GET /group/membership: XML whatever the Accept (§5.4)
		{name: "membership", path: "/group/membership", status: 200, only: "xml"},
		{name: "membership_accept_json", path: "/group/membership", status: 200, only: "xml",
			header: map[string]string{"Accept": "application/json"}, ctype: "application/xml"},
		// POST /search (§5.5, §6.1)
		{name: "search_user_null", method: "POST", path: "/search?entity-type=user", xbody: xNull, jbody: jNull, status: 200, headers: searchHdr},
		{name: "search_user_null_expand", method: "POST", path: "/search?entity-type=user&start-index=0&max-results=-1&expand=user",
			xbody: xNull, jbody: jNull, status: 200, headers: searchHdr},
		{name: "search_user_expand_attributes", method: "POST", path: "/search?entity-type=user&max-results=-1&expand=user,attributes",
			xbody: xNull, jbody: jNull, status: 200},
		{name: "search_user_xml_body", method: "POST", path: "/search?entity-type=user&expand=user",
			xbody: xProp("email", "STRING", "CONTAINS", "ERIN"), status: 200, only: "json"},
		{name: "search_user_property", method: "POST", path: "/search?entity-type=user&expand=user",
			xbody: xProp("email", "STRING", "EXACTLY_MATCHES", "alice@example.com"), jbody: jProp("email", "STRING", "EXACTLY_MATCHES", "alice@example.com"), status: 200},
		{name: "search_user_property_contains", method: "POST", path: "/search?entity-type=user",
			xbody: xProp("name", "STRING", "CONTAINS", "o"), jbody: jProp("name", "STRING", "CONTAINS", "o"), status: 200},
		{name: "search_user_property_attribute", method: "POST", path: "/search?entity-type=user",
			xbody: xProp("team", "STRING", "EXACTLY_MATCHES", "blue"), jbody: jProp("team", "STRING", "EXACTLY_MATCHES", "blue"), status: 200},
		{name: "search_user_boolean", method: "POST", path: "/search?entity-type=user&expand=user",
			xbody:  xBool("AND", xProp("active", "BOOLEAN", "EXACTLY_MATCHES", "true"), xBool("or", xProp("firstName", "STRING", "STARTS_WITH", "a"), xProp("lastName", "STRING", "ENDS_WITH", "VERS"))),
			jbody:  jBool("AND", jProp("active", "BOOLEAN", "EXACTLY_MATCHES", "true"), jBool("or", jProp("firstName", "STRING", "STARTS_WITH", "a"), jProp("lastName", "STRING", "ENDS_WITH", "VERS"))),
			status: 200},
		// Bounded on both sides: the local users are created "now".
		{name: "search_user_date", method: "POST", path: "/search?entity-type=user",
			xbody: xBool("AND", xProp("createdDate", "DATE", "GREATER_THAN", "2026-01-02T03:04:04.000+0000"), xProp("createdDate", "DATE", "LESS_THAN", "2026-01-02T04:04:06.000+0100")),
			jbody: jBool("AND", jProp("createdDate", "DATE", "GREATER_THAN", "2026-01-02T03:04:04.000+0000"), jProp("createdDate", "DATE", "LESS_THAN", "2026-01-02T04:04:06.000+0100")), status: 200},
		// Jira's test-connection probe.
		{name: "search_user_probe", method: "POST", path: "/search?entity-type=user&start-index=0&max-results=1&expand=user",
			xbody: xProp("name", "STRING", "NULL", ""), jbody: jProp("name", "STRING", "NULL", ""), status: 200},
		{name: "search_user_page", method: "POST", path: "/search?entity-type=user&start-index=1&max-results=2", xbody: xNull, jbody: jNull, status: 200},
		{name: "search_entity_type_case", method: "POST", path: "/search?entity-type=USER", xbody: xNull, jbody: jNull, status: 200},
		{name: "search_group_null", method: "POST", path: "/search?entity-type=group&max-results=-1", xbody: xNull, jbody: jNull, status: 200},
		{name: "search_group_expand", method: "POST", path: "/search?entity-type=group&max-results=-1&expand=group", xbody: xNull, jbody: jNull, status: 200},
		{name: "search_group_expand_attributes", method: "POST", path: "/search?entity-type=group&expand=group,attributes", xbody: xNull, jbody: jNull, status: 200},
		{name: "search_group_property", method: "POST", path: "/search?entity-type=group&expand=group",
			xbody: xProp("name", "STRING", "EXACTLY_MATCHES", "DEVS"), jbody: jProp("name", "STRING", "EXACTLY_MATCHES", "DEVS"), status: 200},
		{name: "search_group_boolean", method: "POST", path: "/search?entity-type=group",
			xbody: xBool("OR", xProp("name", "STRING", "EXACTLY_MATCHES", "ops"), xProp("description", "STRING", "STARTS_WITH", "every")),
			jbody: jBool("OR", jProp("name", "STRING", "EXACTLY_MATCHES", "ops"), jProp("description", "STRING", "STARTS_WITH", "every")), status: 200},
		{name: "search_no_entity_type", method: "POST", path: "/search", xbody: xNull, jbody: jNull, status: 400},
		{name: "search_bad_entity_type", method: "POST", path: "/search?entity-type=role", xbody: xNull, jbody: jNull, status: 400},
		{name: "search_bad_restriction", method: "POST", path: "/search?entity-type=user",
			xbody: xProp("name", "STRING", "SOUNDS_LIKE", "x"), jbody: jProp("name", "STRING", "SOUNDS_LIKE", "x"), status: 400},
		// GET /search (§6.2)
		{name: "search_cql_user", path: "/search?entity-type=user&restriction=email%3Dalice%40example.com", status: 200, headers: searchHdr},
		{name: "search_cql_user_expand", path: "/search?entity-type=user&expand=user&restriction=" +
			"firstName+%3D+%22Alice%22+and+active+%3D+true", status: 200},
		{name: "search_cql_wildcard", path: "/search?entity-type=user&restriction=name%3D%22*o*%22", status: 200},
		{name: "search_cql_blank", path: "/search?entity-type=group&restriction=", status: 200},
		{name: "search_cql_group", path: "/search?entity-type=group&expand=group&restriction=name%3Dstaff+or+name%3Dops", status: 200},
		{name: "search_cql_invalid", path: "/search?entity-type=user&restriction=name%3D%3D", status: 400},
		// GET /config/cookie (§4.6)
		{name: "config_cookie", path: "/config/cookie", status: 200},
		// POST /authentication/notify (§5.1)
		{name: "authentication_notify", method: "POST", path: "/authentication/notify?username=alice", xbody: `<password/>`, jbody: `{}`, status: 200},
		{name: "authentication_notify_not_found", method: "POST", path: "/authentication/notify?username=nobody", xbody: `<password/>`, jbody: `{}`, status: 404},
		// Authenticated, unknown path: 404 (P1's auth_ping).
		{name: "unknown_path", path: "/no/such/resource", status: 404},
	}}

	confView := goldenScenario{name: "conf", steps: []goldenStep{
		// Lower-case output, memberships of the canonical directory only.
		{name: "user", app: conf, path: "/user?username=Bob", status: 200},
		{name: "group_user_direct_expand", app: conf, path: "/group/user/direct?groupname=OPS&expand=user", status: 200},
		{name: "group_user_direct", app: conf, path: "/group/user/direct?groupname=devs", status: 200},
		{name: "user_group_nested", app: conf, path: "/user/group/nested?username=carol", status: 200},
		{name: "membership", app: conf, path: "/group/membership", status: 200, only: "xml"},
		{name: "search_cql", app: conf, path: "/search?entity-type=user&expand=user&restriction=name%3DBob", status: 200},
		{name: "authentication", app: conf, method: "POST", path: "/authentication?username=ALICE", xbody: xAlicePw, jbody: jAlicePw, status: 200},
		// erin is not in staff, conf's allowed group: 400, never 403 (§5.2).
		{name: "authentication_not_allowed", app: conf, method: "POST", path: "/authentication?username=erin",
			xbody: xPassword("erin-pw"), jbody: jPassword("erin-pw"), status: 400},
		{name: "session_not_allowed", app: conf, method: "POST", path: "/session",
			xbody: xAuthContext("erin", "erin-pw", "192.0.2.1"), jbody: jAuthContext("erin", "erin-pw", "192.0.2.1"), status: 403},
		// conf may not write: APPLICATION_PERMISSION_DENIED as an error entity.
		{name: "user_create_denied", app: conf, method: "POST", path: "/user", xbody: xDave, jbody: jDave, status: 403},
		{name: "group_delete_denied", app: conf, method: "DELETE", path: "/group?groupname=jira-users", status: 403},
	}}

	auth := goldenScenario{name: "auth", steps: []goldenStep{
		// POST /authentication (§5.2)
		{name: "authentication", method: "POST", path: "/authentication?username=alice", xbody: xAlicePw, jbody: jAlicePw, status: 200},
		{name: "authentication_local", method: "POST", path: "/authentication?username=CAROL", xbody: xPassword("carol-pw"), jbody: jPassword("carol-pw"), status: 200},
		{name: "authentication_expand_attributes", method: "POST", path: "/authentication?username=alice&expand=attributes",
			xbody: xAlicePw, jbody: jAlicePw, status: 200},
		{name: "authentication_wrong_password", method: "POST", path: "/authentication?username=alice", xbody: xPassword("nope"), jbody: jPassword("nope"), status: 400},
		{name: "authentication_unknown_user", method: "POST", path: "/authentication?username=nobody", xbody: xPassword("x"), jbody: jPassword("x"), status: 400},
		{name: "authentication_inactive", method: "POST", path: "/authentication?username=Bob", xbody: xPassword("Bob-pw"), jbody: jPassword("Bob-pw"), status: 400},
		{name: "authentication_empty_password", method: "POST", path: "/authentication?username=erin", xbody: `<password><value></value></password>`, jbody: `{"value":""}`, status: 400},
		{name: "authentication_no_username", method: "POST", path: "/authentication", xbody: xAlicePw, jbody: jAlicePw, status: 400},
		// Application authentication (§2): 401 challenge, 403 address.
		{name: "app_no_credentials", app: "-", path: "/user?username=alice", status: 401, ctype: textPlainUTF8, only: "xml",
			headers: map[string]string{"WWW-Authenticate": basicChallenge}},
		{name: "app_unknown", app: "nobody:nobody-pw", path: "/user?username=alice", status: 401, ctype: textPlainUTF8, only: "xml",
			headers: map[string]string{"WWW-Authenticate": basicChallenge}},
		{name: "app_wrong_password", app: "jira:wrong", path: "/user?username=alice", status: 401, ctype: textPlainUTF8, only: "xml",
			headers: map[string]string{"WWW-Authenticate": basicChallenge}},
		{name: "app_wrong_password_accept_json", app: "jira:wrong", path: "/user?username=alice", status: 401, ctype: textPlainUTF8, only: "json",
			headers: map[string]string{"WWW-Authenticate": basicChallenge}},
		{name: "app_unknown_path", app: "-", path: "/no/such/resource", status: 401, ctype: textPlainUTF8, only: "xml",
			headers: map[string]string{"WWW-Authenticate": basicChallenge}},
		{name: "app_address_forbidden", app: "far:far-pw", path: "/user?username=alice", status: 403, ctype: textPlainUTF8, only: "xml",
			headers: map[string]string{"WWW-Authenticate": ""}},
		// The address is checked before the password.
		{name: "app_address_forbidden_wrong_password", app: "far:wrong", path: "/user?username=alice", status: 403, ctype: textPlainUTF8, only: "xml"},
	}}

	sessionHdr := map[string]string{"Cache-Control": noCacheNoStore}
	session := goldenScenario{name: "session", steps: []goldenStep{
		// Sessions (§5.6, §4.6)
		{name: "create", method: "POST", path: "/session", xbody: xAuthContext("alice", "alice-pw", "192.0.2.1"),
			jbody: jAuthContext("alice", "alice-pw", "192.0.2.1"), status: 201, location: base + "/session/SESSION-1",
			headers: sessionHdr, capture: map[string]string{"tok": reSessionTokenCapture}, check: sessionLifetime(30 * time.Minute)},
		{name: "get", path: "/session/{tok}", status: 200, headers: sessionHdr},
		{name: "get_expand_user", path: "/session/{tok}?expand=user", status: 200},
		{name: "validate", method: "POST", path: "/session/{tok}", xbody: xFactors("192.0.2.1"), jbody: jFactors("192.0.2.1"), status: 200, headers: sessionHdr},
		// §12.12: the other spelling of the factor list.
		{name: "validate_other_spelling", method: "POST", path: "/session/{tok}", jbody: `{"validation-factor":[{"name":"remote_address","value":"192.0.2.1"}]}`,
			status: 200, only: "json"},
		{name: "validate_no_factors", method: "POST", path: "/session/{tok}?expand=user", xbody: `<validation-factors/>`, jbody: `{}`, status: 200},
		{name: "validate_other_address", method: "POST", path: "/session/{tok}", xbody: xFactors("192.0.2.99"), jbody: jFactors("192.0.2.99"), status: 404},
		// Single sign-on: another application validates the same token
		// (§8), and sees the user its own way (conf: lower case)...
		{name: "get_other_application", app: conf, path: "/session/{tok}", status: 200},
		{name: "validate_other_application", app: conf, method: "POST", path: "/session/{tok}", xbody: xFactors("192.0.2.1"), jbody: jFactors("192.0.2.1"), status: 200},
		// ...but only for a user allowed to use it (erin is not in staff).
		{method: "POST", path: "/session", xbody: xAuthContext("erin", "erin-pw", "192.0.2.3"), jbody: jAuthContext("erin", "erin-pw", "192.0.2.3"),
			status: 201, capture: map[string]string{"erin": reSessionTokenCapture}},
		{name: "get_other_application_not_allowed", app: conf, path: "/session/{erin}", status: 404},
		{name: "create_without_password", method: "POST", path: "/session?validate-password=false&duration=60",
			xbody: xAuthContext("carol", "", "192.0.2.2"), jbody: jAuthContext("carol", "", "192.0.2.2"), status: 201,
			location: base + "/session/SESSION-3", capture: map[string]string{"carol": reSessionTokenCapture}, check: sessionLifetime(time.Minute)},
		{name: "create_wrong_password", method: "POST", path: "/session", xbody: xAuthContext("erin", "nope", "192.0.2.1"),
			jbody: jAuthContext("erin", "nope", "192.0.2.1"), status: 400},
		{name: "create_unknown_user", method: "POST", path: "/session", xbody: xAuthContext("nobody", "x", "192.0.2.1"),
			jbody: jAuthContext("nobody", "x", "192.0.2.1"), status: 400},
		{name: "create_inactive", method: "POST", path: "/session", xbody: xAuthContext("Bob", "Bob-pw", "192.0.2.1"),
			jbody: jAuthContext("Bob", "Bob-pw", "192.0.2.1"), status: 400},
		{name: "get_invalid", path: "/session/invalidtoken0000", status: 404},
		{name: "validate_invalid", method: "POST", path: "/session/invalidtoken0000", xbody: xFactors("192.0.2.1"), jbody: jFactors("192.0.2.1"), status: 404},
		{name: "delete", method: "DELETE", path: "/session/{tok}", status: 204, empty: true},
		{name: "get_deleted", path: "/session/{tok}", status: 404},
		{name: "delete_unknown", method: "DELETE", path: "/session/invalidtoken0000", status: 204, empty: true},
		{name: "delete_user_sessions", method: "DELETE", path: "/session?username=carol", status: 204, empty: true},
		{name: "get_after_delete_user_sessions", path: "/session/{carol}", status: 404},
		{name: "delete_user_sessions_no_username", method: "DELETE", path: "/session", status: 400},
	}}

	write := goldenScenario{name: "write", steps: []goldenStep{
		// POST /user: 201, Location, the created user (§5.1, §12.11).
		{name: "user_create", method: "POST", path: "/user", xbody: xDave, jbody: jDave, status: 201, location: base + "/user?username=dave"},
		{name: "user_create_exists", method: "POST", path: "/user", xbody: xDave, jbody: jDave, status: 400},
		{name: "user_create_exists_upstream", method: "POST", path: "/user", xbody: `<user name="Erin"><active>true</active></user>`,
			jbody: `{"name":"Erin","active":true}`, status: 400},
		{name: "user_create_bad_name", method: "POST", path: "/user", xbody: `<user name=" eve"/>`, jbody: `{"name":" eve"}`, status: 400},
		{name: "user_get_created", path: "/user?username=dave&expand=attributes", status: 200},
		// PUT /user: 204 (§5.1).
		{name: "user_update", method: "PUT", path: "/user?username=dave", xbody: xDaveUpdate, jbody: jDaveUpdate, status: 204, empty: true},
		{name: "user_update_name_mismatch", method: "PUT", path: "/user?username=carol", xbody: xDaveUpdate, jbody: jDaveUpdate, status: 400},
		{name: "user_update_not_found", method: "PUT", path: "/user?username=nobody", xbody: `<user name="nobody"/>`, jbody: `{"name":"nobody"}`, status: 404},
		{name: "user_update_read_only", method: "PUT", path: "/user?username=alice", xbody: `<user name="alice"/>`, jbody: `{"name":"alice"}`, status: 403},
		{name: "user_get_updated", path: "/user?username=dave&expand=attributes", status: 200},
		// /user/attribute
		{name: "user_attribute_set", method: "POST", path: "/user/attribute?username=dave", xbody: xAttrs, jbody: jAttrs, status: 204, empty: true},
		{name: "user_attribute_after_set", path: "/user/attribute?username=dave", status: 200},
		{name: "user_attribute_delete", method: "DELETE", path: "/user/attribute?username=dave&attributename=colour", status: 204, empty: true},
		{name: "user_attribute_after_delete", path: "/user/attribute?username=dave", status: 200},
		{name: "user_attribute_delete_no_name", method: "DELETE", path: "/user/attribute?username=dave", status: 400},
		{name: "user_attribute_set_not_found", method: "POST", path: "/user/attribute?username=nobody", xbody: xAttrs, jbody: jAttrs, status: 404},
		// /user/password
		{name: "user_password_set", method: "PUT", path: "/user/password?username=dave", xbody: xPassword("new-pw"), jbody: jPassword("new-pw"), status: 204, empty: true},
		{name: "user_password_set_empty", method: "PUT", path: "/user/password?username=dave", xbody: xPassword(""), jbody: jPassword(""), status: 400},
		{name: "user_password_set_not_found", method: "PUT", path: "/user/password?username=nobody", xbody: xPassword("x"), jbody: jPassword("x"), status: 404},
		{name: "user_password_clear", method: "DELETE", path: "/user/password?username=dave", status: 204, empty: true},
		// Mail and password expiry: Crowd answers 204; dirgate sends no mail
		// and has no password expiry, and says so (400 UNSUPPORTED_OPERATION,
		// a documented limitation) rather than pretend.
		{name: "user_mail_password", method: "POST", path: "/user/mail/password?username=dave", status: 400},
		{name: "user_mail_usernames", method: "POST", path: "/user/mail/usernames?email=dave%40example.com", status: 400},
		{name: "user_expire_all_passwords", method: "POST", path: "/user/expire-all-passwords?confirm=true", status: 400},
		// POST /group: 201, Location; PUT /group: 200 and the group (§5.3).
		{name: "group_create", method: "POST", path: "/group", xbody: xTesters, jbody: jTesters, status: 201, location: base + "/group?groupname=testers"},
		{name: "group_create_exists", method: "POST", path: "/group", xbody: xTesters, jbody: jTesters, status: 400},
		{name: "group_update", method: "PUT", path: "/group?groupname=testers", xbody: xTestersUpdate, jbody: jTestersUpdate, status: 200},
		{name: "group_update_name_mismatch", method: "PUT", path: "/group?groupname=jira-users", xbody: xTestersUpdate, jbody: jTestersUpdate, status: 400},
		// devs exists in staff (canonical, read-only) and locally: updates go
		// to the canonical directory (§11), so this is refused.
		{name: "group_update_shadowed", method: "PUT", path: "/group?groupname=devs",
			xbody: `<group name="devs"><description>Local devs</description><active>true</active></group>`,
			jbody: `{"name":"devs","description":"Local devs","active":true}`, status: 403},
		{name: "group_update_not_found", method: "PUT", path: "/group?groupname=nogroup", xbody: `<group name="nogroup"/>`, jbody: `{"name":"nogroup"}`, status: 404},
		{name: "group_attribute_set", method: "POST", path: "/group/attribute?groupname=testers", xbody: xAttrs, jbody: jAttrs, status: 204, empty: true},
		{name: "group_attribute_delete", method: "DELETE", path: "/group/attribute?groupname=testers&attributename=shift", status: 204, empty: true},
		{name: "group_get_expand_attributes", path: "/group?groupname=testers&expand=attributes", status: 200},
		{name: "group_attribute_after", path: "/group/attribute?groupname=testers", status: 200},
		// Memberships: 201 with Location, 409 when present, 400 when the
		// body's entity is missing, 404 when the query's is (§3, §5).
		{name: "user_group_add", method: "POST", path: "/user/group/direct?username=dave", xbody: xGroupRef("testers"), jbody: jGroupRef("testers"),
			status: 201, empty: true, location: base + "/user/group/direct?username=dave&groupname=testers"},
		{name: "user_group_add_again", method: "POST", path: "/user/group/direct?username=dave", xbody: xGroupRef("testers"), jbody: jGroupRef("testers"), status: 409},
		{name: "user_group_add_no_group", method: "POST", path: "/user/group/direct?username=dave", xbody: xGroupRef("nogroup"), jbody: jGroupRef("nogroup"), status: 400},
		{name: "user_group_add_no_user", method: "POST", path: "/user/group/direct?username=nobody", xbody: xGroupRef("testers"), jbody: jGroupRef("testers"), status: 404},
		{name: "group_user_add", method: "POST", path: "/group/user/direct?groupname=testers", xbody: xUserRef("carol"), jbody: jUserRef("carol"),
			status: 201, empty: true, location: base + "/group/user/direct?groupname=testers&username=carol"},
		{name: "group_user_add_no_user", method: "POST", path: "/group/user/direct?groupname=testers", xbody: xUserRef("nobody"), jbody: jUserRef("nobody"), status: 400},
		{name: "group_user_add_no_group", method: "POST", path: "/group/user/direct?groupname=nogroup", xbody: xUserRef("carol"), jbody: jUserRef("carol"), status: 404},
		{name: "group_user_after_add", path: "/group/user/direct?groupname=testers&expand=user", status: 200},
		{name: "group_child_add", method: "POST", path: "/group/child-group/direct?groupname=jira-users", xbody: xGroupRef("testers"), jbody: jGroupRef("testers"),
			status: 201, empty: true, location: base + "/group/child-group/direct?groupname=jira-users&child-groupname=testers"},
		{name: "group_child_add_again", method: "POST", path: "/group/child-group/direct?groupname=jira-users", xbody: xGroupRef("testers"), jbody: jGroupRef("testers"), status: 409},
		{name: "group_child_add_no_child", method: "POST", path: "/group/child-group/direct?groupname=jira-users", xbody: xGroupRef("nogroup"), jbody: jGroupRef("nogroup"), status: 400},
		{name: "group_child_add_no_parent", method: "POST", path: "/group/child-group/direct?groupname=nogroup", xbody: xGroupRef("testers"), jbody: jGroupRef("testers"), status: 404},
		{name: "group_child_add_self", method: "POST", path: "/group/child-group/direct?groupname=testers", xbody: xGroupRef("testers"), jbody: jGroupRef("testers"), status: 400},
		{name: "group_parent_add", method: "POST", path: "/group/parent-group/direct?groupname=testers", xbody: xGroupRef("devs"), jbody: jGroupRef("devs"),
			status: 201, empty: true, location: base + "/group/parent-group/direct?groupname=testers&parent-groupname=devs"},
		{name: "group_parent_add_no_parent", method: "POST", path: "/group/parent-group/direct?groupname=testers", xbody: xGroupRef("nogroup"), jbody: jGroupRef("nogroup"), status: 400},
		{name: "group_parent_add_no_child", method: "POST", path: "/group/parent-group/direct?groupname=nogroup", xbody: xGroupRef("devs"), jbody: jGroupRef("devs"), status: 404},
		{name: "group_parent_after_add", path: "/group/parent-group/direct?groupname=testers", status: 200},
		{name: "user_group_nested_after_add", path: "/user/group/nested?username=dave", status: 200},
		{name: "membership_after_add", path: "/group/membership", status: 200, only: "xml"},
		{name: "group_child_remove", method: "DELETE", path: "/group/child-group/direct?groupname=jira-users&child-groupname=testers", status: 204, empty: true},
		{name: "group_child_remove_again", method: "DELETE", path: "/group/child-group/direct?groupname=jira-users&child-groupname=testers", status: 404},
		{name: "user_group_remove", method: "DELETE", path: "/user/group/direct?username=dave&groupname=testers", status: 204, empty: true},
		{name: "user_group_remove_again", method: "DELETE", path: "/user/group/direct?username=dave&groupname=testers", status: 404},
		{name: "group_user_remove", method: "DELETE", path: "/group/user/direct?groupname=testers&username=carol", status: 204, empty: true},
		{name: "group_user_remove_no_group", method: "DELETE", path: "/group/user/direct?groupname=nogroup&username=carol", status: 404},
		// POST /user/rename: 200 and the renamed user (§5.1).
		{name: "user_rename", method: "POST", path: "/user/rename?username=dave", xbody: `<rename><new-name>david</new-name></rename>`,
			jbody: `{"new-name":"david"}`, status: 200},
		{name: "user_rename_exists", method: "POST", path: "/user/rename?username=david", xbody: `<rename><new-name>carol</new-name></rename>`,
			jbody: `{"new-name":"carol"}`, status: 400},
		{name: "user_rename_not_found", method: "POST", path: "/user/rename?username=dave", xbody: `<rename><new-name>dan</new-name></rename>`,
			jbody: `{"new-name":"dan"}`, status: 404},
		// DELETE: 204, then 404.
		{name: "group_delete", method: "DELETE", path: "/group?groupname=testers", status: 204, empty: true},
		{name: "group_delete_again", method: "DELETE", path: "/group?groupname=testers", status: 404},
		{name: "user_delete", method: "DELETE", path: "/user?username=david", status: 204, empty: true},
		{name: "user_delete_again", method: "DELETE", path: "/user?username=david", status: 404},
		{name: "user_delete_read_only", method: "DELETE", path: "/user?username=erin", status: 403},
	}}

	event := goldenScenario{name: "event", only: "xml", steps: []goldenStep{
		// GET /event, then changes made through the local directory, then
		// GET /event/{token} (§7).
		{name: "head", path: "/event", status: 200, capture: map[string]string{"t1": reEventTokenCapture}},
		// Mixed-case names: conf's view of the same events is lower case.
		{method: "POST", path: "/user", xbody: strings.ReplaceAll(xDave, `"dave"`, `"Dave"`), status: 201},
		{method: "POST", path: "/group", xbody: `<group name="QA"><description>Testers</description><active>true</active></group>`, status: 201},
		{method: "POST", path: "/user/group/direct?username=dave", xbody: xGroupRef("jira-users"), status: 201},
		{method: "POST", path: "/group/child-group/direct?groupname=jira-users", xbody: xGroupRef("qa"), status: 201},
		{method: "PUT", path: "/group?groupname=jira-users", xbody: `<group name="jira-users"><description>Jira users</description><active>true</active></group>`, status: 200},
		{method: "DELETE", path: "/user?username=carol", status: 204},
		{name: "since", path: "/event/{t1}", status: 200, capture: map[string]string{"t2": reEventTokenCapture}},
		{name: "since_conf", app: conf, path: "/event/{t1}", status: 200},
		{name: "since_latest", path: "/event/{t2}", status: 200},
		{name: "head_after", path: "/event", status: 200},
		{name: "expired", path: "/event/0123456789abcdef:1", status: 410},
		{name: "malformed", path: "/event/garbage", status: 410},
	}}
	return []goldenScenario{read, confView, auth, session, write, event}
}

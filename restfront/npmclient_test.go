package restfront

// Conformance against real third-party Crowd clients from the npm registry
// (crowd-rest.md §10.1, §10.2): the packages pinned in
// testdata/npm/package-lock.json are installed once per lock file into the
// user's cache directory, and the scripts next to it drive each package's
// public API against a server started by newEnv. The scripts print one JSON
// line per step; at a checkpoint they wait on stdin while this side checks
// through the store that the client's writes landed in the local directory,
// and after they finish this side checks that their cleanup landed too.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	npmInstallTimeout = 5 * time.Minute
	npmScriptTimeout  = 2 * time.Minute
)

// npmClientScripts are the scripts under testdata/npm, one per package.
var npmClientScripts = []struct{ name, script string }{
	{"atlassian-crowd", "n1.js"},
	{"atlassian-crowd-client", "n2.js"},
}

func TestNpmClients(t *testing.T) {
	node := npmTool(t, "node")
	npm := npmTool(t, "npm")
	modules := npmInstall(t, npm)
	for _, c := range npmClientScripts {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			runNpmScript(t, e, node, modules, c.script)
		})
	}
}

// npmTool finds a program the test needs: a missing one skips the test on a
// developer's machine and fails it in CI (CI=true), where `make deps` must
// have installed it.
func npmTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (run `make deps`): %v", name, err)
		}
		t.Skipf("%s is not installed (run `make deps`): %v", name, err)
	}
	return p
}

// npmInstall runs `npm ci` for testdata/npm into a directory of the user's
// cache named after the hash of package.json and package-lock.json, and
// returns that directory (its node_modules holds the clients). A finished
// install is reused; a new one is built in a temporary sibling and renamed
// into place, so concurrent runs never see a half-installed directory (the
// loser of a race throws its copy away).
func npmInstall(t *testing.T, npm string) string {
	t.Helper()
	src := filepath.Join("testdata", "npm")
	pkg, err := os.ReadFile(filepath.Join(src, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	lock, err := os.ReadFile(filepath.Join(src, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	h.Write(pkg)
	h.Write([]byte{0})
	h.Write(lock)
	key := hex.EncodeToString(h.Sum(nil))[:20]

	root, err := os.UserCacheDir()
	if err != nil {
		root = os.TempDir()
	}
	parent := filepath.Join(root, "dirgate")
	final := filepath.Join(parent, "npm-"+key)
	const marker = ".dirgate-npm-complete"
	if _, err := os.Stat(filepath.Join(final, marker)); err == nil {
		t.Logf("npm clients: cached in %s", final)
		return final
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(parent, "npm-"+key+".tmp-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp) // nothing left there after a successful rename
	for name, b := range map[string][]byte{"package.json": pkg, "package-lock.json": lock} {
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), npmInstallTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=warn")
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("npm ci in %s: %v (context: %v)\n%s", tmp, err, ctx.Err(), out)
	}
	if err := os.WriteFile(filepath.Join(tmp, marker), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, final); err != nil {
		if _, serr := os.Stat(filepath.Join(final, marker)); serr != nil {
			t.Fatalf("installing the npm clients into %s: %v", final, err)
		}
		t.Logf("npm clients: another run installed %s first; using its copy", final)
		return final
	}
	t.Logf("npm clients: installed into %s in %v", final, time.Since(start).Round(time.Millisecond))
	return final
}

// npmLine is one line of a script's output (see testdata/npm/common.js).
type npmLine struct {
	Step       string          `json:"step"`
	OK         *bool           `json:"ok"`
	Error      string          `json:"error"`
	HTTP       []string        `json:"http"`
	MS         int             `json:"ms"`
	Checkpoint string          `json:"checkpoint"`
	Expect     json.RawMessage `json:"expect"`
	Done       bool            `json:"done"`
	Passed     int             `json:"passed"`
	Failed     int             `json:"failed"`
}

// npmExpect is what a script says it wrote, at its checkpoint.
type npmExpect struct {
	User struct {
		Name             string              `json:"name"`
		FirstName        string              `json:"firstName"`
		LastName         string              `json:"lastName"`
		DisplayName      string              `json:"displayName"`
		Email            string              `json:"email"`
		Password         string              `json:"password"`
		OldPassword      string              `json:"oldPassword"`
		Attributes       map[string][]string `json:"attributes"`
		AbsentAttributes []string            `json:"absentAttributes"`
	} `json:"user"`
	Groups []struct {
		Name        string   `json:"name"`
		Description string   `json:"description"`
		Children    []string `json:"children"`
		Users       []string `json:"users"`
	} `json:"groups"`
}

// runNpmScript runs one client script against e and reports its steps.
func runNpmScript(t *testing.T, e *env, node, modules, script string) {
	dir, err := filepath.Abs(filepath.Join("testdata", "npm"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), npmScriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, script))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"CROWD_URL=http://"+e.srv.Addr()+"/",
		"CROWD_APP=jira",
		"CROWD_PASSWORD=jira-pw",
		"CROWD_READONLY_APP=conf:conf-pw",
		"CROWD_DENIED_APP=far:far-pw",
		"CROWD_NPM_DIR="+modules,
		"CROWD_NO_CHECKPOINT=",
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	var (
		passed, failed int
		done           *npmLine
		expects        []npmExpect
	)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		text := sc.Text()
		var l npmLine
		if !strings.HasPrefix(text, "{") || json.Unmarshal([]byte(text), &l) != nil {
			t.Logf("%s: %s", script, text)
			continue
		}
		switch {
		case l.Done:
			done = &l
		case l.Checkpoint != "":
			var x npmExpect
			if err := json.Unmarshal(l.Expect, &x); err != nil {
				t.Errorf("%s: checkpoint %s: %v", script, l.Checkpoint, err)
			} else {
				expects = append(expects, x)
				t.Logf("%s: checkpoint %s: checking the store", script, l.Checkpoint)
				checkNpmWrites(t, e, script, x)
			}
			// Whatever the checks found, let the script clean up.
			if _, err := io.WriteString(stdin, "continue\n"); err != nil {
				t.Errorf("%s: answering the checkpoint: %v", script, err)
			}
		case l.OK != nil && *l.OK:
			passed++
			t.Logf("%s: ok   %s (%d ms)", script, l.Step, l.MS)
		case l.OK != nil:
			failed++
			msg := fmt.Sprintf("%s: step %q failed after %d ms: %s", script, l.Step, l.MS, l.Error)
			for _, h := range l.HTTP {
				msg += "\n\t" + h
			}
			t.Error(msg)
		default:
			t.Logf("%s: %s", script, text)
		}
	}
	scanErr := sc.Err()
	stdin.Close()
	waitErr := cmd.Wait()

	bad := false
	fail := func(format string, args ...any) {
		bad = true
		t.Errorf(format, args...)
	}
	if scanErr != nil {
		fail("%s: reading the output: %v", script, scanErr)
	}
	if ctx.Err() != nil {
		fail("%s: killed after %v", script, npmScriptTimeout)
	}
	switch {
	case done == nil:
		fail("%s: ended without its summary line (exit: %v)", script, waitErr)
	case done.Passed != passed || done.Failed < failed:
		fail("%s: summary says %d passed, %d failed; %d passed and %d failed were reported", script, done.Passed, done.Failed, passed, failed)
	case done.Failed > failed:
		fail("%s: %d failures were not reported as steps (see stderr)", script, done.Failed-failed)
	}
	if waitErr != nil && failed == 0 {
		fail("%s: %v", script, waitErr)
	}
	if waitErr == nil && (failed > 0 || done == nil) {
		fail("%s: exited 0 although steps failed", script)
	}
	if passed == 0 {
		fail("%s: no step passed", script)
	}
	if len(expects) != 1 {
		fail("%s: %d checkpoints, want 1", script, len(expects))
	}
	if bad || failed > 0 {
		t.Logf("%s: stderr:\n%s", script, stderr.String())
	} else {
		t.Logf("%s: %d steps passed", script, passed)
	}
	for _, x := range expects {
		checkNpmCleanup(t, e, script, x)
	}
}

// checkNpmWrites checks, at the script's checkpoint, that what the client
// wrote through the API is in the local (writable) directory.
func checkNpmWrites(t *testing.T, e *env, script string, x npmExpect) {
	t.Helper()
	name := x.User.Name
	u, ok := e.store.User(name)
	if !ok {
		t.Errorf("%s: user %s is not in the store after the client created it", script, name)
	} else {
		if u.Upstream != "internal" {
			t.Errorf("%s: user %s is in upstream %s, want internal (the writable local directory)", script, name, u.Upstream)
		}
		r := u.Rec
		for _, f := range []struct{ what, got, want string }{
			{"username", r.Username, name},
			{"first name", r.FirstName, x.User.FirstName},
			{"last name", r.LastName, x.User.LastName},
			{"display name", r.DisplayName, x.User.DisplayName},
			{"email", r.Email, x.User.Email},
		} {
			if f.got != f.want {
				t.Errorf("%s: stored user %s: %s = %q, want %q", script, name, f.what, f.got, f.want)
			}
		}
		if !r.Active {
			t.Errorf("%s: stored user %s is inactive", script, name)
		}
		ctx := context.Background()
		if good, err := e.local.CheckPassword(ctx, r, x.User.Password); err != nil || !good {
			t.Errorf("%s: stored user %s: the changed password does not check (%v, %v)", script, name, good, err)
		}
		if good, err := e.local.CheckPassword(ctx, r, x.User.OldPassword); err != nil || good {
			t.Errorf("%s: stored user %s: the old password still checks (%v, %v)", script, name, good, err)
		}
		for k, want := range x.User.Attributes {
			got := slices.Clone(r.Attributes[k])
			slices.Sort(got)
			want = slices.Clone(want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s: stored user %s: attribute %s = %q, want %q", script, name, k, got, want)
			}
		}
		for _, k := range x.User.AbsentAttributes {
			if v, ok := r.Attributes[k]; ok {
				t.Errorf("%s: stored user %s: removed attribute %s is still there: %q", script, name, k, v)
			}
		}
	}
	for _, xg := range x.Groups {
		g, ok := e.store.Group(xg.Name)
		if !ok {
			t.Errorf("%s: group %s is not in the store after the client created it", script, xg.Name)
			continue
		}
		if g.Upstream != "internal" {
			t.Errorf("%s: group %s is in upstream %s, want internal", script, xg.Name, g.Upstream)
		}
		if g.Rec.Description != xg.Description {
			t.Errorf("%s: stored group %s: description %q, want %q", script, xg.Name, g.Rec.Description, xg.Description)
		}
		if !g.Rec.Active {
			t.Errorf("%s: stored group %s is inactive", script, xg.Name)
		}
		if got := sortedFold(e.store.GroupChildren(xg.Name, false)); !slices.Equal(got, sortedFold(xg.Children)) {
			t.Errorf("%s: stored group %s: child groups %q, want %q", script, xg.Name, got, xg.Children)
		}
		if got := sortedFold(e.store.GroupUsers(xg.Name, false, true)); !slices.Equal(got, sortedFold(xg.Users)) {
			t.Errorf("%s: stored group %s: direct users %q, want %q", script, xg.Name, got, xg.Users)
		}
	}
}

// checkNpmCleanup checks, after the script, that its deletions landed: the
// user, its groups and its sessions are gone.
func checkNpmCleanup(t *testing.T, e *env, script string, x npmExpect) {
	t.Helper()
	if _, ok := e.store.User(x.User.Name); ok {
		t.Errorf("%s: user %s is still in the store after the client removed it", script, x.User.Name)
	}
	if _, ok := e.store.UpstreamUser("internal", x.User.Name); ok {
		t.Errorf("%s: user %s is still in the local directory after the client removed it", script, x.User.Name)
	}
	for _, g := range x.Groups {
		if _, ok := e.store.Group(g.Name); ok {
			t.Errorf("%s: group %s is still in the store after the client removed it", script, g.Name)
		}
	}
	n, err := e.store.DeleteUserSessions(x.User.Name, "")
	if err != nil {
		t.Errorf("%s: counting sessions: %v", script, err)
	} else if n != 0 {
		t.Errorf("%s: %d sessions of %s were left after the client destroyed them", script, n, x.User.Name)
	}
	// The seeded data the scripts read must be untouched.
	for _, name := range []string{"alice", "carol", "Bob", "erin"} {
		if _, ok := e.store.User(name); !ok {
			t.Errorf("%s: seeded user %s is gone", script, name)
		}
	}
}

func sortedFold(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.ToLower(n)
	}
	slices.Sort(out)
	return out
}

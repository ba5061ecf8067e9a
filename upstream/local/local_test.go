package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/internal/upstreamtest"
	"github.com/dirgate/dirgate/upstream"
)

type harness struct {
	l *Upstream
}

func (h *harness) Caps() upstreamtest.Caps {
	return upstreamtest.Caps{IncrementalDeletes: true}
}

func (h *harness) Open(t *testing.T, store *cache.Store) upstream.Upstream {
	l, err := Open("up", Config{}, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.l = l
	for _, u := range upstreamtest.FixtureUsers {
		h.AddUser(t, u)
	}
	for _, g := range upstreamtest.FixtureGroups {
		h.AddGroup(t, g)
	}
	return l
}

func (h *harness) AddUser(t *testing.T, u upstreamtest.FixtureUser) {
	_, err := h.l.CreateUser(context.Background(), upstream.User{Username: u.Username, FirstName: u.FirstName,
		LastName: u.LastName, Email: u.Email, Active: true}, u.Password)
	if err != nil {
		t.Fatal(err)
	}
}

func (h *harness) AddCollidingUser(t *testing.T, username string) {
	t.Fatal("local directories refuse colliding names")
}

func (h *harness) SetEmail(t *testing.T, username, email string) {
	u, err := h.l.user(username)
	if err != nil {
		t.Fatal(err)
	}
	n := *u
	n.Email = email
	if _, err := h.l.UpdateUser(context.Background(), username, n); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) DeleteUser(t *testing.T, username string) {
	if err := h.l.DeleteUser(context.Background(), username); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) AddGroup(t *testing.T, g upstreamtest.FixtureGroup) {
	if _, err := h.l.CreateGroup(context.Background(), upstream.Group{Name: g.Name, Active: true}); err != nil {
		t.Fatal(err)
	}
	h.SetMembers(t, g)
}

func (h *harness) SetMembers(t *testing.T, g upstreamtest.FixtureGroup) {
	ctx := context.Background()
	for _, m := range h.l.store.GroupUsers(g.Name, false, true) {
		if err := h.l.RemoveMember(ctx, g.Name, m, false); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range h.l.store.GroupChildren(g.Name, false) {
		if err := h.l.RemoveMember(ctx, g.Name, m, true); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range g.Users {
		if err := h.l.AddMember(ctx, g.Name, m, false); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range g.Groups {
		if err := h.l.AddMember(ctx, g.Name, m, true); err != nil {
			t.Fatal(err)
		}
	}
}

func (h *harness) Break(t *testing.T)  { t.Fatal("a local directory cannot be broken") }
func (h *harness) Repair(t *testing.T) {}

func TestConformance(t *testing.T) {
	upstreamtest.Run(t, func(t *testing.T) upstreamtest.Harness { return &harness{} })
}

func openStore(t *testing.T) *cache.Store {
	s, err := cache.Open(cache.Options{InMemory: true, Upstreams: []string{"internal"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func writeSeed(t *testing.T, text string) string {
	p := filepath.Join(t.TempDir(), "users.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const seed = `
users:
  - username: alice
    first_name: Alice
    last_name: Liddell
    email: alice@example.com
    password: wonderland
  - username: bob
    display_name: Bob B.
    password_hash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$bqk5WNovD1GIOCZZixjBfrHpHbf8L5xrM7+e4qkuh5I"
    active: false
groups:
  - name: devs
    users: [alice]
  - name: staff
    groups: [devs]
    users: [bob]
`

func TestSeedLoadedOnFirstStartOnly(t *testing.T) {
	store := openStore(t)
	path := writeSeed(t, seed)
	l, err := Open("internal", Config{SeedFile: path}, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, ok := store.User("alice")
	if !ok || a.Rec.DisplayName != "Alice Liddell" || !a.Rec.Active {
		t.Fatalf("alice = %+v", a.Rec)
	}
	if b, _ := store.User("bob"); b.Rec.Active || b.Rec.DisplayName != "Bob B." {
		t.Fatalf("bob = %+v", b.Rec)
	}
	if got := store.UserGroups("alice", true, true); strings.Join(got, ",") != "devs,staff" {
		t.Fatalf("alice's groups %q", got)
	}
	if ok, err := l.CheckPassword(context.Background(), a.Rec, "wonderland"); !ok || err != nil {
		t.Fatalf("seeded password: %v %v", ok, err)
	}
	if !store.Synced("internal") {
		t.Fatal("seeded directory not marked as served")
	}
	// Edit the file: a second Open ignores it.
	if err := os.WriteFile(path, []byte("users:\n  - username: mallory\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open("internal", Config{SeedFile: path}, store, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := store.User("mallory"); ok {
		t.Fatal("seed loaded twice")
	}
}

func TestBadSeedChangesNothing(t *testing.T) {
	for name, text := range map[string]string{
		"duplicate":      "users:\n  - username: alice\n  - username: ALICE\n",
		"unknown member": "users:\n  - username: alice\ngroups:\n  - name: g\n    users: [bob]\n",
		"unknown key":    "users:\n  - username: alice\n    pasword: x\n",
		"bad hash":       "users:\n  - username: alice\n    password_hash: nope\n",
	} {
		t.Run(name, func(t *testing.T) {
			store := openStore(t)
			_, err := Open("internal", Config{SeedFile: writeSeed(t, text)}, store, nil)
			if err == nil {
				t.Fatal("accepted")
			}
			if name == "duplicate" && !strings.Contains(err.Error(), `duplicate username "ALICE"`) {
				t.Errorf("error does not name the duplicate: %v", err)
			}
			if n, _ := store.Counts(); n != 0 || store.Synced("internal") {
				t.Fatalf("a rejected seed changed the store (%d users)", n)
			}
		})
	}
}

func TestWriterErrors(t *testing.T) {
	store := openStore(t)
	l, err := Open("internal", Config{}, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := l.CreateUser(ctx, upstream.User{Username: "alice", Active: true}, "pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.CreateUser(ctx, upstream.User{Username: "Alice"}, ""); !errors.Is(err, upstream.ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	for _, bad := range []string{" x", "x ", "a\nb", "nul\x00", "bad\xffutf8", "del\x7f", "\uFFFE"} {
		if _, err := l.CreateUser(ctx, upstream.User{Username: bad}, ""); err == nil {
			t.Fatalf("user name %q accepted", bad)
		}
		if _, err := l.CreateGroup(ctx, upstream.Group{Name: bad}); err == nil {
			t.Fatalf("group name %q accepted", bad)
		}
	}
	if err := l.DeleteUser(ctx, "nobody"); !errors.Is(err, upstream.ErrNotFound) {
		t.Fatalf("delete unknown: %v", err)
	}
	if _, err := l.CreateGroup(ctx, upstream.Group{Name: "g"}); err != nil {
		t.Fatal(err)
	}
	if err := l.AddMember(ctx, "g", "g", true); err == nil {
		t.Fatal("self-membership accepted")
	}
	if err := l.RemoveMember(ctx, "g", "alice", false); !errors.Is(err, upstream.ErrNotFound) {
		t.Fatalf("remove non-member: %v", err)
	}
	if err := l.AddMember(ctx, "g", "alice", false); err != nil {
		t.Fatal(err)
	}
	// Rename keeps memberships and the password.
	u, err := l.RenameUser(ctx, "alice", "alicia")
	if err != nil {
		t.Fatal(err)
	}
	if got := store.UserGroups("alicia", false, true); len(got) != 1 {
		t.Fatalf("memberships after rename %q", got)
	}
	if ok, _ := l.CheckPassword(ctx, u, "pw"); !ok {
		t.Fatal("password lost in rename")
	}
	if err := l.SetPassword(ctx, "alicia", "new"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := l.CheckPassword(ctx, u, "pw"); ok {
		t.Fatal("old password still accepted")
	}
	// Deleting a group removes it from its parents.
	if _, err := l.CreateGroup(ctx, upstream.Group{Name: "parent"}); err != nil {
		t.Fatal(err)
	}
	if err := l.AddMember(ctx, "parent", "g", true); err != nil {
		t.Fatal(err)
	}
	if err := l.DeleteGroup(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	p, _ := store.UpstreamGroup("internal", "parent")
	if len(p.Members) != 0 {
		t.Fatalf("dangling member left: %q", p.Members)
	}
	if err := l.DeleteUser(ctx, "alicia"); err != nil {
		t.Fatal(err)
	}
	if v, _ := store.Aux("internal", pwKey(u.Key)); v != nil {
		t.Fatal("password hash left behind")
	}
}

// Package local is dirgate's own writable directory. Its users, groups and
// memberships live in the cache store like any upstream's records (so they
// are merged, journaled and served the same way); password hashes are kept
// beside them as the upstream's private values, never in the records.
//
// The Crowd frontend's writes (create user, set password, add member, ...)
// come here through the upstream.Writer interface. A seed file can fill the
// directory the first time it starts.
package local

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/upstream"
)

// Type is the configured type name.
const Type = "local"

// ErrClosed is returned after Close.
var ErrClosed = errors.New("local directory closed")

// Upstream is a local directory.
type Upstream struct {
	name   string
	store  *cache.Store
	log    *slog.Logger
	mu     sync.Mutex // serialises read-modify-write operations
	closed atomic.Bool
}

// Open opens the local directory called name in store. The first time
// (the store has never held it) the seed file, if configured, is loaded.
func Open(name string, cfg Config, store *cache.Store, logger *slog.Logger) (*Upstream, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("local upstream %s: %w", name, err)
	}
	l := &Upstream{name: name, store: store, log: logger.With("upstream", name, "type", Type)}
	if !store.Synced(name) {
		ch := cache.Changes{MarkSynced: true}
		if cfg.SeedFile != "" {
			seed, err := LoadSeed(cfg.SeedFile)
			if err != nil {
				return nil, fmt.Errorf("local upstream %s: %w", name, err)
			}
			if ch, err = seed.changes(); err != nil {
				return nil, fmt.Errorf("local upstream %s: seed_file %s: %w", name, cfg.SeedFile, err)
			}
			ch.MarkSynced = true
			l.log.Info("loading seed file", "file", cfg.SeedFile, "users", len(ch.Users), "groups", len(ch.Groups))
		}
		if _, err := store.Apply(context.Background(), name, ch); err != nil {
			return nil, fmt.Errorf("local upstream %s: %w", name, err)
		}
	}
	return l, nil
}

// Type returns "local".
func (l *Upstream) Type() string { return Type }

// Close makes later calls fail. The store is not closed (it is not ours).
func (l *Upstream) Close() error {
	l.closed.Store(true)
	return nil
}

func (l *Upstream) check(ctx context.Context) error {
	if l.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// Sync has nothing to fetch: the store is this directory's only copy. It
// answers an empty incremental result so that the refresher keeps the
// status current like any other upstream's.
func (l *Upstream) Sync(ctx context.Context, req upstream.SyncRequest) (*upstream.SyncResult, error) {
	if err := l.check(ctx); err != nil {
		return nil, fmt.Errorf("local %s sync: %w", l.name, err)
	}
	return &upstream.SyncResult{Cursor: req.Cursor}, nil
}

func pwKey(key string) string { return "pw:" + key }

// CheckPassword verifies password against the stored argon2id hash.
// Inactive users and users without a password are denied.
func (l *Upstream) CheckPassword(ctx context.Context, u *upstream.User, password string) (bool, error) {
	if err := l.check(ctx); err != nil {
		return false, fmt.Errorf("local %s password check: %w", l.name, err)
	}
	if password == "" || u == nil || !u.Active {
		return false, nil
	}
	hash, err := l.store.Aux(l.name, pwKey(u.Key))
	if err != nil {
		return false, fmt.Errorf("local %s password check: %w", l.name, err)
	}
	if hash == nil {
		return false, nil
	}
	ok, err := secret.Verify(string(hash), password)
	if err != nil {
		return false, fmt.Errorf("local %s password check for %s: stored hash: %w", l.name, u.Username, err)
	}
	return ok, nil
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func checkName(kind, name string) error {
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("%s name is empty", kind)
	}
	if name != strings.TrimSpace(name) {
		return fmt.Errorf("%s name %q has leading or trailing white space", kind, name)
	}
	if len(name) > 255 {
		return fmt.Errorf("%s name is longer than 255 bytes", kind)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("%s name %q is not valid UTF-8", kind, name)
	}
	for _, r := range name {
		// Control characters cannot travel in XML and make DNs and logs
		// ambiguous; U+FFFE/U+FFFF are not characters.
		if unicode.IsControl(r) || r == 0xFFFE || r == 0xFFFF {
			return fmt.Errorf("%s name %q contains the control character %U", kind, name, r)
		}
	}
	return nil
}

func (l *Upstream) user(name string) (*upstream.User, error) {
	u, ok := l.store.UpstreamUser(l.name, name)
	if !ok {
		return nil, fmt.Errorf("user %q: %w", name, upstream.ErrNotFound)
	}
	return u, nil
}

func (l *Upstream) group(name string) (*upstream.Group, error) {
	g, ok := l.store.UpstreamGroup(l.name, name)
	if !ok {
		return nil, fmt.Errorf("group %q: %w", name, upstream.ErrNotFound)
	}
	return g, nil
}

func (l *Upstream) apply(ctx context.Context, ch cache.Changes) error {
	_, err := l.store.Apply(ctx, l.name, ch)
	return err
}

// CreateUser adds a user. An empty password leaves the account without one
// (it cannot log in until SetPassword).
func (l *Upstream) CreateUser(ctx context.Context, u upstream.User, password string) (*upstream.User, error) {
	if err := l.check(ctx); err != nil {
		return nil, err
	}
	if err := checkName("user", u.Username); err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.store.UpstreamUser(l.name, u.Username); ok {
		return nil, fmt.Errorf("create user %q: %w", u.Username, upstream.ErrExists)
	}
	id := newID()
	u.Key, u.ExternalID = id, id
	now := time.Now().UTC().Truncate(time.Millisecond)
	u.Created, u.Updated = now, now
	ch := cache.Changes{Users: []upstream.User{u}}
	if password != "" {
		h, err := secret.Hash(password)
		if err != nil {
			return nil, err
		}
		ch.Aux = map[string][]byte{pwKey(id): []byte(h)}
	}
	if err := l.apply(ctx, ch); err != nil {
		return nil, fmt.Errorf("create user %q: %w", u.Username, err)
	}
	return l.user(u.Username)
}

// UpdateUser replaces a user's details; the name, key, creation time and
// password stay.
func (l *Upstream) UpdateUser(ctx context.Context, username string, u upstream.User) (*upstream.User, error) {
	if err := l.check(ctx); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	old, err := l.user(username)
	if err != nil {
		return nil, fmt.Errorf("update user: %w", err)
	}
	u.Key, u.ExternalID, u.Username, u.Created = old.Key, old.ExternalID, old.Username, old.Created
	u.Updated = time.Now().UTC().Truncate(time.Millisecond)
	if err := l.apply(ctx, cache.Changes{Users: []upstream.User{u}}); err != nil {
		return nil, fmt.Errorf("update user %q: %w", username, err)
	}
	return l.user(username)
}

// RenameUser changes a username; memberships and the password follow.
func (l *Upstream) RenameUser(ctx context.Context, username, newName string) (*upstream.User, error) {
	if err := l.check(ctx); err != nil {
		return nil, err
	}
	if err := checkName("user", newName); err != nil {
		return nil, fmt.Errorf("rename user: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	old, err := l.user(username)
	if err != nil {
		return nil, fmt.Errorf("rename user: %w", err)
	}
	if o, ok := l.store.UpstreamUser(l.name, newName); ok && o.Key != old.Key {
		return nil, fmt.Errorf("rename user %q to %q: %w", username, newName, upstream.ErrExists)
	}
	u := *old
	u.Username = newName
	u.Updated = time.Now().UTC().Truncate(time.Millisecond)
	if err := l.apply(ctx, cache.Changes{Users: []upstream.User{u}}); err != nil {
		return nil, fmt.Errorf("rename user %q: %w", username, err)
	}
	return l.user(newName)
}

// DeleteUser removes a user, its password and its memberships.
func (l *Upstream) DeleteUser(ctx context.Context, username string) error {
	if err := l.check(ctx); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	u, err := l.user(username)
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	ch := cache.Changes{DeleteUsers: []string{u.Key}, Aux: map[string][]byte{pwKey(u.Key): nil}}
	for _, g := range l.store.UpstreamGroups(l.name) {
		if slices.Contains(g.Members, u.Key) {
			ng := *g
			ng.Members = slices.DeleteFunc(slices.Clone(g.Members), func(m string) bool { return m == u.Key })
			ch.Groups = append(ch.Groups, ng)
		}
	}
	return l.apply(ctx, ch)
}

// SetPassword replaces a user's password; an empty password removes it
// (the account cannot log in until it gets one).
func (l *Upstream) SetPassword(ctx context.Context, username, password string) error {
	if err := l.check(ctx); err != nil {
		return err
	}
	u, err := l.user(username)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if password == "" {
		return l.apply(ctx, cache.Changes{Aux: map[string][]byte{pwKey(u.Key): nil}})
	}
	h, err := secret.Hash(password)
	if err != nil {
		return err
	}
	return l.apply(ctx, cache.Changes{Aux: map[string][]byte{pwKey(u.Key): []byte(h)}})
}

// CreateGroup adds a group without members.
func (l *Upstream) CreateGroup(ctx context.Context, g upstream.Group) (*upstream.Group, error) {
	if err := l.check(ctx); err != nil {
		return nil, err
	}
	if err := checkName("group", g.Name); err != nil {
		return nil, fmt.Errorf("create group: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.store.UpstreamGroup(l.name, g.Name); ok {
		return nil, fmt.Errorf("create group %q: %w", g.Name, upstream.ErrExists)
	}
	id := newID()
	g.Key, g.ExternalID, g.Members = id, id, nil
	now := time.Now().UTC().Truncate(time.Millisecond)
	g.Created, g.Updated = now, now
	if err := l.apply(ctx, cache.Changes{Groups: []upstream.Group{g}}); err != nil {
		return nil, fmt.Errorf("create group %q: %w", g.Name, err)
	}
	return l.group(g.Name)
}

// UpdateGroup replaces a group's description, active flag and attributes.
func (l *Upstream) UpdateGroup(ctx context.Context, name string, g upstream.Group) (*upstream.Group, error) {
	if err := l.check(ctx); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	old, err := l.group(name)
	if err != nil {
		return nil, fmt.Errorf("update group: %w", err)
	}
	n := *old
	n.Description, n.Active, n.Attributes = g.Description, g.Active, g.Attributes
	n.Updated = time.Now().UTC().Truncate(time.Millisecond)
	if err := l.apply(ctx, cache.Changes{Groups: []upstream.Group{n}}); err != nil {
		return nil, fmt.Errorf("update group %q: %w", name, err)
	}
	return l.group(name)
}

// DeleteGroup removes a group and every membership in or of it.
func (l *Upstream) DeleteGroup(ctx context.Context, name string) error {
	if err := l.check(ctx); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	g, err := l.group(name)
	if err != nil {
		return fmt.Errorf("delete group: %w", err)
	}
	ch := cache.Changes{DeleteGroups: []string{g.Key}}
	for _, p := range l.store.UpstreamGroups(l.name) {
		if p.Key != g.Key && slices.Contains(p.Members, g.Key) {
			np := *p
			np.Members = slices.DeleteFunc(slices.Clone(p.Members), func(m string) bool { return m == g.Key })
			ch.Groups = append(ch.Groups, np)
		}
	}
	return l.apply(ctx, ch)
}

// AddMember adds a user (or, with memberIsGroup, a group) to group. Adding
// an existing member is not an error.
func (l *Upstream) AddMember(ctx context.Context, group, member string, memberIsGroup bool) error {
	return l.changeMember(ctx, group, member, memberIsGroup, true)
}

// RemoveMember removes a direct member; removing a non-member is ErrNotFound.
func (l *Upstream) RemoveMember(ctx context.Context, group, member string, memberIsGroup bool) error {
	return l.changeMember(ctx, group, member, memberIsGroup, false)
}

func (l *Upstream) changeMember(ctx context.Context, group, member string, memberIsGroup, add bool) error {
	if err := l.check(ctx); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	g, err := l.group(group)
	if err != nil {
		return err
	}
	var key string
	if memberIsGroup {
		c, err := l.group(member)
		if err != nil {
			return err
		}
		if c.Key == g.Key {
			return fmt.Errorf("group %q cannot be a member of itself", group)
		}
		key = c.Key
	} else {
		u, err := l.user(member)
		if err != nil {
			return err
		}
		key = u.Key
	}
	has := slices.Contains(g.Members, key)
	switch {
	case add && has:
		return nil
	case !add && !has:
		return fmt.Errorf("%q is not a direct member of group %q: %w", member, group, upstream.ErrNotFound)
	}
	n := *g
	if add {
		n.Members = append(slices.Clone(g.Members), key)
	} else {
		n.Members = slices.DeleteFunc(slices.Clone(g.Members), func(m string) bool { return m == key })
	}
	return l.apply(ctx, cache.Changes{Groups: []upstream.Group{n}})
}

var (
	_ upstream.Upstream        = (*Upstream)(nil)
	_ upstream.Syncer          = (*Upstream)(nil)
	_ upstream.PasswordChecker = (*Upstream)(nil)
	_ upstream.Writer          = (*Upstream)(nil)
)

package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/certs"
	"github.com/dirgate/dirgate/ldapfront"
	"github.com/dirgate/dirgate/upstream"
)

// Local answers from a store this process has open.
type Local struct {
	Store *cache.Store
	// Refresher runs syncs; nil makes Sync fail.
	Refresher *cache.Refresher
	Tree      *ldapfront.Tree
	// Types maps upstream names to their types.
	Types map[string]string
	// Live is true in the serve process. Otherwise no sync can be running,
	// and a status left at "syncing" is a sync that was interrupted.
	Live bool
	// TLS describes the LDAP frontend's certificate (nil: none).
	TLS func() (*certs.Info, error)
}

var _ Service = (*Local)(nil)

// Status implements Service.
func (l *Local) Status(ctx context.Context) (*Status, error) {
	out := &Status{Upstreams: []UpstreamStatus{}}
	if l.TLS != nil {
		if info, err := l.TLS(); err == nil {
			out.LDAPTLS = info
		}
	}
	for _, name := range l.Store.Upstreams() {
		st, err := l.Store.Status(name)
		if err != nil {
			return nil, err
		}
		if st.Type == "" {
			st.Type = l.Types[name]
		}
		if !l.Live && st.State == cache.StateSyncing {
			st.State = cache.StateError
			st.LastError = "the last sync was interrupted before it finished (its process stopped); the data from before it is served"
		}
		st.Users, st.Groups, _ = l.Store.UpstreamCounts(name)
		out.Upstreams = append(out.Upstreams, UpstreamStatus{Status: st, Synced: l.Store.Synced(name)})
	}
	return out, nil
}

// Stats implements Service.
func (l *Local) Stats(ctx context.Context) (*Stats, error) {
	st := &Stats{Journal: JournalStats{Head: l.Store.Head().String()}}
	st.Users, st.Groups = l.Store.Counts()
	for _, name := range l.Store.Upstreams() {
		u, g, m := l.Store.UpstreamCounts(name)
		st.Memberships += m
		st.Upstreams = append(st.Upstreams, UpstreamStats{Name: name, Type: l.Types[name], Users: u, Groups: g,
			Memberships: m, Collisions: len(l.Store.Collisions(name))})
	}
	st.Cycles = l.Store.Cycles()
	lsm, vlog := l.Store.DiskSize()
	st.DiskBytes = lsm + vlog
	return st, nil
}

// Users implements Service.
func (l *Local) Users(ctx context.Context, up string) ([]UserSummary, error) {
	out := []UserSummary{}
	if up != "" {
		if !slices.Contains(l.Store.Upstreams(), up) {
			return nil, fmt.Errorf("%w: no upstream %q", ErrNotFound, up)
		}
		for _, r := range l.Store.UpstreamUsers(up) {
			out = append(out, summary(r, up))
		}
		return out, nil
	}
	l.Store.Users("", func(u cache.User) bool {
		out = append(out, summary(u.Rec, u.Upstream))
		return ctx.Err() == nil
	})
	return out, ctx.Err()
}

func summary(r *upstream.User, up string) UserSummary {
	return UserSummary{Username: r.Username, DisplayName: r.DisplayName, Email: r.Email, Active: r.Active, Upstream: up}
}

// Groups implements Service.
func (l *Local) Groups(ctx context.Context) ([]GroupSummary, error) {
	out := []GroupSummary{}
	l.Store.Groups("", func(g cache.Group) bool {
		out = append(out, GroupSummary{Name: g.Rec.Name, Description: g.Rec.Description, Upstreams: g.Upstreams,
			DirectUsers: len(l.Store.GroupUsers(g.Rec.Name, false, true)), DirectGroups: len(l.Store.GroupChildren(g.Rec.Name, false))})
		return ctx.Err() == nil
	})
	return out, ctx.Err()
}

// User implements Service.
func (l *Local) User(ctx context.Context, name string) (*UserDetail, error) {
	u, ok := l.Store.User(name)
	if !ok {
		return nil, fmt.Errorf("%w: no user %q", ErrNotFound, name)
	}
	r := u.Rec
	d := &UserDetail{Username: r.Username, Upstream: u.Upstream, Key: r.Key, ExternalID: r.ExternalID,
		FirstName: r.FirstName, LastName: r.LastName, DisplayName: r.DisplayName, Email: r.Email, Active: r.Active,
		Created: r.Created, Updated: r.Updated, Attributes: r.Attributes,
		DirectGroups: nonNil(l.Store.UserGroups(name, false, true)), NestedGroups: nonNil(l.Store.UserGroups(name, true, true)),
		DN: l.Tree.UserDN(r.Username)}
	for _, up := range l.Store.Upstreams() {
		if _, ok := l.Store.UpstreamUser(up, name); ok && up != u.Upstream {
			d.Shadowed = append(d.Shadowed, up)
		}
	}
	return d, nil
}

// Group implements Service.
func (l *Local) Group(ctx context.Context, name string) (*GroupDetail, error) {
	g, ok := l.Store.Group(name)
	if !ok {
		return nil, fmt.Errorf("%w: no group %q", ErrNotFound, name)
	}
	n := g.Rec.Name
	return &GroupDetail{Name: n, Description: g.Rec.Description, Upstreams: g.Upstreams, Active: g.Rec.Active,
		DirectUsers: nonNil(l.Store.GroupUsers(n, false, true)), DirectGroups: nonNil(l.Store.GroupChildren(n, false)),
		NestedUsers: nonNil(l.Store.GroupUsers(n, true, true)), Parents: nonNil(l.Store.GroupParents(n, false)),
		Ancestors: nonNil(l.Store.GroupParents(n, true)), DN: l.Tree.GroupDN(n)}, nil
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// exportUser and exportGroup are the JSON export's records.
type exportUser struct {
	Upstream string `json:"upstream"`
	upstream.User
	Groups []string `json:"groups"`
}

type exportGroup struct {
	Upstreams []string `json:"upstreams"`
	upstream.Group
	Users  []string `json:"users"`
	Groups []string `json:"groups"`
}

// Export implements Service. JSON is one object with "users" and "groups"
// arrays (direct memberships by name), written as it is read.
func (l *Local) Export(ctx context.Context, format string, w io.Writer) error {
	switch format {
	case "ldif":
		return l.Tree.WriteLDIF(l.Store, w)
	case "json", "":
	default:
		return fmt.Errorf("%w: unknown export format %q (json or ldif)", ErrBadRequest, format)
	}
	enc := json.NewEncoder(w)
	var err error
	write := func(s string) {
		if err == nil {
			_, err = io.WriteString(w, s)
		}
	}
	write(`{"users":[`)
	first := true
	l.Store.Users("", func(u cache.User) bool {
		if !first {
			write(",")
		}
		first = false
		if err == nil {
			err = enc.Encode(exportUser{Upstream: u.Upstream, User: *u.Rec, Groups: nonNil(l.Store.UserGroups(u.Rec.Username, false, true))})
		}
		return err == nil && ctx.Err() == nil
	})
	write(`],"groups":[`)
	first = true
	l.Store.Groups("", func(g cache.Group) bool {
		if !first {
			write(",")
		}
		first = false
		rec := *g.Rec
		rec.Members = nil // keys are internal; names follow
		if err == nil {
			err = enc.Encode(exportGroup{Upstreams: g.Upstreams, Group: rec,
				Users: nonNil(l.Store.GroupUsers(rec.Name, false, true)), Groups: nonNil(l.Store.GroupChildren(rec.Name, false))})
		}
		return err == nil && ctx.Err() == nil
	})
	write("]}\n")
	if err == nil {
		err = ctx.Err()
	}
	return err
}

// Sync implements Service.
func (l *Local) Sync(ctx context.Context, req SyncRequest, progress func(Progress)) ([]SyncOutcome, error) {
	if l.Refresher == nil {
		return nil, errors.New("sync: no refresher")
	}
	names := l.Refresher.Names()
	if req.Upstream != "" {
		if !slices.Contains(names, req.Upstream) {
			return nil, fmt.Errorf("%w: no upstream %q (configured: %v)", ErrNotFound, req.Upstream, names)
		}
		names = []string{req.Upstream}
	}
	var out []SyncOutcome
	for _, n := range names {
		var pf func(int)
		if progress != nil {
			pf = func(f int) { progress(Progress{Upstream: n, Fetched: f}) }
		}
		run, err := l.Refresher.SyncNow(ctx, n, cache.SyncRequest{Full: req.Full, AllowDeletes: req.AllowDeletes, Progress: pf})
		o := SyncOutcome{Upstream: n, Run: run}
		if err != nil {
			o.Error = err.Error()
		}
		out = append(out, o)
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
	}
	return out, nil
}

package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dirgate/dirgate/upstream"
)

// Target is one upstream the refresher keeps current.
type Target struct {
	Name   string
	Type   string
	Syncer upstream.Syncer
	// Interval between syncs (incremental where the upstream can), and the
	// age after which the next sync is full (deletions are only seen then).
	Interval  time.Duration
	FullEvery time.Duration
	// MaxDeletePercent is the deletion guard (see SyncOptions).
	MaxDeletePercent int
	// LinkByEmail links the upstream's users to earlier upstreams' users
	// by e-mail address (see SyncOptions).
	LinkByEmail bool
}

// Refresher runs each upstream's syncs on its schedule, with exponential
// backoff and jitter after failures, and keeps the status records.
type Refresher struct {
	store   *Store
	log     *slog.Logger
	targets []*target

	// BaseBackoff is the first retry delay after a failure (default 5s);
	// it doubles with each consecutive failure, up to the interval.
	BaseBackoff time.Duration
	// OnSync, when set, is called after every sync with its outcome (tests
	// wait on it instead of sleeping).
	OnSync func(name string, run SyncRun)
	// BeforeSync, when set, is called before every sync, with whether it
	// is meant to be full; the function it returns (if any) is called when
	// the sync is over, whatever its outcome, after OnSync. serve lifts
	// its memory limit for the length of a full sync.
	BeforeSync func(name string, full bool) (after func())
	// Warnings, when set, adds warnings to an upstream's status after each
	// sync (credential expiry, for example).
	Warnings func(name string) []string

	wake map[string]chan struct{}
}

type target struct {
	Target
	mu sync.Mutex // one sync at a time per upstream
}

// NewRefresher prepares a refresher for targets (in configured order).
func NewRefresher(store *Store, targets []Target, logger *slog.Logger) *Refresher {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Refresher{store: store, log: logger, BaseBackoff: 5 * time.Second, wake: map[string]chan struct{}{}}
	for _, t := range targets {
		r.targets = append(r.targets, &target{Target: t})
		r.wake[t.Name] = make(chan struct{}, 1)
	}
	return r
}

// SyncRequest asks for one sync now.
type SyncRequest struct {
	Full         bool
	AllowDeletes bool
	// Progress, when set, receives the number of entries fetched so far.
	Progress func(fetched int)
}

func (r *Refresher) target(name string) (*target, error) {
	for _, t := range r.targets {
		if t.Name == name {
			return t, nil
		}
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownUp, name)
}

// Names returns the upstream names in order.
func (r *Refresher) Names() []string {
	out := make([]string, len(r.targets))
	for i, t := range r.targets {
		out[i] = t.Name
	}
	return out
}

// SyncNow runs one sync of the named upstream and waits for it, whatever
// its schedule. It shares the per-upstream lock with the scheduled syncs.
func (r *Refresher) SyncNow(ctx context.Context, name string, req SyncRequest) (SyncRun, error) {
	t, err := r.target(name)
	if err != nil {
		return SyncRun{}, err
	}
	if t.Syncer == nil {
		return SyncRun{}, fmt.Errorf("upstream %s (%s) cannot sync", t.Name, t.Type)
	}
	run, err := r.syncOnce(ctx, t, req)
	return run, err
}

// Run keeps every upstream current until ctx is cancelled.
func (r *Refresher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, t := range r.targets {
		if t.Syncer == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.loop(ctx, t)
		}()
	}
	wg.Wait()
}

// Trigger asks the loop of name to sync now (no-op for unknown names).
func (r *Refresher) Trigger(name string) {
	if c := r.wake[name]; c != nil {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

func (r *Refresher) loop(ctx context.Context, t *target) {
	log := r.log.With("upstream", t.Name)
	st, err := r.store.Status(t.Name)
	if err != nil {
		log.Error("reading status", "err", err)
	}
	next := firstRun(st, r.store.Synced(t.Name), t.Interval, time.Now())
	if d := time.Until(next); d > 0 {
		log.Info("serving the stored state; next sync scheduled", "in", d.Round(time.Second))
	}
	for {
		timer := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		case <-r.wake[t.Name]:
			timer.Stop()
		}
		_, err := r.syncOnce(ctx, t, SyncRequest{})
		if ctx.Err() != nil {
			return
		}
		st, _ := r.store.Status(t.Name)
		next = st.NextRun
		if next.IsZero() {
			next = time.Now().Add(t.Interval)
		}
		if err != nil {
			log.Warn("sync failed; serving the last good data", "err", err, "retry_at", next.Format(time.RFC3339), "failures", st.ConsecutiveFailures)
		}
	}
}

// firstRun is when a starting refresher syncs an upstream first. A restart
// keeps the schedule: the stored state is served at once and the next sync
// runs when it would have (or at the retry time of a failing upstream); an
// upstream without data syncs now.
func firstRun(st Status, synced bool, interval time.Duration, now time.Time) time.Time {
	if !synced || st.LastSuccess.IsZero() {
		return now
	}
	next := st.LastSuccess.Add(interval)
	if !st.NextRun.IsZero() && st.NextRun.Before(next) {
		next = st.NextRun
	}
	return next
}

// backoff returns the delay before retry number n (n >= 1).
func (r *Refresher) backoff(t *target, n int, err error) time.Duration {
	d := r.BaseBackoff
	for i := 1; i < n && d < t.Interval; i++ {
		d *= 2
	}
	d = min(d, t.Interval)
	// Jitter: ±20%, so that many dirgates do not retry in step.
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	var ra upstream.RetryAfterError
	if errors.As(err, &ra) && ra.RetryAfter() > d {
		d = ra.RetryAfter()
	}
	return d
}

// syncOnce runs one sync and records its outcome in the status.
func (r *Refresher) syncOnce(ctx context.Context, t *target, req SyncRequest) (SyncRun, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	log := r.log.With("upstream", t.Name)
	st, err := r.store.Status(t.Name)
	if err != nil {
		return SyncRun{}, err
	}
	prev := st
	st.Upstream, st.Type = t.Name, t.Type
	full := req.Full || !r.store.Synced(t.Name) || st.LastFull == nil ||
		(t.FullEvery > 0 && time.Since(st.LastFull.Started) >= t.FullEvery)
	st.State = StateSyncing
	if err := r.store.PutStatus(st); err != nil {
		return SyncRun{}, err
	}
	cursor, err := r.store.Cursor(t.Name)
	if err != nil {
		return SyncRun{}, err
	}
	run := SyncRun{Started: time.Now().UTC(), Full: full}
	log.Debug("sync starting", "full", full)
	if r.BeforeSync != nil {
		if after := r.BeforeSync(t.Name, full); after != nil {
			defer after()
		}
	}
	res, err := t.Syncer.Sync(ctx, upstream.SyncRequest{Full: full, Cursor: cursor, Progress: req.Progress})
	var ar ApplyResult
	if err == nil {
		run.Full = res.Full
		ar, err = r.store.ApplySync(ctx, t.Name, res, SyncOptions{MaxDeletePercent: t.MaxDeletePercent, AllowDeletes: req.AllowDeletes, LinkByEmail: t.LinkByEmail})
	}
	run.Duration = time.Since(run.Started)
	if err != nil && ctx.Err() != nil {
		// Shutting down (or the caller gave up): not the upstream's fault.
		prev.Upstream, prev.Type = t.Name, t.Type
		if prev.State == StateSyncing || prev.State == "" {
			prev.State = StatePending
			if !prev.LastSuccess.IsZero() {
				prev.State = StateConnected
			}
		}
		_ = r.store.PutStatus(prev)
		return run, fmt.Errorf("sync %s: %w", t.Name, err)
	}
	now := time.Now().UTC()
	if err != nil {
		run.Error = err.Error()
		st.State = StateError
		st.LastError = err.Error()
		st.LastFailure = &run
		st.ConsecutiveFailures++
		if errors.Is(err, ErrDeletionGuard) {
			// Retrying sooner would not help: it needs a person.
			st.NextRun = now.Add(t.Interval)
		} else {
			st.NextRun = now.Add(r.backoff(t, st.ConsecutiveFailures, err))
		}
	} else {
		run.Result = &ar
		st.State = StateConnected
		st.LastError = ""
		st.ConsecutiveFailures = 0
		st.LastSuccess = now
		if run.Full {
			st.LastFull = &run
		} else {
			st.LastIncremental = &run
		}
		st.NextRun = now.Add(t.Interval)
		log.Info("sync done", "full", run.Full, "took", run.Duration.Round(time.Millisecond),
			"users_added", ar.UsersAdded, "users_updated", ar.UsersUpdated, "users_deleted", ar.UsersDeleted,
			"groups_added", ar.GroupsAdded, "groups_updated", ar.GroupsUpdated, "groups_deleted", ar.GroupsDeleted,
			"users", ar.Users, "groups", ar.Groups)
	}
	st.Users, st.Groups, _ = r.store.UpstreamCounts(t.Name)
	st.Collisions = r.store.Collisions(t.Name)
	st.Warnings = nil
	if len(st.Collisions) > 0 {
		st.Warnings = append(st.Warnings, fmt.Sprintf("%d names collide case-insensitively; the later records are skipped", len(st.Collisions)))
	}
	if ar.Skipped > 0 {
		st.Warnings = append(st.Warnings, fmt.Sprintf("%d records could not be stored (no key or name, or a key sent twice)", ar.Skipped))
	}
	for _, c := range r.store.Cycles() {
		if g, ok := r.store.Group(c[0]); ok && slices.Contains(g.Upstreams, t.Name) {
			st.Warnings = append(st.Warnings, "nesting cycle: "+strings.Join(append(c, c[0]), " → "))
		}
	}
	if w, ok := t.Syncer.(upstream.Warner); ok {
		st.Warnings = append(st.Warnings, w.Warnings()...)
	}
	st.CredentialExpires = time.Time{}
	if ce, ok := t.Syncer.(upstream.CredentialExpirer); ok {
		if exp, known := ce.CredentialExpiry(); known {
			st.CredentialExpires = exp
		}
	}
	if r.Warnings != nil {
		st.Warnings = append(st.Warnings, r.Warnings(t.Name)...)
	}
	if perr := r.store.PutStatus(st); perr != nil && err == nil {
		err = perr
	}
	if r.OnSync != nil {
		r.OnSync(t.Name, run)
	}
	if err != nil {
		return run, fmt.Errorf("sync %s: %w", t.Name, err)
	}
	return run, nil
}

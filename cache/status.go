package cache

import (
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Upstream states shown by `dirgate status`.
const (
	StatePending   = "pending"   // never synced
	StateConnected = "connected" // last sync succeeded
	StateSyncing   = "syncing"   // a sync is running
	StateError     = "error"     // last sync failed; the last good data is served
)

// SyncRun describes one sync.
type SyncRun struct {
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
	Full     bool          `json:"full"`
	// Result is set when the sync succeeded.
	Result *ApplyResult `json:"result,omitempty"`
	Error  string       `json:"error,omitempty"`
}

// Status is the durable status record of one upstream. It is written by the
// refresher and by one-shot syncs, so `dirgate status` tells the truth
// whichever ran last.
type Status struct {
	Upstream string `json:"upstream"`
	Type     string `json:"type"`
	State    string `json:"state"`
	// LastFull and LastIncremental are the last successful syncs of each
	// kind; LastFailure the last failed one.
	LastFull        *SyncRun  `json:"last_full,omitempty"`
	LastIncremental *SyncRun  `json:"last_incremental,omitempty"`
	LastFailure     *SyncRun  `json:"last_failure,omitempty"`
	LastSuccess     time.Time `json:"last_success,omitzero"`
	LastError       string    `json:"last_error,omitempty"`
	// ConsecutiveFailures drives the backoff.
	ConsecutiveFailures int       `json:"consecutive_failures,omitempty"`
	NextRun             time.Time `json:"next_run,omitzero"`
	// Users and Groups are the upstream's record counts now.
	Users  int `json:"users"`
	Groups int `json:"groups"`
	// Collisions are names skipped inside this upstream.
	Collisions []Collision `json:"collisions,omitempty"`
	// Warnings are non-fatal problems (credential expiry soon, skipped
	// records, nesting cycles).
	Warnings []string `json:"warnings,omitempty"`
	// CredentialExpires is when the upstream's API token or key expires,
	// for the types whose configuration says (upstream.CredentialExpirer).
	CredentialExpires time.Time `json:"credential_expires,omitzero"`
}

// Status returns the stored status of an upstream (State pending when it
// never synced).
func (s *Store) Status(up string) (Status, error) {
	st := Status{Upstream: up, State: StatePending}
	if s.closed.Load() {
		return st, ErrClosed
	}
	err := s.db.View(func(txn *badger.Txn) error { return getJSON(txn, statusKey(up), &st) })
	return st, err
}

// PutStatus stores an upstream's status.
func (s *Store) PutStatus(st Status) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.update(func(txn *badger.Txn) error { return putJSON(txn, statusKey(st.Upstream), st) })
}

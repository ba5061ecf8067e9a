package cache

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// The change journal records which entities of the merged view changed, in
// a monotonic sequence. The Crowd frontend serves it as /event tokens: a
// client holding token "<epoch>:<seq>" gets the events after seq and
// renders each named entity as it is now (Crowd's UPDATED events carry the
// complete state, so rendering the current state is exact).
//
// An apply too big to journal event by event (an upstream's first sync, a
// reorganisation) records one reset instead; tokens from before a reset,
// from another epoch (a different store) or older than the retention have
// expired, and clients fall back to a full sync.

// EventKind says what changed.
type EventKind string

// Event kinds.
const (
	KindUser            EventKind = "user"             // the user's record
	KindGroup           EventKind = "group"            // the group's record
	KindUserMembership  EventKind = "user_membership"  // the user's direct groups
	KindGroupMembership EventKind = "group_membership" // the group's direct parents or children
	KindReset           EventKind = "reset"            // too much changed: start over
)

// EventOp is the operation.
type EventOp string

// Operations.
const (
	OpCreated EventOp = "created"
	OpUpdated EventOp = "updated"
	OpDeleted EventOp = "deleted"
)

// Event is one journal entry.
type Event struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	Kind EventKind `json:"kind"`
	Op   EventOp   `json:"op,omitempty"`
	// Name is the user or group name (as last seen: for a deleted entity,
	// its name before deletion).
	Name     string `json:"name,omitempty"`
	Upstream string `json:"upstream,omitempty"`
	Reason   string `json:"reason,omitempty"` // for resets
}

type journalMeta struct {
	Epoch string `json:"epoch"`
	Head  uint64 `json:"head"`  // last assigned sequence number
	Tail  uint64 `json:"tail"`  // first retained sequence number
	Reset uint64 `json:"reset"` // sequence number of the last reset
}

// Token is a position in the journal.
type Token struct {
	Epoch string
	Seq   uint64
}

func (t Token) String() string { return t.Epoch + ":" + strconv.FormatUint(t.Seq, 10) }

// ParseToken parses a token made by Token.String.
func ParseToken(s string) (Token, error) {
	e, n, ok := strings.Cut(s, ":")
	seq, err := strconv.ParseUint(n, 10, 64)
	if !ok || e == "" || err != nil || len(s) > 64 {
		return Token{}, fmt.Errorf("%w: malformed token", ErrTokenExpired)
	}
	return Token{Epoch: e, Seq: seq}, nil
}

// journalReset records a reset event in txn; s.journal is updated in place
// and must be persisted by the caller.
func (s *Store) journalReset(txn *badger.Txn, reason string) error {
	s.journal.Head++
	s.journal.Reset = s.journal.Head
	ev := Event{Seq: s.journal.Head, Time: time.Now().UTC(), Kind: KindReset, Reason: reason}
	return putJSON(txn, journalKey(ev.Seq), ev)
}

// appendEvents assigns sequence numbers to evs and writes them in txn,
// trimming the journal to its retention. jm is updated in place.
func (s *Store) appendEvents(txn *badger.Txn, jm *journalMeta, evs []Event) error {
	for i := range evs {
		jm.Head++
		evs[i].Seq = jm.Head
		if err := putJSON(txn, journalKey(jm.Head), evs[i]); err != nil {
			return err
		}
	}
	// Trim the oldest events beyond the retention, a bounded number per
	// apply so the transaction stays small.
	limit := uint64(s.opts.JournalRetention)
	for n := 0; jm.Head >= limit && jm.Tail <= jm.Head-limit && n < 2*len(evs)+64; n++ {
		if err := txn.Delete(journalKey(jm.Tail)); err != nil {
			return err
		}
		jm.Tail++
	}
	return nil
}

// Head returns the token for "now": the events after it are the changes
// that happen from here on.
func (s *Store) Head() Token {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return Token{Epoch: s.journal.Epoch, Seq: s.journal.Head}
}

// EventsSince returns up to max events after tok and the token after the
// last one returned. ErrTokenExpired means the client must resync in full.
func (s *Store) EventsSince(tok Token, max int) ([]Event, Token, error) {
	s.mu.RLock()
	jm := s.journal
	s.mu.RUnlock()
	switch {
	case tok.Epoch != jm.Epoch:
		return nil, tok, fmt.Errorf("%w: from another store", ErrTokenExpired)
	case tok.Seq > jm.Head:
		return nil, tok, fmt.Errorf("%w: from the future", ErrTokenExpired)
	case tok.Seq < jm.Reset:
		return nil, tok, fmt.Errorf("%w: the directory was reset since", ErrTokenExpired)
	case tok.Seq+1 < jm.Tail:
		return nil, tok, fmt.Errorf("%w: older than the journal's retention", ErrTokenExpired)
	}
	if max <= 0 {
		max = 1 << 30
	}
	var evs []Event
	next := tok
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte("j:"), PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		for it.Seek(journalKey(tok.Seq + 1)); it.Valid() && len(evs) < max; it.Next() {
			seq := binary.BigEndian.Uint64(it.Item().Key()[2:])
			if seq > jm.Head {
				break
			}
			var ev Event
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &ev) }); err != nil {
				return err
			}
			if ev.Kind == KindReset {
				return fmt.Errorf("%w: the directory was reset since", ErrTokenExpired)
			}
			evs = append(evs, ev)
			next.Seq = seq
		}
		if len(evs) < max {
			next.Seq = jm.Head
		}
		return nil
	})
	if err != nil {
		return nil, tok, err
	}
	return evs, next, nil
}

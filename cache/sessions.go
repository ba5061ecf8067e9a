package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/dirgate/dirgate/upstream"
)

// Sessions are the Crowd frontend's SSO tokens, kept in the store so that
// they survive a restart:
//
//	k:<token>                   the session
//	ku:<folded user>:<token>    index, for "invalidate all of a user's"
//
// Expiry is checked on every read (Badger's TTL is only a backstop: it has
// one-second resolution and has been seen to resurrect keys).

// Session is one SSO session.
type Session struct {
	Token    string `json:"token"`
	Username string `json:"username"`
	// Upstream and UserID say whose session it is: the user's upstream and
	// its external ID (or key). A different user who later gets the same
	// name (the first deleted or renamed upstream) does not inherit it.
	Upstream    string    `json:"upstream,omitempty"`
	UserID      string    `json:"user_id,omitempty"`
	Application string    `json:"application"`
	Created     time.Time `json:"created"`
	LastUsed    time.Time `json:"last_used"`
	Expires     time.Time `json:"expires"`
	// Idle is how long the session lives without use; each validation
	// extends it by that much.
	Idle time.Duration `json:"idle"`
	// Factors are the validation factors the session was created with
	// (remote_address, X-Forwarded-For, ...).
	Factors map[string]string `json:"factors,omitempty"`
}

// ErrNoSession: the token is unknown or expired.
var ErrNoSession = errors.New("no such session")

func sessionKey(token string) []byte { return []byte("k:" + token) }
func sessionUserKey(user, token string) []byte {
	return []byte("ku:" + upstream.Fold(user) + ":" + token)
}

// PutSession stores (or replaces) a session until its expiry.
func (s *Store) PutSession(se Session) error {
	if s.closed.Load() {
		return ErrClosed
	}
	b, err := json.Marshal(se)
	if err != nil {
		return err
	}
	ttl := time.Until(se.Expires) + time.Minute
	if ttl <= 0 {
		return fmt.Errorf("session already expired")
	}
	return s.update(func(txn *badger.Txn) error {
		if err := txn.SetEntry(badger.NewEntry(sessionKey(se.Token), b).WithTTL(ttl)); err != nil {
			return err
		}
		return txn.SetEntry(badger.NewEntry(sessionUserKey(se.Username, se.Token), nil).WithTTL(ttl))
	})
}

// GetSession returns a live session.
func (s *Store) GetSession(token string) (Session, error) {
	var se Session
	if s.closed.Load() {
		return se, ErrClosed
	}
	err := s.db.View(func(txn *badger.Txn) error {
		b, err := getValue(txn, sessionKey(token))
		if err != nil {
			return err
		}
		if b == nil {
			return ErrNoSession
		}
		return json.Unmarshal(b, &se)
	})
	if err == nil && !time.Now().Before(se.Expires) {
		_ = s.DeleteSession(token)
		return Session{}, ErrNoSession
	}
	return se, err
}

// DeleteSession removes a session; an unknown token is not an error.
func (s *Store) DeleteSession(token string) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.update(func(txn *badger.Txn) error {
		b, err := getValue(txn, sessionKey(token))
		if err != nil || b == nil {
			return err
		}
		var se Session
		if json.Unmarshal(b, &se) == nil {
			if err := txn.Delete(sessionUserKey(se.Username, token)); err != nil {
				return err
			}
		}
		return txn.Delete(sessionKey(token))
	})
}

// DeleteUserSessions removes every session of a user but the one named
// except (empty: none kept), and returns how many went.
func (s *Store) DeleteUserSessions(username, except string) (int, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	prefix := []byte("ku:" + upstream.Fold(username) + ":")
	var tokens []string
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if t := string(it.Item().Key()[len(prefix):]); t != except {
				tokens = append(tokens, t)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, t := range tokens {
		if err := s.DeleteSession(t); err != nil {
			return 0, err
		}
	}
	return len(tokens), nil
}

// UpstreamUserByExternalID returns the record of one upstream with an
// external ID (the Crowd `key` lookup).
func (s *Store) UpstreamUserByExternalID(up, id string) (*upstream.User, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.ups[up]
	if st == nil || id == "" {
		return nil, false
	}
	if r := st.userByExt(id); r != nil {
		return r.user(), true
	}
	return nil, false
}

package cache

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/dirgate/dirgate/upstream"
)

// Store layout in Badger. Upstream names are restricted to [a-z0-9_-], so
// ':' separates components safely; record keys come last and may hold
// anything.
//
//	m:format                   schema version
//	m:journal                  journal meta (epoch, head, tail, last reset)
//	m:order                    upstream order the journal was written under
//	u:<up>                     upstream meta: generation, cursor, next order
//	s:<up>                     upstream status (state, last syncs, errors)
//	r:<up>:<gen>:u:<key>       user record
//	r:<up>:<gen>:g:<key>       group record
//	x:<up>:<name>              private values of an upstream (local password hashes)
//	j:<seq as 8 bytes>         journal event
//
// A sync small enough for one Badger transaction writes its records into
// the upstream's current generation in that transaction. A bigger one writes
// the whole new state under a fresh generation (invisible until committed),
// then flips the generation in one small transaction; whatever a crash
// leaves behind is an orphan generation that Open deletes.

const (
	formatVersion = "1"

	keyFormat  = "m:format"
	keyJournal = "m:journal"
	keyOrder   = "m:order"
)

func metaKey(up string) []byte   { return []byte("u:" + up) }
func statusKey(up string) []byte { return []byte("s:" + up) }
func genPrefix(up string, gen uint64) []byte {
	return fmt.Appendf(nil, "r:%s:%016x:", up, gen)
}
func userKey(up string, gen uint64, key string) []byte {
	return append(append(genPrefix(up, gen), "u:"...), key...)
}
func groupKey(up string, gen uint64, key string) []byte {
	return append(append(genPrefix(up, gen), "g:"...), key...)
}
func auxKey(up, name string) []byte { return []byte("x:" + up + ":" + name) }
func journalKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte("j:"), seq)
}

// upMeta is the durable state of one upstream besides its records.
type upMeta struct {
	Gen       uint64 `json:"gen"`
	Pending   uint64 `json:"pending,omitempty"` // generation being written
	Old       uint64 `json:"old,omitempty"`     // generation waiting for deletion
	Cursor    []byte `json:"cursor,omitempty"`
	NextOrder uint64 `json:"next_order"`
	// Synced is set by the first successful sync (or seed); a restart then
	// serves the stored state without waiting for the upstream.
	Synced bool `json:"synced,omitempty"`
}

// Options configure Open.
type Options struct {
	// Dir is the Badger directory. Empty with InMemory for tests.
	Dir      string
	InMemory bool
	// Upstreams are the configured upstream names, in order. Data of
	// upstreams not listed stays on disk but is not served.
	Upstreams []string
	Logger    *slog.Logger
	// ClosureCacheSize bounds the LRU of computed nested memberships
	// (default 8192 entries).
	ClosureCacheSize int
	// JournalRetention is the number of journal events kept (default
	// 100,000); older event tokens expire.
	JournalRetention int
	// ResetThreshold: an apply that would journal more events than this
	// journals one reset instead, which expires every earlier token so that
	// clients do a full sync (default 10,000).
	ResetThreshold int
	// BigApply is the number of record changes above which an apply writes a
	// new generation instead of one transaction (default: a quarter of what
	// one Badger transaction can hold, about 6,500). Applies whose encoded
	// size would not fit one transaction go the generation way too.
	BigApply int
}

// Errors.
var (
	ErrClosed         = errors.New("store closed")
	ErrUnknownUp      = errors.New("unknown upstream")
	ErrInUse          = errors.New("store in use by another process")
	ErrTokenExpired   = errors.New("event token expired")
	ErrDeletionGuard  = errors.New("deletion guard")
	ErrInvalidRecords = errors.New("invalid records")
)

// Store is the cached, merged directory.
type Store struct {
	db   *badger.DB
	log  *slog.Logger
	opts Options

	applyMu sync.Mutex // serialises every change
	mu      sync.RWMutex
	v       *view
	ups     map[string]*upState
	journal journalMeta

	version atomic.Uint64
	closed  atomic.Bool
	closure *lru.Cache[closureKey, closureVal] // nested members, descendants
	anc     atomic.Pointer[ancestorMemo]

	// Cycles' last result and the upstreams' graph generations it is for.
	cyclesMu   sync.Mutex
	cyclesGens []uint64
	cyclesOut  [][]string
}

type closureKey struct {
	kind      byte // 'm' nested user members, 'd' descendants
	name      string
	aggregate bool
}

type closureVal struct {
	version uint64
	names   []string
}

// Open opens (creating if needed) the store in opts.Dir and loads it.
func Open(opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ClosureCacheSize <= 0 {
		opts.ClosureCacheSize = 8192
	}
	if opts.JournalRetention <= 0 {
		opts.JournalRetention = 100_000
	}
	if opts.ResetThreshold <= 0 {
		opts.ResetThreshold = 10_000
	}
	for _, n := range opts.Upstreams {
		if !upstream.ValidName(n) {
			return nil, fmt.Errorf("open store: %w: invalid name %q", ErrUnknownUp, n)
		}
	}
	if c := duplicate(opts.Upstreams); c != "" {
		return nil, fmt.Errorf("open store: upstream %q listed twice", c)
	}
	bo := badger.DefaultOptions(opts.Dir).
		WithLogger(badgerLogger{opts.Logger.With("component", "badger")}).
		WithMemTableSize(16 << 20).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(8).
		WithBlockCacheSize(16 << 20).
		WithIndexCacheSize(16 << 20).
		WithValueLogFileSize(256 << 20).
		WithNumCompactors(2).
		WithBaseTableSize(2 << 20)
	if opts.InMemory {
		bo = bo.WithInMemory(true).WithDir("").WithValueDir("")
	} else {
		if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	db, err := badger.Open(bo)
	if err != nil {
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, fmt.Errorf("open store %s: %w%s", opts.Dir, ErrInUse, lockHolder(opts.Dir))
		}
		return nil, fmt.Errorf("open store %s: %w", opts.Dir, err)
	}
	if opts.BigApply <= 0 {
		opts.BigApply = int(db.MaxBatchCount() / 4)
	}
	s := &Store{db: db, log: opts.Logger, opts: opts, ups: map[string]*upState{}}
	s.closure, _ = lru.New[closureKey, closureVal](opts.ClosureCacheSize)
	if err := s.load(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %s: %w", opts.Dir, err)
	}
	return s, nil
}

func duplicate(l []string) string {
	seen := map[string]bool{}
	for _, n := range l {
		if seen[n] {
			return n
		}
		seen[n] = true
	}
	return ""
}

func lockHolder(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "LOCK"))
	if err != nil {
		return ""
	}
	if pid := strings.TrimSpace(string(b)); pid != "" {
		return " (pid " + pid + ")"
	}
	return ""
}

// Close closes the store. Applies in progress finish first.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	return s.db.Close()
}

// load reads the metadata and every configured upstream's records, cleans up
// what an interrupted apply left, and builds the merged view.
func (s *Store) load() error {
	start := time.Now()
	var format []byte
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		format, err = getValue(txn, []byte(keyFormat))
		if err != nil {
			return err
		}
		return getJSON(txn, []byte(keyJournal), &s.journal)
	})
	if err != nil {
		return err
	}
	if format != nil && string(format) != formatVersion {
		return fmt.Errorf("store format %q, this build reads %q", format, formatVersion)
	}
	ups := make([]*upState, len(s.opts.Upstreams))
	for i, name := range s.opts.Upstreams {
		st := newUpState(name, i)
		if err := s.loadUpstream(st); err != nil {
			return fmt.Errorf("upstream %s: %w", name, err)
		}
		ups[i] = st
		s.ups[name] = st
	}
	s.v = newView(ups)
	s.v.rebuild()

	// First open, or the upstream order changed: the journal cannot describe
	// how the merged view got here, so start it over (tokens expire).
	order := strings.Join(s.opts.Upstreams, ",")
	err = s.update(func(txn *badger.Txn) error {
		if format == nil {
			if err := txn.Set([]byte(keyFormat), []byte(formatVersion)); err != nil {
				return err
			}
		}
		if s.journal.Epoch == "" {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			s.journal.Epoch = hex.EncodeToString(b)
			s.journal.Tail = 1
		}
		old, err := getValue(txn, []byte(keyOrder))
		if err != nil {
			return err
		}
		if old == nil || string(old) != order {
			if old != nil {
				s.log.Info("upstream order changed: journal reset", "was", string(old), "now", order)
			}
			if err := s.journalReset(txn, "upstream order changed"); err != nil {
				return err
			}
			if err := txn.Set([]byte(keyOrder), []byte(order)); err != nil {
				return err
			}
		}
		return putJSON(txn, []byte(keyJournal), s.journal)
	})
	if err != nil {
		return err
	}
	s.version.Store(1)
	s.log.Debug("store loaded", "users", len(s.v.sortedUsers), "groups", len(s.v.sortedGroups), "took", time.Since(start))
	return nil
}

func (s *Store) loadUpstream(st *upState) error {
	err := s.db.View(func(txn *badger.Txn) error { return getJSON(txn, metaKey(st.name), &st.meta) })
	if err != nil {
		return err
	}
	// Finish what a crash interrupted: drop a half-written generation and a
	// replaced one that was not deleted yet.
	for _, gen := range []uint64{st.meta.Pending, st.meta.Old} {
		if gen != 0 && gen != st.meta.Gen {
			s.log.Info("removing an interrupted sync's leftovers", "upstream", st.name, "generation", gen)
			if err := s.dropPrefix(genPrefix(st.name, gen)); err != nil {
				return err
			}
		}
	}
	if st.meta.Pending != 0 || st.meta.Old != 0 {
		st.meta.Pending, st.meta.Old = 0, 0
		if err := s.update(func(txn *badger.Txn) error { return putJSON(txn, metaKey(st.name), st.meta) }); err != nil {
			return err
		}
	}
	prefix := genPrefix(st.name, st.meta.Gen)
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		var groups []*groupRec
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			k := item.Key()[len(prefix):]
			err := item.Value(func(val []byte) error {
				switch {
				case len(k) > 2 && k[0] == 'u' && k[1] == ':':
					u, err := decodeUser(val)
					if err != nil {
						return fmt.Errorf("user %q: %w", k[2:], err)
					}
					st.putUser(u)
				case len(k) > 2 && k[0] == 'g' && k[1] == ':':
					g, err := decodeGroup(val)
					if err != nil {
						return fmt.Errorf("group %q: %w", k[2:], err)
					}
					groups = append(groups, g)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		for _, g := range groups {
			internMembers(st, &g.Group, nil)
			st.putGroup(g)
		}
		return nil
	})
}

// internMembers makes member keys share memory with the record keys they
// name: with 500,000 memberships that halves the memory they take.
func internMembers(st *upState, g *upstream.Group, pending map[string]string) {
	for i, m := range g.Members {
		if u := st.users.get(m); u != nil {
			g.Members[i] = u.key()
		} else if o := st.groups.get(m); o != nil {
			g.Members[i] = o.Key
		} else if k, ok := pending[m]; ok {
			g.Members[i] = k
		}
	}
}

func (s *Store) dropPrefix(prefix []byte) error {
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := wb.Delete(it.Item().KeyCopy(nil)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return wb.Flush()
}

// update runs fn in a read-write transaction, retrying on conflicts.
func (s *Store) update(fn func(txn *badger.Txn) error) error {
	for {
		err := s.db.Update(fn)
		if !errors.Is(err, badger.ErrConflict) {
			return err
		}
	}
}

func getValue(txn *badger.Txn, key []byte) ([]byte, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

func getJSON(txn *badger.Txn, key []byte, v any) error {
	b, err := getValue(txn, key)
	if err != nil || b == nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

func putJSON(txn *badger.Txn, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return txn.Set(key, b)
}

// Version increases with every change to the merged view; frontends use it
// to invalidate what they derived from it.
func (s *Store) Version() uint64 { return s.version.Load() }

// Upstreams returns the configured upstream names in order.
func (s *Store) Upstreams() []string { return slices.Clone(s.opts.Upstreams) }

func (s *Store) upstream(name string) (*upState, error) {
	st := s.ups[name]
	if st == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownUp, name)
	}
	return st, nil
}

// Synced reports whether the upstream has data from a successful sync (or
// its seed), which a restart serves at once.
func (s *Store) Synced(name string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.ups[name]
	return st != nil && st.meta.Synced
}

// Cursor returns the upstream's committed sync cursor.
func (s *Store) Cursor(name string) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, err := s.upstream(name)
	if err != nil {
		return nil, err
	}
	return slices.Clone(st.meta.Cursor), nil
}

// Aux reads a private value of an upstream (see Changes.Aux).
func (s *Store) Aux(up, name string) ([]byte, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	var v []byte
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		v, err = getValue(txn, auxKey(up, name))
		return err
	})
	return v, err
}

// DiskSize returns the bytes Badger's LSM tree and value log take.
func (s *Store) DiskSize() (lsm, vlog int64) { return s.db.Size() }

// badgerLogger sends Badger's log to slog: warnings and errors only, its
// informational chatter at Debug.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error(strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn(strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Infof(f string, a ...any) {
	b.l.Debug(strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Debugf(f string, a ...any) {}

// ctxErr returns ctx's error, wrapped with an operation name.
func ctxErr(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

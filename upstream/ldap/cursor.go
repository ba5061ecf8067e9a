package ldap

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"

	goldap "github.com/go-ldap/ldap/v3"
)

// cursorVersion is bumped when the meaning of a cursor changes; a cursor of
// another version forces a full sync.
const cursorVersion = 1

// maxBoundary caps cursor.At. When more entries share the newest timestamp
// (a bulk load), the set is dropped and the next incremental sync fetches
// those entries again, which is harmless.
const maxBoundary = 1000

// cursor is SyncResult.Cursor, a small JSON document:
//
//	{"v":1,"mode":"modifyTimestamp","since":"20261122063812Z",
//	 "at":["9f0c2d4e5a6b7c8d"],"url":"ldap://ldap1:389","config":"5e1f..."}
//	{"v":1,"mode":"uSNChanged","usn":128734,
//	 "server":"CN=NTDS Settings,CN=DC1,...","url":"ldap://dc1:389","config":"5e1f..."}
//
// modifyTimestamp: the next sync asks for (modifyTimestamp>=since). The
// timestamp has one-second resolution, so ">=" re-reads the entries of the
// newest second; "at" names the ones this sync saw (a hash of DN,
// modifyTimestamp and entryCSN), and they are left out of the next result
// unless they changed again (entryCSN, kept by OpenLDAP, has microseconds).
//
// uSNChanged (Active Directory): "usn" is the highestCommittedUSN the domain
// controller reported before this sync read anything; the next sync asks for
// (uSNChanged>=usn+1). USNs are counted per domain controller, so a cursor
// whose "server" (the dsServiceName of the DC) differs from the DC that
// answers now forces a full sync.
//
// "config" is a hash of the bases, filters and attribute mapping: after any
// of them changes, an incremental result would be wrong, so the next sync
// is full. "url" only records which server answered.
type cursor struct {
	V      int      `json:"v"`
	Mode   string   `json:"mode"`
	Since  string   `json:"since,omitempty"`
	At     []string `json:"at,omitempty"`
	USN    int64    `json:"usn,omitempty"`
	Server string   `json:"server,omitempty"`
	URL    string   `json:"url,omitempty"`
	Config string   `json:"config"`
}

func decodeCursor(b []byte) (*cursor, error) {
	if len(b) == 0 {
		return nil, errors.New("no cursor")
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("unreadable cursor: %w", err)
	}
	if c.V != cursorVersion {
		return nil, fmt.Errorf("cursor version %d, want %d", c.V, cursorVersion)
	}
	switch c.Mode {
	case IncrementalModifyTimestamp:
		if _, err := parseGeneralizedTime(c.Since); err != nil {
			return nil, fmt.Errorf("cursor: %w", err)
		}
	case IncrementalUSNChanged:
		if c.USN <= 0 || c.Server == "" {
			return nil, errors.New("cursor: no USN or server")
		}
	default:
		return nil, fmt.Errorf("cursor: mode %q cannot be incremental", c.Mode)
	}
	return &c, nil
}

func (c *cursor) encode() []byte {
	b, err := json.Marshal(c)
	if err != nil { // cannot happen: plain strings and numbers
		panic(err)
	}
	return b
}

// usable reports why c cannot drive an incremental sync under the current
// settings, or "" when it can. server is the DC's dsServiceName in
// uSNChanged mode.
func (c *cursor) usable(mode, configHash, server string) string {
	switch {
	case c.Mode != mode:
		return fmt.Sprintf("cursor mode %s, configured %s", c.Mode, mode)
	case c.Config != configHash:
		return "search settings changed"
	case mode == IncrementalUSNChanged && c.Server != server:
		return fmt.Sprintf("cursor from server %q, connected to %q", c.Server, server)
	}
	return ""
}

// filter returns the incremental form of base.
func (c *cursor) filter(base string) string {
	switch c.Mode {
	case IncrementalModifyTimestamp:
		return "(&" + base + "(modifyTimestamp>=" + goldap.EscapeFilter(c.Since) + "))"
	case IncrementalUSNChanged:
		return "(&" + base + "(uSNChanged>=" + strconv.FormatInt(c.USN+1, 10) + "))"
	}
	return base
}

// seenAt reports whether the entry with hash h was read by the previous
// sync with timestamp ts, unchanged since.
func (c *cursor) seenAt(ts string, h string) bool {
	return c != nil && c.Mode == IncrementalModifyTimestamp && ts == c.Since && slices.Contains(c.At, h)
}

// configHash identifies the settings a cursor depends on.
func configHash(cfg Config) string {
	h := fnv.New64a()
	a := cfg.Attributes
	for _, s := range []string{cfg.UserBase, cfg.UserFilter, cfg.GroupBase, cfg.GroupFilter, cfg.Incremental,
		a.Username, a.Email, a.FirstName, a.LastName, a.DisplayName, a.ExternalID, a.GroupName, a.Description, a.Member} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// entryHash identifies one version of an entry for cursor.At.
func entryHash(key, modifyTimestamp, entryCSN string) string {
	h := fnv.New64a()
	h.Write([]byte(key))
	h.Write([]byte{0})
	h.Write([]byte(modifyTimestamp))
	h.Write([]byte{0})
	h.Write([]byte(entryCSN))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], h.Sum64())
	return hex.EncodeToString(b[:])
}

// tracker computes the next cursor while a sync reads entries.
type tracker struct {
	mode     string
	since    string              // newest normalised modifyTimestamp
	at       map[string]struct{} // hashes of the entries at since
	overflow bool
	maxUSN   int64
}

func newTracker(mode string, prev *cursor) *tracker {
	t := &tracker{mode: mode, at: map[string]struct{}{}}
	if prev != nil && prev.Mode == IncrementalModifyTimestamp && mode == IncrementalModifyTimestamp {
		// An incremental sync reads every entry at prev.Since again, but an
		// entry there may have been deleted or left the filter: start from
		// the previous state so the cursor never moves backwards.
		t.since = prev.Since
		for _, h := range prev.At {
			t.at[h] = struct{}{}
		}
	}
	return t
}

// see records an entry's normalised modifyTimestamp and hash.
func (t *tracker) see(ts, h string) {
	switch {
	case ts == "":
	case ts > t.since:
		t.since = ts
		clear(t.at)
		t.overflow = false
		t.at[h] = struct{}{}
	case ts == t.since && !t.overflow:
		t.at[h] = struct{}{}
		if len(t.at) > maxBoundary {
			t.overflow = true
			clear(t.at)
		}
	}
}

func (t *tracker) seeUSN(usn int64) { t.maxUSN = max(t.maxUSN, usn) }

// cursor returns the cursor to store, or nil when there is nothing to
// resume from (the next sync is full).
func (t *tracker) cursor(cfgHash, url, server string, highestCommitted int64) []byte {
	c := cursor{V: cursorVersion, Mode: t.mode, URL: url, Config: cfgHash}
	switch t.mode {
	case IncrementalModifyTimestamp:
		if t.since == "" {
			return nil
		}
		c.Since = t.since
		if !t.overflow {
			c.At = make([]string, 0, len(t.at))
			for h := range t.at {
				c.At = append(c.At, h)
			}
			slices.Sort(c.At)
		}
	case IncrementalUSNChanged:
		// highestCommittedUSN was read before the searches: every change
		// after it has a higher USN. Without it, fall back to the highest
		// USN seen (a change made during the sync to an entry read earlier
		// may then wait for the next full sync).
		c.USN = highestCommitted
		if c.USN <= 0 {
			c.USN = t.maxUSN
		}
		if c.USN <= 0 || server == "" {
			return nil
		}
		c.Server = server
	default:
		return nil
	}
	return c.encode()
}

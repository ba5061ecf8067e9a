package access

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// cursorVersion is bumped when the meaning of a cursor changes; a cursor
// of another version forces a full sync.
const cursorVersion = 1

// cursor is SyncResult.Cursor, a small JSON document:
//
//	{"v":1,"config":"5e1f…","events":"Y3Vyc29y…","at":"2026-05-02T09:13:05Z","full_requests":106}
//
// "events" is the events-stream cursor to read from next: taken at the
// start of a full sync (so that changes made while it listed are replayed,
// never missed) and advanced by each incremental sync. It is empty when
// events are off or the stream could not be read. "at" is when it was
// taken. "full_requests" is what the last full sync cost in requests: an
// incremental sync whose targeted refetches would cost more than half of
// it does a full sync instead. "config" is a hash of base_url, org_id,
// directory_id and username: after any of them changes the next sync is
// full.
type cursor struct {
	V            int       `json:"v"`
	Config       string    `json:"config"`
	Events       string    `json:"events,omitempty"`
	At           time.Time `json:"at,omitzero"`
	FullRequests int       `json:"full_requests,omitempty"`
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
	return &c, nil
}

func (c *cursor) encode() []byte {
	b, _ := json.Marshal(c)
	return b
}

// Package admin is what the dirgate CLI asks of a store: status, counts,
// users and groups, exports and syncs. Service is implemented twice: Local
// answers from a store the process opened itself, Client asks a running
// `dirgate serve` over the unix socket in data_dir (Badger lets only one
// process open the store). Both return the same values, so the CLI prints
// the same thing either way; the JSON form of these types is the stable
// `--json` output.
package admin

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/certs"
)

// Service is the admin API.
type Service interface {
	Status(ctx context.Context) (*Status, error)
	Stats(ctx context.Context) (*Stats, error)
	// Users lists the merged view's users, or with upstream set, that
	// upstream's own records (shadowed ones included).
	Users(ctx context.Context, upstream string) ([]UserSummary, error)
	Groups(ctx context.Context) ([]GroupSummary, error)
	User(ctx context.Context, name string) (*UserDetail, error)
	Group(ctx context.Context, name string) (*GroupDetail, error)
	// Export writes the directory as "json" or "ldif".
	Export(ctx context.Context, format string, w io.Writer) error
	// Sync runs syncs now and reports each upstream's outcome; progress, if
	// set, receives fetch counts while they run.
	Sync(ctx context.Context, req SyncRequest, progress func(Progress)) ([]SyncOutcome, error)
}

// Errors.
var (
	ErrNotFound   = errors.New("not found")
	ErrBadRequest = errors.New("bad request")
)

// Status is `dirgate status`: every upstream's status, and the LDAP
// frontend's TLS certificate (absent before the first `serve`).
type Status struct {
	Upstreams []UpstreamStatus `json:"upstreams"`
	LDAPTLS   *certs.Info      `json:"ldap_tls,omitempty"`
}

// UpstreamStatus is one upstream's status.
type UpstreamStatus struct {
	cache.Status
	// Synced: the upstream has data (from a sync or a seed) that is served.
	Synced bool `json:"synced"`
}

// Stats are the store's figures (`dirgate cache stats`).
type Stats struct {
	Users       int             `json:"users"`
	Groups      int             `json:"groups"`
	Memberships int             `json:"memberships"`
	Upstreams   []UpstreamStats `json:"upstreams"`
	Cycles      [][]string      `json:"cycles,omitempty"`
	Journal     JournalStats    `json:"journal"`
	DiskBytes   int64           `json:"disk_bytes"`
}

// UpstreamStats are one upstream's record counts.
type UpstreamStats struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Users       int    `json:"users"`
	Groups      int    `json:"groups"`
	Memberships int    `json:"memberships"`
	Collisions  int    `json:"collisions"`
}

// JournalStats describe the change journal.
type JournalStats struct {
	Head string `json:"head"` // the current event token
}

// UserSummary is one line of `dirgate cache users`.
type UserSummary struct {
	Username    string `json:"username"`
	DisplayName string `json:"display_name,omitempty"`
	Email       string `json:"email,omitempty"`
	Active      bool   `json:"active"`
	Upstream    string `json:"upstream"`
}

// GroupSummary is one line of `dirgate cache groups`.
type GroupSummary struct {
	Name         string   `json:"name"`
	Description  string   `json:"description,omitempty"`
	Upstreams    []string `json:"upstreams"`
	DirectUsers  int      `json:"direct_users"`
	DirectGroups int      `json:"direct_groups"`
}

// UserDetail is `dirgate cache user NAME`.
type UserDetail struct {
	Username    string              `json:"username"`
	Upstream    string              `json:"upstream"`
	Key         string              `json:"key"`
	ExternalID  string              `json:"external_id,omitempty"`
	FirstName   string              `json:"first_name,omitempty"`
	LastName    string              `json:"last_name,omitempty"`
	DisplayName string              `json:"display_name,omitempty"`
	Email       string              `json:"email,omitempty"`
	Active      bool                `json:"active"`
	Created     time.Time           `json:"created,omitzero"`
	Updated     time.Time           `json:"updated,omitzero"`
	Attributes  map[string][]string `json:"attributes,omitempty"`
	// Shadowed lists the later upstreams that have the same username.
	Shadowed     []string `json:"shadowed,omitempty"`
	DirectGroups []string `json:"direct_groups"`
	NestedGroups []string `json:"nested_groups"`
	DN           string   `json:"dn"`
}

// GroupDetail is `dirgate cache group NAME`.
type GroupDetail struct {
	Name         string   `json:"name"`
	Description  string   `json:"description,omitempty"`
	Upstreams    []string `json:"upstreams"`
	Active       bool     `json:"active"`
	DirectUsers  []string `json:"direct_users"`
	DirectGroups []string `json:"direct_groups"`
	NestedUsers  []string `json:"nested_users"`
	Parents      []string `json:"parents"`
	Ancestors    []string `json:"ancestors"`
	DN           string   `json:"dn"`
}

// SyncRequest is `dirgate sync`.
type SyncRequest struct {
	// Upstream names one upstream; empty syncs all, in order.
	Upstream     string `json:"upstream,omitempty"`
	Full         bool   `json:"full,omitempty"`
	AllowDeletes bool   `json:"allow_deletes,omitempty"`
}

// Progress reports entries fetched so far by a running sync.
type Progress struct {
	Upstream string `json:"upstream"`
	Fetched  int    `json:"fetched"`
}

// SyncOutcome is the result of one upstream's sync.
type SyncOutcome struct {
	Upstream string        `json:"upstream"`
	Run      cache.SyncRun `json:"run"`
	Error    string        `json:"error,omitempty"`
}

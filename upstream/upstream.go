package upstream

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// User is one user record exactly as an upstream reports it.
//
// Records are values: once handed to the cache they are never modified, so
// readers may share them without copying.
type User struct {
	// Key identifies the record inside its upstream and is what group member
	// lists refer to (LDAP: the normalised DN; local: a UUID; clouds: the
	// account ID). It must be unique and non-empty.
	Key string `json:"key"`
	// ExternalID is the upstream's immutable identifier (entryUUID,
	// objectGUID, accountId). When an incremental sync reports a record with a
	// new Key but a known ExternalID, the cache treats it as a rename.
	ExternalID  string              `json:"external_id,omitempty"`
	Username    string              `json:"username"`
	FirstName   string              `json:"first_name,omitempty"`
	LastName    string              `json:"last_name,omitempty"`
	DisplayName string              `json:"display_name,omitempty"`
	Email       string              `json:"email,omitempty"`
	Active      bool                `json:"active"`
	Created     time.Time           `json:"created,omitzero"`
	Updated     time.Time           `json:"updated,omitzero"`
	Attributes  map[string][]string `json:"attributes,omitempty"`
}

// Group is one group record as an upstream reports it.
type Group struct {
	Key         string `json:"key"`
	ExternalID  string `json:"external_id,omitempty"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Active      bool   `json:"active"`
	// Members lists the Keys of direct members: users and groups of the same
	// upstream. Keys that name neither are ignored when the view is built.
	Members    []string            `json:"members,omitempty"`
	Created    time.Time           `json:"created,omitzero"`
	Updated    time.Time           `json:"updated,omitzero"`
	Attributes map[string][]string `json:"attributes,omitempty"`
}

// SyncRequest asks an upstream for its records.
type SyncRequest struct {
	// Full asks for every record. Without it the upstream may answer with
	// only what changed since Cursor (and must answer in full when it cannot).
	Full bool
	// Cursor is the Cursor of the last sync that was committed, nil if none.
	Cursor []byte
	// Progress, when set, is called now and then with the number of entries
	// fetched so far.
	Progress func(fetched int)
}

// SyncResult is what one sync fetched.
type SyncResult struct {
	// Full means Users and Groups are the whole directory: records the cache
	// holds but that are absent here are deleted.
	Full   bool
	Users  []User
	Groups []Group
	// DeletedUsers and DeletedGroups are keys known to be gone, for upstreams
	// that report deletions in incremental results.
	DeletedUsers  []string
	DeletedGroups []string
	// Cursor is stored with the result and passed back on the next request.
	Cursor []byte
}

// Syncer is an upstream the cache can copy from.
type Syncer interface {
	Sync(ctx context.Context, req SyncRequest) (*SyncResult, error)
}

// PasswordChecker verifies a user's password at the upstream. A wrong or
// empty password, or an unknown or disabled account, is ok=false with a nil
// error; err is reserved for an upstream that could not answer.
type PasswordChecker interface {
	CheckPassword(ctx context.Context, u *User, password string) (ok bool, err error)
}

// CredentialExpirer is an upstream whose credential (an API token or key)
// expires on a date the configuration gives; status shows it.
type CredentialExpirer interface {
	CredentialExpiry() (expires time.Time, known bool)
}

// Warner is an upstream with warnings for its status (a credential that
// expires soon, records it had to skip), asked after every sync.
type Warner interface {
	Warnings() []string
}

// Upstream is what every upstream type opens to. The capabilities are probed
// with type assertions (Syncer, PasswordChecker, local's Writer).
type Upstream interface {
	// Type is the configured type name ("ldap", "local", ...).
	Type() string
	Close() error
}

// Errors shared by every upstream type. Implementations wrap them with %w so
// that callers can test with errors.Is.
var (
	// ErrUnavailable: the upstream could not be reached or did not answer.
	ErrUnavailable = errors.New("upstream unavailable")
	// ErrCredentials: the upstream rejected dirgate's own credentials.
	ErrCredentials = errors.New("upstream rejected dirgate's credentials")
	// ErrRejected: the upstream refused the request itself (a bad filter,
	// a missing permission, a base that does not exist).
	ErrRejected = errors.New("upstream rejected the request")
	// ErrInvalidConfig: a Config failed validation.
	ErrInvalidConfig = errors.New("invalid upstream configuration")
	// ErrNotFound: the user or group does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists: a user or group with that name exists already.
	ErrExists = errors.New("already exists")
)

// RetryAfterError is implemented by errors that know when the upstream will
// accept the next request (HTTP 429 Retry-After, for example).
type RetryAfterError interface {
	error
	RetryAfter() time.Duration
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)

// ValidName reports whether s may name an upstream: lower-case letters,
// digits, '-' and '_', starting with a letter, at most 63 characters. Names
// appear in store keys, status output and file names.
func ValidName(s string) bool { return nameRE.MatchString(s) }

// Fold is the case-insensitive identity of user and group names and e-mail
// addresses. Every index in dirgate is keyed by it.
func Fold(s string) string {
	// Fast path: ASCII without upper case needs no allocation.
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || ('A' <= c && c <= 'Z') {
			return strings.ToLower(s)
		}
	}
	return s
}

// Validate checks that a record can be stored.
func (u *User) Validate() error {
	switch {
	case u.Key == "":
		return fmt.Errorf("user %q: empty key", u.Username)
	case strings.TrimSpace(u.Username) == "":
		return fmt.Errorf("user with key %q: empty username", u.Key)
	case u.Username != strings.TrimSpace(u.Username):
		return fmt.Errorf("user %q: leading or trailing white space in username", u.Username)
	}
	return nil
}

// Validate checks that a record can be stored.
func (g *Group) Validate() error {
	switch {
	case g.Key == "":
		return fmt.Errorf("group %q: empty key", g.Name)
	case strings.TrimSpace(g.Name) == "":
		return fmt.Errorf("group with key %q: empty name", g.Key)
	case g.Name != strings.TrimSpace(g.Name):
		return fmt.Errorf("group %q: leading or trailing white space in name", g.Name)
	}
	return nil
}

// FieldError is one configuration problem, with the path of the offending
// key relative to the upstream's own section ("user_base",
// "attributes.username"). The config loader prefixes "upstreams[N].".
type FieldError struct {
	Path string
	Err  error
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// Problems collects FieldErrors; Err joins them (nil when there are none).
type Problems []error

// Add records a problem at path.
func (p *Problems) Add(path string, format string, args ...any) {
	*p = append(*p, &FieldError{Path: path, Err: fmt.Errorf(format, args...)})
}

// Err returns every recorded problem, joined, wrapping ErrInvalidConfig.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(p...))
}

// Writer is an upstream that accepts changes (dirgate's local directory).
// Names are case-insensitive; the errors wrap ErrNotFound and ErrExists.
type Writer interface {
	CreateUser(ctx context.Context, u User, password string) (*User, error)
	// UpdateUser replaces the user's fields (not its name, key or password).
	UpdateUser(ctx context.Context, username string, u User) (*User, error)
	RenameUser(ctx context.Context, username, newName string) (*User, error)
	DeleteUser(ctx context.Context, username string) error
	// SetPassword replaces the password; an empty one removes it.
	SetPassword(ctx context.Context, username, password string) error
	CreateGroup(ctx context.Context, g Group) (*Group, error)
	// UpdateGroup replaces description, active and attributes.
	UpdateGroup(ctx context.Context, name string, g Group) (*Group, error)
	DeleteGroup(ctx context.Context, name string) error
	AddMember(ctx context.Context, group string, member string, memberIsGroup bool) error
	RemoveMember(ctx context.Context, group string, member string, memberIsGroup bool) error
}

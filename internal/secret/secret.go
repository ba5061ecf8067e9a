// Package secret keeps passwords, tokens and password hashes out of logs and
// output, and hashes and verifies passwords with argon2id.
package secret

import (
	"log/slog"
)

// String holds a secret read from the configuration (a bind password, an API
// token). It prints as "[redacted]" through fmt, JSON and slog; call Reveal
// where the secret is really used.
type String string

const redacted = "[redacted]"

// Reveal returns the secret itself.
func (s String) Reveal() string { return string(s) }

// IsZero reports whether the secret is empty.
func (s String) IsZero() bool { return s == "" }

// String implements fmt.Stringer.
func (s String) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString implements fmt.GoStringer so %#v does not print it either.
func (s String) GoString() string { return `secret.String("` + s.String() + `")` }

// MarshalJSON implements json.Marshaler.
func (s String) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalText implements encoding.TextMarshaler.
func (s String) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue implements slog.LogValuer.
func (s String) LogValue() slog.Value { return slog.StringValue(s.String()) }

package local

import (
	"github.com/dirgate/dirgate/upstream"
)

// Config is the `upstreams[]` entry of type local.
type Config struct {
	// SeedFile is a YAML file of users and groups loaded into the directory
	// the first time it starts (when the store has never held this
	// upstream). Later edits to the file are ignored.
	SeedFile string `yaml:"seed_file"`
}

// WithDefaults returns c unchanged: a local directory has no settings with
// defaults.
func (c Config) WithDefaults() Config { return c }

// Validate reports problems in c. The seed file itself is checked when the
// upstream opens, since it may legitimately be absent after the first start.
func (c Config) Validate() error {
	var p upstream.Problems
	return p.Err()
}

package local

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/upstream"
)

// Seed is the content of a seed file:
//
//	users:
//	  - username: alice
//	    first_name: Alice
//	    last_name: Liddell
//	    display_name: Alice Liddell     # default "first last"
//	    email: alice@example.com
//	    password: wonderland            # or password_hash: $argon2id$...
//	    active: true                    # default true
//	    attributes: {team: [blue]}
//	groups:
//	  - name: engineering
//	    description: Everyone who builds
//	    users: [alice]
//	    groups: [backend]               # nested groups
type Seed struct {
	Users  []SeedUser  `yaml:"users"`
	Groups []SeedGroup `yaml:"groups"`
}

// SeedUser is one user of a seed file.
type SeedUser struct {
	Username     string              `yaml:"username"`
	FirstName    string              `yaml:"first_name"`
	LastName     string              `yaml:"last_name"`
	DisplayName  string              `yaml:"display_name"`
	Email        string              `yaml:"email"`
	Password     secret.String       `yaml:"password"`
	PasswordHash secret.String       `yaml:"password_hash"`
	Active       *bool               `yaml:"active"`
	Attributes   map[string][]string `yaml:"attributes"`
}

// SeedGroup is one group of a seed file.
type SeedGroup struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Users       []string `yaml:"users"`
	Groups      []string `yaml:"groups"`
}

// maxSeedSize bounds a seed file.
const maxSeedSize = 64 << 20

// LoadSeed reads and checks a seed file. Unknown keys are errors.
func LoadSeed(path string) (*Seed, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("seed_file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSeedSize+1))
	if err != nil {
		return nil, fmt.Errorf("seed_file %s: %w", path, err)
	}
	if len(data) > maxSeedSize {
		return nil, fmt.Errorf("seed_file %s: larger than %d MiB", path, maxSeedSize>>20)
	}
	var s Seed
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("seed_file %s: %w", path, err)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("seed_file %s: %w", path, err)
	}
	return &s, nil
}

// Validate reports every problem in the seed: empty or duplicate names
// (case-insensitively), members that are not defined, bad hashes.
func (s *Seed) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	users := map[string]int{}
	for i, u := range s.Users {
		if err := checkName("user", u.Username); err != nil {
			add("users[%d].username: %v", i, err)
			continue
		}
		k := upstream.Fold(u.Username)
		if j, dup := users[k]; dup {
			add("users[%d].username: duplicate username %q (also users[%d])", i, u.Username, j)
			continue
		}
		users[k] = i
		if !u.Password.IsZero() && !u.PasswordHash.IsZero() {
			add("users[%d]: password and password_hash are both set", i)
		}
		if !u.PasswordHash.IsZero() {
			if err := secret.CheckHash(u.PasswordHash.Reveal()); err != nil {
				add("users[%d].password_hash: %v", i, err)
			}
		}
	}
	groups := map[string]int{}
	for i, g := range s.Groups {
		if err := checkName("group", g.Name); err != nil {
			add("groups[%d].name: %v", i, err)
			continue
		}
		k := upstream.Fold(g.Name)
		if j, dup := groups[k]; dup {
			add("groups[%d].name: duplicate group name %q (also groups[%d])", i, g.Name, j)
			continue
		}
		groups[k] = i
	}
	for i, g := range s.Groups {
		for j, m := range g.Users {
			if _, ok := users[upstream.Fold(m)]; !ok {
				add("groups[%d].users[%d]: no user %q in the seed", i, j, m)
			}
		}
		for j, m := range g.Groups {
			if _, ok := groups[upstream.Fold(m)]; !ok {
				add("groups[%d].groups[%d]: no group %q in the seed", i, j, m)
			} else if upstream.Fold(m) == upstream.Fold(g.Name) {
				add("groups[%d].groups[%d]: a group cannot contain itself", i, j)
			}
		}
	}
	return errors.Join(errs...)
}

// changes turns the seed into records, hashing plain-text passwords.
func (s *Seed) changes() (cache.Changes, error) {
	var ch cache.Changes
	ch.Aux = map[string][]byte{}
	now := time.Now().UTC().Truncate(time.Millisecond)
	userKeys := map[string]string{}
	for _, su := range s.Users {
		id := newID()
		u := upstream.User{Key: id, ExternalID: id, Username: su.Username, FirstName: su.FirstName, LastName: su.LastName,
			DisplayName: su.DisplayName, Email: su.Email, Active: su.Active == nil || *su.Active,
			Created: now, Updated: now, Attributes: su.Attributes}
		if u.DisplayName == "" {
			u.DisplayName = strings.TrimSpace(su.FirstName + " " + su.LastName)
		}
		switch {
		case !su.PasswordHash.IsZero():
			ch.Aux[pwKey(id)] = []byte(su.PasswordHash.Reveal())
		case !su.Password.IsZero():
			h, err := secret.Hash(su.Password.Reveal())
			if err != nil {
				return ch, err
			}
			ch.Aux[pwKey(id)] = []byte(h)
		}
		userKeys[upstream.Fold(su.Username)] = id
		ch.Users = append(ch.Users, u)
	}
	groupKeys := map[string]string{}
	for _, sg := range s.Groups {
		groupKeys[upstream.Fold(sg.Name)] = newID()
	}
	for _, sg := range s.Groups {
		id := groupKeys[upstream.Fold(sg.Name)]
		g := upstream.Group{Key: id, ExternalID: id, Name: sg.Name, Description: sg.Description, Active: true, Created: now, Updated: now}
		for _, m := range sg.Users {
			g.Members = append(g.Members, userKeys[upstream.Fold(m)])
		}
		for _, m := range sg.Groups {
			g.Members = append(g.Members, groupKeys[upstream.Fold(m)])
		}
		ch.Groups = append(ch.Groups, g)
	}
	return ch, nil
}

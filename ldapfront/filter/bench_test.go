package filter

import (
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
)

const (
	benchUID      = "(&(objectClass=inetOrgPerson)(uid=user012345))"
	benchMemberOf = "(&(uid=user012345)(memberOf=cn=g,ou=groups,dc=example,dc=com))"
)

// benchUser looks like a user entry of our tree.
var benchUser = newEntry("user012345", "uid=user012345,ou=users,dc=example,dc=com",
	"objectClass", "top", "objectClass", "person", "objectClass", "organizationalPerson", "objectClass", "inetOrgPerson",
	"uid", "user012345", "cn", "User 012345", "sn", "012345", "mail", "user012345@example.com",
	"memberOf", "cn=all-users,ou=groups,dc=example,dc=com", "memberOf", "cn=team-7,ou=groups,dc=example,dc=com",
	"memberOf", "cn=g,ou=groups,dc=example,dc=com",
)

func BenchmarkParse(b *testing.B) {
	for _, s := range []string{benchUID, benchMemberOf} {
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(s, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCompileFilter is go-ldap's BER compiler on the same filters, for
// comparison.
func BenchmarkCompileFilter(b *testing.B) {
	for _, s := range []string{benchUID, benchMemberOf} {
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := goldap.CompileFilter(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEval(b *testing.B) {
	for _, s := range []string{benchUID, benchMemberOf} {
		f, err := Parse(s, Limits{})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !f.Matches(benchUser) {
					b.Fatal("no match")
				}
			}
		})
	}
}

// BenchmarkParseEval is what a search costs the frontend per request
// (parse once) and per candidate entry (one evaluation).
func BenchmarkParseEval(b *testing.B) {
	for _, s := range []string{benchUID, benchMemberOf} {
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f, err := Parse(s, Limits{})
				if err != nil || !f.Matches(benchUser) {
					b.Fatal("no match", err)
				}
			}
		})
	}
}

func BenchmarkNormalizeDN(b *testing.B) {
	for _, s := range []string{"uid=user012345,ou=users,dc=example,dc=com", "UID=User012345,OU=Users,DC=Example,DC=Com",
		"uid=user012345, ou=users, dc=example, dc=com"} {
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				NormalizeDN(s)
			}
		})
	}
}

package ldapfront

import (
	"bytes"
	"context"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/upstream"
)

func TestEntriesAndLDIF(t *testing.T) {
	s, err := cache.Open(cache.Options{InMemory: true, Upstreams: []string{"one"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.ApplySync(context.Background(), "one", &upstream.SyncResult{Full: true,
		Users: []upstream.User{
			{Key: "a", ExternalID: "3F2504E0-4F89-11D3-9A0C-0305E82C3301", Username: "alice", FirstName: "Alice", LastName: "Liddell", Email: "alice@example.com", Active: true},
			{Key: "j", ExternalID: "5b10ac8d82e05b22cc7d4ef5", Username: "josé, jr", Active: true},
		},
		Groups: []upstream.Group{
			{Key: "g1", Name: "devs", Members: []string{"a", "j"}},
			{Key: "g2", Name: "staff", Members: []string{"g1"}},
		}}, cache.SyncOptions{MaxDeletePercent: 100})
	if err != nil {
		t.Fatal(err)
	}
	tree := &Tree{BaseDN: "dc=example,dc=com", TransitiveMemberOf: true, ServiceAccounts: []string{"reader"}}
	var b bytes.Buffer
	if err := tree.WriteLDIF(s, &b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"dn: uid=alice,ou=users,dc=example,dc=com\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: inetOrgPerson\nuid: alice\ncn: Alice Liddell\nsn: Liddell\ngivenName: Alice\nmail: alice@example.com\nmemberOf: cn=devs,ou=groups,dc=example,dc=com\nmemberOf: cn=staff,ou=groups,dc=example,dc=com\nentryUUID: 3f2504e0-4f89-11d3-9a0c-0305e82c3301\n",
		// Non-ASCII and a comma: the DN is escaped and base64-encoded.
		"dn:: " + b64("uid=josé\\, jr,ou=users,dc=example,dc=com") + "\n",
		"dn: cn=devs,ou=groups,dc=example,dc=com\nobjectClass: top\nobjectClass: groupOfNames\ncn: devs\nmember: uid=alice,ou=users,dc=example,dc=com\nmember:: " + b64("uid=josé\\, jr,ou=users,dc=example,dc=com") + "\nmemberOf: cn=staff,ou=groups,dc=example,dc=com\n",
		"dn: cn=reader,ou=services,dc=example,dc=com\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("LDIF lacks:\n%s\n--- in:\n%s", want, out)
		}
	}
	// A non-UUID external ID gets a stable name-based UUID.
	j, _ := s.User("josé, jr")
	e := tree.UserEntry(s, j)
	id := e.Get("entryUUID")
	if len(id) != 1 || !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id[0]) {
		t.Fatalf("entryUUID %q", id)
	}
	if id[0] != EntryUUID("one", "5b10ac8d82e05b22cc7d4ef5", "j") {
		t.Fatal("entryUUID not stable")
	}
	tree.TransitiveMemberOf = false
	if got := tree.UserEntry(s, j).Get("memberOf"); len(got) != 1 {
		t.Fatalf("direct memberOf %q", got)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestSafeLDIF(t *testing.T) {
	for v, safe := range map[string]bool{"": true, "plain": true, " lead": false, "trail ": false, ":colon": false, "<lt": false, "a\nb": false, "é": false, "mid:dle": true} {
		if safeLDIF(v) != safe {
			t.Errorf("safeLDIF(%q) = %v", v, !safe)
		}
	}
}

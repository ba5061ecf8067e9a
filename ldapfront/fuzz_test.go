package ldapfront

import (
	"net"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/ldapfront/filter"
)

var (
	fuzzOnce sync.Once
	fuzzEnv  *env
)

// sharedEnv is one server for a whole fuzz run (its cleanup never runs;
// the process ends with the run).
func sharedEnv(t testing.TB) *env {
	fuzzOnce.Do(func() { fuzzEnv = newEnv(noCleanup{t}) })
	return fuzzEnv
}

// noCleanup keeps the shared server alive across fuzz iterations.
type noCleanup struct{ testing.TB }

func (noCleanup) Cleanup(func()) {}

// allMatching evaluates f against every entry of the tree, without the
// planner: the oracle for the planner's results.
func allMatching(e *env, f *filter.Filter) []string {
	s := e.srv
	var out []string
	check := func(x *served) {
		if f.Matches(x) {
			out = append(out, x.dn)
		}
	}
	for _, b := range s.cfg.Tree.BaseEntries() {
		check(s.fixedEntry(b))
	}
	for _, n := range s.cfg.Tree.ServiceAccounts {
		check(s.fixedEntry(s.cfg.Tree.ServiceEntry(n)))
	}
	s.store.Users("", func(u cache.User) bool { check(s.userEntry(u)); return true })
	s.store.Groups("", func(g cache.Group) bool { check(s.groupEntry(g)); return true })
	sort.Strings(out)
	return out
}

func planned(e *env, f *filter.Filter) []string {
	q := &query{baseDN: e.srv.cfg.Tree.normBase, scope: scopeSub, filter: f, deadline: time.Now().Add(time.Minute)}
	segs, _, _ := e.srv.segments(q)
	var out []string
	e.srv.walk(q, segs, position{}, 0, func(x *served) bool { out = append(out, x.dn); return true })
	sort.Strings(out)
	return out
}

// FuzzSearchFilter: any filter that parses gives, through the planner and
// the indexes, exactly what evaluating it on every entry gives.
func FuzzSearchFilter(f *testing.F) {
	for _, s := range []string{
		"(&(objectClass=inetOrgPerson)(uid=alice))", "(|(uid=alice)(mail=bob@example.com)(cn=ops))",
		"(&(uid=alice)(memberOf=cn=staff,ou=groups,dc=example,dc=com))", "(!(objectClass=groupOfNames))",
		"(memberOf:1.2.840.113556.1.4.1941:=cn=all,ou=groups,dc=example,dc=com)", "(member=uid=bob,ou=users,dc=example,dc=com)",
		"(&(|(uid=a*)(cn=*o*))(!(mail=*)))", "(objectClass=top)", "(|)", "(&)", "(cn~=DEVS)", "(uid>=c)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := filter.Parse(s, filter.Limits{MaxDepth: 16, MaxNodes: 64})
		if err != nil {
			return
		}
		e := sharedEnv(t)
		if got, want := planned(e, flt), allMatching(e, flt); !slices.Equal(got, want) {
			t.Fatalf("%s: planned search gave %q, evaluation gives %q", s, got, want)
		}
	})
}

// FuzzRawPacket sends arbitrary bytes as an LDAP message: whatever happens
// to that connection, the server keeps serving the others.
func FuzzRawPacket(f *testing.F) {
	f.Add([]byte{0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00}) // anonymous bind
	f.Add([]byte{0x30, 0x05, 0x02, 0x01, 0x01, 0x42, 0x00})                                           // unbind
	f.Add([]byte{0x30, 0x84, 0xff, 0xff, 0xff, 0xff})                                                 // a huge length
	f.Add([]byte{0x30, 0x03, 0x02, 0x01})                                                             // truncated
	f.Fuzz(func(t *testing.T, pkt []byte) {
		e := sharedEnv(t)
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(300 * time.Millisecond))
		_, _ = c.Write(pkt)
		buf := make([]byte, 4096)
		_, _ = c.Read(buf)
		c.Close()

		ok, err := goldap.DialURL("ldap://" + e.addr)
		if err != nil {
			t.Fatalf("server stopped accepting: %v", err)
		}
		defer ok.Close()
		ok.SetTimeout(5 * time.Second)
		if _, err := ok.Search(goldap.NewSearchRequest("", 0, 0, 0, 0, false, "(objectClass=*)", nil, nil)); err != nil {
			t.Fatalf("server stopped answering after %x: %v", pkt, err)
		}
	})
}

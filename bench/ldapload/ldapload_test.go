package ldapload_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirgate/dirgate/bench/ldapload"
	"github.com/dirgate/dirgate/internal/slapdtest"
)

const (
	testUsers    = 2000
	testGroups   = 100
	testPassword = "load-password"
)

// startDirectory starts slapd with a small generated directory.
func startDirectory(t *testing.T) *slapdtest.Server {
	t.Helper()
	ldif := filepath.Join(t.TempDir(), "data.ldif")
	f, err := os.Create(ldif)
	if err != nil {
		t.Fatal(err)
	}
	err = slapdtest.GenerateLDIF(f, slapdtest.DataSpec{Users: testUsers, Groups: testGroups, Memberships: 3 * testUsers,
		NestEvery: 10, Password: testPassword, MemberOf: true})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	return slapdtest.Start(t, slapdtest.WithLDIFFile(ldif), slapdtest.WithLDIFIncludesBase(), slapdtest.WithMemberOf())
}

// short is the configuration of the test runs: 4 connections, 100 ms of
// warm-up, 300 ms measured.
func short(s *slapdtest.Server, op ldapload.Op) ldapload.Config {
	return ldapload.Config{URL: s.URL(), Conns: 4, Warmup: 100 * time.Millisecond, Duration: 300 * time.Millisecond,
		Timeout: 10 * time.Second, Op: op, Seed: 1}
}

// checkClean asserts a run without errors and with sane numbers.
func checkClean(t *testing.T, rep ldapload.Report, err error) {
	t.Helper()
	t.Logf("%s", rep)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep.Ops <= 0 || rep.Errors != 0 || rep.WarmupErrors != 0 || rep.FirstError != "" || rep.ConnsLost != 0 {
		t.Fatalf("ops %d, errors %d, warm-up errors %d, connections lost %d, first error %q",
			rep.Ops, rep.Errors, rep.WarmupErrors, rep.ConnsLost, rep.FirstError)
	}
	if rep.WarmupOps <= 0 {
		t.Errorf("no warm-up operations")
	}
	if rep.Duration != 300*time.Millisecond {
		t.Errorf("duration %s, want 300ms", rep.Duration)
	}
	if want := float64(rep.Ops) / rep.Duration.Seconds(); rep.OpsPerSec != want {
		t.Errorf("ops/s %f, want %f", rep.OpsPerSec, want)
	}
	if !(0 < rep.P50 && rep.P50 <= rep.P90 && rep.P90 <= rep.P99 && rep.P99 <= rep.Max) {
		t.Errorf("percentiles out of order: p50 %s p90 %s p99 %s max %s", rep.P50, rep.P90, rep.P99, rep.Max)
	}
	if rep.Mean <= 0 || rep.Mean > rep.Max {
		t.Errorf("mean %s, max %s", rep.Mean, rep.Max)
	}
	// 4 connections in a closed loop: the sum of latencies cannot exceed
	// 4 × the window (plus the operations that straddle its start).
	if total := time.Duration(rep.Ops) * rep.Mean; total > 4*(rep.Duration+rep.Max) {
		t.Errorf("%d ops × mean %s = %s of latency in a %s window on 4 connections", rep.Ops, rep.Mean, total, rep.Duration)
	}
	if rep.Max > 10*time.Second {
		t.Errorf("max latency %s is beyond the request timeout", rep.Max)
	}
}

// uidSearchOf is the benchmark's uid search under base, expecting expect
// entries.
func uidSearchOf(base string, uids []string, expect int) ldapload.Search {
	return ldapload.Search{
		Base:  base,
		Scope: goldap.ScopeWholeSubtree,
		Filter: func(it *ldapload.Iter) string {
			return "(&(objectClass=inetOrgPerson)(uid=" + ldapload.Pick(it, uids) + "))"
		},
		Attributes: []string{"uid", "cn", "mail", "memberOf"},
		Expect:     expect,
	}
}

// checkCancel runs cfg for a minute under a context cancelled after 200 ms:
// Run must stop then, with the context's error and a report of the window
// so far.
func checkCancel(t *testing.T, cfg ldapload.Config) {
	t.Helper()
	cfg.Warmup, cfg.Duration = 0, time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	rep, err := ldapload.Run(ctx, cfg)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run: %v, want the context's error", err)
	}
	if el := time.Since(t0); el > 10*time.Second {
		t.Errorf("Run returned %s after the cancellation", el)
	}
	if rep.Ops == 0 || rep.Errors != 0 || rep.Duration <= 0 || rep.Duration > time.Second {
		t.Errorf("report of the cancelled run: %s", rep)
	}
}

func TestRun(t *testing.T) {
	s := startDirectory(t)
	ctx := context.Background()
	uids := ldapload.UIDs(testUsers)

	uidSearch := func(expect int) ldapload.Search {
		return uidSearchOf(s.PeopleDN(), uids, expect)
	}

	t.Run("uid search", func(t *testing.T) {
		op := uidSearch(1)
		op.Check = func(res *goldap.SearchResult) error {
			e := res.Entries[0]
			for _, a := range []string{"uid", "cn", "mail", "memberOf"} {
				if len(e.GetAttributeValues(a)) == 0 {
					return errors.New(e.DN + " has no " + a)
				}
			}
			if len(e.Attributes) != 4 {
				return errors.New(e.DN + " has unrequested attributes")
			}
			return nil
		}
		cfg := short(s, op)
		cfg.BindDN, cfg.BindPassword = s.AdminDN(), s.AdminPassword()
		rep, err := ldapload.Run(ctx, cfg)
		checkClean(t, rep, err)
	})

	t.Run("bind", func(t *testing.T) {
		op := ldapload.Bind{Creds: func(it *ldapload.Iter) (string, string) {
			return s.UserDN(it.UID(testUsers)), testPassword
		}}
		rep, err := ldapload.Run(ctx, short(s, op))
		checkClean(t, rep, err)
	})

	t.Run("bind with a wrong password", func(t *testing.T) {
		op := ldapload.Bind{
			Creds: func(it *ldapload.Iter) (string, string) {
				return s.UserDN(ldapload.Pick(it, uids)), "not-" + testPassword
			},
			Expect: goldap.LDAPResultInvalidCredentials,
		}
		rep, err := ldapload.Run(ctx, short(s, op))
		checkClean(t, rep, err)
	})

	t.Run("mix", func(t *testing.T) {
		search, bind := uidSearch(1), ldapload.Bind{Creds: func(it *ldapload.Iter) (string, string) {
			return s.UserDN(ldapload.Pick(it, uids)), testPassword
		}}
		op := ldapload.OpFunc(func(c *goldap.Conn, it *ldapload.Iter) error {
			if it.IntN(4) == 0 {
				return bind.Do(c, it)
			}
			return search.Do(c, it)
		})
		rep, err := ldapload.Run(ctx, short(s, op))
		checkClean(t, rep, err)
	})

	t.Run("wrong entry count is an error", func(t *testing.T) {
		rep, err := ldapload.Run(ctx, short(s, uidSearch(2)))
		t.Logf("%s", rep)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if rep.Errors == 0 || rep.Ops != 0 || rep.OpsPerSec != 0 || rep.P99 != 0 {
			t.Errorf("ops %d, errors %d, ops/s %f, p99 %s; want only errors", rep.Ops, rep.Errors, rep.OpsPerSec, rep.P99)
		}
		if !strings.Contains(rep.FirstError, "got 1 entries, want 2") {
			t.Errorf("first error %q", rep.FirstError)
		}
		if rep.ConnsLost != 0 {
			t.Errorf("%d connections lost", rep.ConnsLost)
		}
	})

	t.Run("unexpected bind success is an error", func(t *testing.T) {
		op := ldapload.Bind{
			Creds:  func(it *ldapload.Iter) (string, string) { return s.UserDN(it.UID(testUsers)), testPassword },
			Expect: goldap.LDAPResultInvalidCredentials,
		}
		rep, err := ldapload.Run(ctx, short(s, op))
		if err != nil || rep.Errors == 0 || rep.Ops != 0 || !strings.Contains(rep.FirstError, "succeeded, want result 49") {
			t.Errorf("err %v, report %s", err, rep)
		}
	})

	t.Run("deterministic per connection", func(t *testing.T) {
		const conns, draws = 3, 50
		run := func(seed uint64) [conns][]int {
			var mu sync.Mutex
			var got [conns][]int
			op := ldapload.OpFunc(func(c *goldap.Conn, it *ldapload.Iter) error {
				v := it.IntN(testUsers)
				if it.N < draws {
					mu.Lock() // test bookkeeping only
					got[it.Conn] = append(got[it.Conn], v)
					mu.Unlock()
					return c.Bind(s.AdminDN(), s.AdminPassword()) // keep the loop from spinning
				}
				time.Sleep(time.Millisecond)
				return nil
			})
			cfg := short(s, op)
			cfg.Conns, cfg.Seed = conns, seed
			if _, err := ldapload.Run(ctx, cfg); err != nil {
				t.Fatal(err)
			}
			return got
		}
		a, b, c := run(7), run(7), run(8)
		for i := range conns {
			if len(a[i]) != draws {
				t.Fatalf("connection %d made %d draws", i, len(a[i]))
			}
			want := make([]int, draws)
			r := rand.New(rand.NewPCG(7, uint64(i)))
			for j := range want {
				want[j] = r.IntN(testUsers)
			}
			if !slices.Equal(a[i], b[i]) || !slices.Equal(a[i], want) {
				t.Errorf("connection %d: draws differ between runs with the same seed", i)
			}
			if slices.Equal(a[i], c[i]) {
				t.Errorf("connection %d: same draws with another seed", i)
			}
		}
		if slices.Equal(a[0], a[1]) {
			t.Error("connections 0 and 1 draw the same users")
		}
	})

	t.Run("initial bind failure fails Run", func(t *testing.T) {
		cfg := short(s, uidSearch(1))
		cfg.BindDN, cfg.BindPassword = s.AdminDN(), "wrong"
		_, err := ldapload.Run(ctx, cfg)
		if !goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) || !strings.Contains(err.Error(), "initial bind") {
			t.Errorf("Run: %v, want an initial bind error", err)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		cfg := short(s, uidSearch(1))
		checkCancel(t, cfg)
	})

	t.Run("lost connections stop their loops", func(t *testing.T) {
		op := ldapload.OpFunc(func(c *goldap.Conn, it *ldapload.Iter) error {
			if it.N == 10 {
				c.Close()
			}
			return search(c, s)
		})
		cfg := short(s, op)
		cfg.Warmup = 0
		rep, err := ldapload.Run(ctx, cfg)
		if err != nil || rep.ConnsLost != 4 || rep.Errors != 4 || rep.Ops != 40 || rep.FirstError == "" {
			t.Errorf("err %v, report %s", err, rep)
		}
		if rep.Duration >= 300*time.Millisecond {
			t.Errorf("duration %s: the run did not end when the last connection was lost", rep.Duration)
		}
	})
}

func search(c *goldap.Conn, s *slapdtest.Server) error {
	_, err := c.Search(goldap.NewSearchRequest(s.BaseDN(), goldap.ScopeBaseObject, goldap.NeverDerefAliases,
		0, 0, false, "(objectClass=*)", []string{"dc"}, nil))
	return err
}

func TestRunDialFailure(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "ldap://" + l.Addr().String()
	l.Close() // nothing listens there now
	_, err = ldapload.Run(context.Background(), ldapload.Config{URL: url, Conns: 2, Duration: time.Second,
		Op: ldapload.OpFunc(func(*goldap.Conn, *ldapload.Iter) error { return nil })})
	if err == nil || !strings.Contains(err.Error(), "connection 0") {
		t.Errorf("Run: %v, want a dial error", err)
	}
	if _, err := ldapload.Run(context.Background(), ldapload.Config{URL: url}); err == nil {
		t.Error("Run without an Op succeeded")
	}
}

// TestRunEpoll: the epoll engine against the same slapd, with the same
// verdicts, draws and reports as go-ldap's.
func TestRunEpoll(t *testing.T) {
	s := startDirectory(t)
	ctx := context.Background()
	uids := ldapload.UIDs(testUsers)
	epoll := func(op ldapload.Op) ldapload.Config {
		cfg := short(s, op)
		cfg.Epoll = true
		return cfg
	}
	uidSearch := func(expect int) ldapload.Search {
		return uidSearchOf(s.PeopleDN(), uids, expect)
	}
	bind := func(password string, expect uint16) ldapload.Bind {
		return ldapload.Bind{Creds: func(it *ldapload.Iter) (string, string) {
			return s.UserDN(ldapload.Pick(it, uids)), password
		}, Expect: expect}
	}

	t.Run("uid search as a service account", func(t *testing.T) {
		cfg := epoll(uidSearch(1))
		cfg.BindDN, cfg.BindPassword = s.AdminDN(), s.AdminPassword()
		rep, err := ldapload.Run(ctx, cfg)
		checkClean(t, rep, err)
	})
	t.Run("many entries", func(t *testing.T) {
		// Every user, in answers of about a megabyte.
		op := ldapload.Search{Base: s.PeopleDN(), Scope: goldap.ScopeSingleLevel,
			Filter: func(*ldapload.Iter) string { return "(objectClass=inetOrgPerson)" }, Expect: testUsers}
		rep, err := ldapload.Run(ctx, epoll(op))
		checkClean(t, rep, err)
	})
	t.Run("bind", func(t *testing.T) {
		rep, err := ldapload.Run(ctx, epoll(bind(testPassword, goldap.LDAPResultSuccess)))
		checkClean(t, rep, err)
	})
	t.Run("bind with a wrong password", func(t *testing.T) {
		rep, err := ldapload.Run(ctx, epoll(bind("not-"+testPassword, goldap.LDAPResultInvalidCredentials)))
		checkClean(t, rep, err)
	})
	t.Run("unexpected bind success is an error", func(t *testing.T) {
		rep, err := ldapload.Run(ctx, epoll(bind(testPassword, goldap.LDAPResultInvalidCredentials)))
		if err != nil || rep.Errors == 0 || rep.Ops != 0 || !strings.Contains(rep.FirstError, "succeeded, want result 49") {
			t.Errorf("err %v, report %s", err, rep)
		}
	})
	t.Run("unexpected bind failure is an error", func(t *testing.T) {
		rep, err := ldapload.Run(ctx, epoll(bind("not-"+testPassword, goldap.LDAPResultSuccess)))
		if err != nil || rep.Errors == 0 || rep.Ops != 0 || !strings.Contains(rep.FirstError, "Invalid Credentials") {
			t.Errorf("err %v, report %s", err, rep)
		}
	})
	t.Run("wrong entry count is an error", func(t *testing.T) {
		rep, err := ldapload.Run(ctx, epoll(uidSearch(2)))
		if err != nil || rep.Errors == 0 || rep.Ops != 0 || rep.ConnsLost != 0 || !strings.Contains(rep.FirstError, "got 1 entries, want 2") {
			t.Errorf("err %v, report %s", err, rep)
		}
	})
	t.Run("same draws as go-ldap", func(t *testing.T) {
		draws := func(epoll bool) [][]string {
			var mu sync.Mutex
			got := make([][]string, 3)
			op := ldapload.Bind{Creds: func(it *ldapload.Iter) (string, string) {
				dn := s.UserDN(ldapload.Pick(it, uids))
				if it.N < 20 {
					mu.Lock()
					got[it.Conn] = append(got[it.Conn], dn)
					mu.Unlock()
				}
				return dn, testPassword
			}}
			cfg := short(s, op)
			cfg.Conns, cfg.Epoll = 3, epoll
			if _, err := ldapload.Run(ctx, cfg); err != nil {
				t.Fatal(err)
			}
			return got
		}
		a, b := draws(false), draws(true)
		for i := range a {
			if len(a[i]) != 20 || !slices.Equal(a[i], b[i]) {
				t.Errorf("connection %d: go-ldap drew %v, epoll %v", i, a[i], b[i])
			}
		}
	})
	t.Run("initial bind failure fails Run", func(t *testing.T) {
		cfg := epoll(uidSearch(1))
		cfg.BindDN, cfg.BindPassword = s.AdminDN(), "wrong"
		_, err := ldapload.Run(ctx, cfg)
		if !goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) || !strings.Contains(err.Error(), "initial bind") {
			t.Errorf("Run: %v, want an initial bind error", err)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		cfg := epoll(uidSearch(1))
		checkCancel(t, cfg)
	})
	t.Run("ops it cannot run", func(t *testing.T) {
		checked := uidSearch(1)
		checked.Check = func(*goldap.SearchResult) error { return nil }
		for _, op := range []ldapload.Op{checked, ldapload.OpFunc(func(*goldap.Conn, *ldapload.Iter) error { return nil })} {
			if _, err := ldapload.Run(ctx, epoll(op)); err == nil {
				t.Errorf("%T: no error", op)
			}
		}
		cfg := epoll(uidSearch(1))
		cfg.URL = "ldaps://" + strings.TrimPrefix(s.URL(), "ldap://")
		if _, err := ldapload.Run(ctx, cfg); err == nil || !strings.Contains(err.Error(), "ldaps://") {
			t.Errorf("ldaps: %v", err)
		}
	})
	t.Run("lost connections stop the run", func(t *testing.T) {
		// A server that answers five binds on each connection, then hangs
		// up (the generator sees an end of file, or a reset when its sixth
		// request arrived first).
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go hangUpAfter(c, 5)
			}
		}()
		cfg := epoll(bind(testPassword, goldap.LDAPResultSuccess))
		cfg.URL, cfg.Warmup = "ldap://"+l.Addr().String(), 0
		rep, err := ldapload.Run(ctx, cfg)
		if err != nil || rep.ConnsLost != 4 || rep.Ops != 20 || rep.Errors != 0 || rep.FirstError == "" {
			t.Errorf("err %v, report %s", err, rep)
		}
		if rep.Duration >= 300*time.Millisecond {
			t.Errorf("duration %s: the run did not end when the last connection was lost", rep.Duration)
		}
	})
}

// hangUpAfter answers n requests of c with a successful BindResponse each
// and closes c.
func hangUpAfter(c net.Conn, n int) {
	defer c.Close()
	for range n {
		p, err := ber.ReadPacket(c)
		if err != nil || len(p.Children) < 1 {
			return
		}
		msg := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
		msg.AppendChild(p.Children[0])
		r := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 1, nil, "")
		r.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, 0, ""))
		r.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", ""))
		r.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", ""))
		msg.AppendChild(r)
		if _, err := c.Write(msg.Bytes()); err != nil {
			return
		}
	}
}

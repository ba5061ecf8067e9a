//go:build linux

package ldapload_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirgate/dirgate/bench/ldapload"
	"github.com/dirgate/dirgate/internal/slapdtest"
)

// TestMeasure measures the generator itself against slapd on the
// benchmark directory (100,000 users, 10,000 groups, 500,000 memberships,
// one level of nesting): throughput, and the CPU the generator and slapd
// use, under several settings of the generator. It takes a few minutes and
// only runs with DIRGATE_LDAPLOAD_MEASURE=1:
//
//	DIRGATE_LDAPLOAD_MEASURE=1 go test -run TestMeasure -v -timeout 30m ./bench/ldapload/
//
// DIRGATE_LDAPLOAD_USERS, _GROUPS, _MEMBERSHIPS and _SECONDS change the
// size and the measured window; DIRGATE_LDAPLOAD_DYNLIST=0 skips the
// (slow) dynlist server.
func TestMeasure(t *testing.T) {
	if os.Getenv("DIRGATE_LDAPLOAD_MEASURE") != "1" {
		t.Skip("set DIRGATE_LDAPLOAD_MEASURE=1 to measure the load generator")
	}
	spec := slapdtest.DataSpec{Users: envInt("DIRGATE_LDAPLOAD_USERS", 100_000), Groups: envInt("DIRGATE_LDAPLOAD_GROUPS", 10_000),
		Memberships: envInt("DIRGATE_LDAPLOAD_MEMBERSHIPS", 500_000), NestEvery: 10, Password: "bench-password", MemberOf: true}
	window := time.Duration(envInt("DIRGATE_LDAPLOAD_SECONDS", 10)) * time.Second

	ldif := filepath.Join(t.TempDir(), "data.ldif")
	f, err := os.Create(ldif)
	if err != nil {
		t.Fatal(err)
	}
	err = slapdtest.GenerateLDIF(f, spec)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	uids := ldapload.UIDs(spec.Users)
	uidSearch := func(s *slapdtest.Server) ldapload.Search {
		return uidSearchOf(s.PeopleDN(), uids, 1)
	}
	t.Logf("GOMAXPROCS %d, NumCPU %d, %d users, %d groups, %d memberships, window %s",
		runtime.GOMAXPROCS(0), runtime.NumCPU(), spec.Users, spec.Groups, spec.Memberships, window)

	t.Run("memberof", func(t *testing.T) {
		t0 := time.Now()
		s := slapdtest.Start(t, slapdtest.WithLDIFFile(ldif), slapdtest.WithLDIFIncludesBase(), slapdtest.WithMemberOf())
		t.Logf("slapd loaded in %s", time.Since(t0).Round(time.Second))
		op := uidSearch(s)
		base := ldapload.Config{URL: s.URL(), Conns: 16, Duration: window, BindDN: s.AdminDN(), BindPassword: s.AdminPassword(), Op: op}
		prime := base
		prime.Duration = 3 * time.Second
		if rep, err := ldapload.Run(context.Background(), prime); err != nil || rep.Errors != 0 {
			t.Fatalf("priming: %v %s", err, rep)
		}
		variant := func(name string, cfg ldapload.Config, set func() (undo func())) {
			if set != nil {
				defer set()()
			}
			measure(t, name, s, cfg)
		}
		noTimeout := base
		noTimeout.Timeout = -1
		c8, c32 := base, base
		c8.Conns, c32.Conns = 8, 32
		// The machine is noisy: the default runs first, in the middle and
		// last, to show the spread.
		variant("default (GOMAXPROCS=NumCPU, timeout 30s)", base, nil)
		variant("GOMAXPROCS=1", base, gomaxprocs(1))
		variant("no request timeout", noTimeout, nil)
		variant("GOGC=400", base, gogc(400))
		variant("GOMAXPROCS=1, GOGC=400, no timeout", noTimeout, func() func() {
			a, b := gomaxprocs(1)(), gogc(400)()
			return func() { b(); a() }
		})
		variant("default again", base, nil)
		variant("8 connections", c8, nil)
		variant("32 connections", c32, nil)
		variant("pinned: generator CPU 0, slapd CPU 1", base, pin(t, s))
		variant("GOMAXPROCS=1 again", base, gomaxprocs(1))
		variant("default a third time", base, nil)
		measureRaw(t, s, uids, window)
	})

	if os.Getenv("DIRGATE_LDAPLOAD_DYNLIST") == "0" {
		return
	}
	t.Run("dynlist", func(t *testing.T) {
		filters, nested, err := ldapload.MemberOfFilters(ldif, uids)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("memberOf filters: %d of %d name a group the user is in through nesting only", nested, len(filters))
		t0 := time.Now()
		s := slapdtest.Start(t, slapdtest.WithLDIFFile(ldif), slapdtest.WithLDIFIncludesBase(), slapdtest.WithDynlist())
		t.Logf("slapd loaded in %s", time.Since(t0).Round(time.Second))
		base := ldapload.Config{URL: s.URL(), Conns: 16, Duration: window, Warmup: 2 * time.Second, Timeout: 5 * time.Minute,
			BindDN: s.AdminDN(), BindPassword: s.AdminPassword()}

		cfg := base
		cfg.Op = uidSearch(s)
		measure(t, "dynlist: uid search", s, cfg)

		cfg.Op = ldapload.Search{
			Base:       s.PeopleDN(),
			Scope:      goldap.ScopeWholeSubtree,
			Filter:     func(it *ldapload.Iter) string { return ldapload.Pick(it, filters) },
			Attributes: []string{"uid", "cn", "mail", "memberOf"},
			Expect:     1,
		}
		measure(t, "dynlist: (&(uid=X)(memberOf=G))", s, cfg)
	})
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// measure runs cfg and logs throughput and the CPU of both sides.
func measure(t *testing.T, name string, s *slapdtest.Server, cfg ldapload.Config) {
	t.Helper()
	pid := slapdPID(t, s)
	self0, slapd0, t0 := procCPU(t, os.Getpid()), procCPU(t, pid), time.Now()
	rep, err := ldapload.Run(context.Background(), cfg)
	elapsed := time.Since(t0)
	self1, slapd1 := procCPU(t, os.Getpid()), procCPU(t, pid)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	perOp := func(d time.Duration) float64 {
		if rep.Ops+rep.WarmupOps == 0 {
			return 0
		}
		return float64(d.Microseconds()) / float64(rep.Ops+rep.WarmupOps)
	}
	t.Logf("%-42s %8.1f ops/s  errors %d  p50 %-9s p99 %-9s | generator %.2f cores (getrusage %.2f), %.1f µs/op | slapd %.2f cores, %.1f µs/op",
		name, rep.OpsPerSec, rep.Errors, rep.P50, rep.P99,
		(self1-self0).Seconds()/elapsed.Seconds(), rep.CPUCores(), perOp(self1-self0),
		(slapd1-slapd0).Seconds()/elapsed.Seconds(), perOp(slapd1-slapd0))
	if rep.Errors != 0 {
		t.Errorf("%s: %d errors, first: %s", name, rep.Errors, rep.FirstError)
	}
}

func slapdPID(t *testing.T, s *slapdtest.Server) int {
	b, err := os.ReadFile(filepath.Join(s.Dir(), "slapd.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// procCPU is utime+stime of a process from /proc/PID/stat.
func procCPU(t *testing.T, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The fields after "(comm) ": state is field 3, utime 14, stime 15.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const clkTck = 100 // sysconf(_SC_CLK_TCK) on Linux
	return time.Duration(ut+st) * time.Second / clkTck
}

func gomaxprocs(n int) func() func() {
	return func() func() {
		old := runtime.GOMAXPROCS(n)
		return func() { runtime.GOMAXPROCS(old) }
	}
}

func gogc(pct int) func() func() {
	return func() func() {
		old := debug.SetGCPercent(pct)
		return func() { debug.SetGCPercent(old) }
	}
}

// pin puts every thread of this process on CPU 0 and slapd's on CPU 1 with
// taskset, and undoes it.
func pin(t *testing.T, s *slapdtest.Server) func() func() {
	return func() func() {
		taskset := func(cpus string, pid int) {
			if out, err := exec.Command("taskset", "-a", "-p", "-c", cpus, strconv.Itoa(pid)).CombinedOutput(); err != nil {
				t.Logf("taskset: %v %s", err, out)
			}
		}
		all := "0-" + strconv.Itoa(runtime.NumCPU()-1)
		taskset("0", os.Getpid())
		taskset("1", slapdPID(t, s))
		return func() {
			taskset(all, os.Getpid())
			taskset(all, slapdPID(t, s))
		}
	}
}

// A raw reference client, to tell slapd's cost from go-ldap's: requests
// are BER-encoded once up front (one in flight per connection, so a fixed
// message ID is legal) and responses are only framed and counted. It is
// not a generator to benchmark with; it shows how much of the machine
// go-ldap itself takes.

// berTLV appends tag, the BER length of body, and body.
func berTLV(dst []byte, tag byte, body []byte) []byte {
	dst = append(dst, tag)
	switch n := len(body); {
	case n < 0x80:
		dst = append(dst, byte(n))
	case n < 0x100:
		dst = append(dst, 0x81, byte(n))
	default:
		dst = append(dst, 0x82, byte(n>>8), byte(n))
	}
	return append(dst, body...)
}

func berString(tag byte, s string) []byte { return berTLV(nil, tag, []byte(s)) }

func concat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// rawMessage is an LDAPMessage with message ID 1.
func rawMessage(op []byte) []byte { return berTLV(nil, 0x30, concat([]byte{0x02, 0x01, 0x01}, op)) }

func rawBind(dn, password string) []byte {
	return rawMessage(berTLV(nil, 0x60, concat([]byte{0x02, 0x01, 0x03}, berString(0x04, dn), berString(0x80, password))))
}

// rawUIDSearch is the uid search of TestMeasure: subtree under base,
// (&(objectClass=inetOrgPerson)(uid=uid)), uid cn mail memberOf.
func rawUIDSearch(base, uid string) []byte {
	eq := func(a, v string) []byte { return berTLV(nil, 0xa3, concat(berString(0x04, a), berString(0x04, v))) }
	filter := berTLV(nil, 0xa0, concat(eq("objectClass", "inetOrgPerson"), eq("uid", uid)))
	var attrs []byte
	for _, a := range []string{"uid", "cn", "mail", "memberOf"} {
		attrs = append(attrs, berString(0x04, a)...)
	}
	return rawMessage(berTLV(nil, 0x63, concat(berString(0x04, base),
		[]byte{0x0a, 0x01, 0x02, 0x0a, 0x01, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x01, 0x01, 0x00},
		filter, berTLV(nil, 0x30, attrs))))
}

// rawRead reads one LDAPMessage into buf and returns its protocolOp tag
// and, for a result, its resultCode.
func rawRead(r *bufio.Reader, buf []byte) (tag byte, code int, _ []byte, err error) {
	readLen := func() (int, error) {
		b, err := r.ReadByte()
		if err != nil || b < 0x80 {
			return int(b), err
		}
		n := 0
		for range b & 0x7f {
			c, err := r.ReadByte()
			if err != nil {
				return 0, err
			}
			n = n<<8 | int(c)
		}
		return n, nil
	}
	if t, err := r.ReadByte(); err != nil || t != 0x30 {
		return 0, 0, buf, fmt.Errorf("message tag %#x: %v", t, err)
	}
	n, err := readLen()
	if err != nil {
		return 0, 0, buf, err
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, 0, buf, err
	}
	// messageID: 0x02 len id...; then the protocolOp.
	p := buf[2+int(buf[1]):]
	tag = p[0]
	if tag == 0x61 || tag == 0x65 { // BindResponse, SearchResultDone: resultCode first
		i := 2
		if p[1] >= 0x80 {
			i += int(p[1] & 0x7f)
		}
		code = int(p[i+2])
	}
	return tag, code, buf, nil
}

// rawRun drives conns connections for d with the raw client and returns
// the operations that completed and the first error.
func rawRun(url, bindDN, bindPW string, conns int, d time.Duration, reqs [][]byte) (int64, error) {
	addr := strings.TrimPrefix(url, "ldap://")
	end := time.Now().Add(d)
	counts := make([]int64, conns)
	errs := make([]error, conns)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs[i] = err
				return
			}
			defer c.Close()
			r := bufio.NewReaderSize(c, 16<<10)
			buf := make([]byte, 4096)
			if _, err := c.Write(rawBind(bindDN, bindPW)); err != nil {
				errs[i] = err
				return
			}
			var tag byte
			var code int
			if tag, code, buf, err = rawRead(r, buf); err != nil || tag != 0x61 || code != 0 {
				errs[i] = fmt.Errorf("bind: tag %#x code %d: %v", tag, code, err)
				return
			}
			rng := rand.New(rand.NewPCG(9, uint64(i)))
			for time.Now().Before(end) {
				if _, err := c.Write(reqs[rng.IntN(len(reqs))]); err != nil {
					errs[i] = err
					return
				}
				entries := 0
				for {
					if tag, code, buf, err = rawRead(r, buf); err != nil {
						errs[i] = err
						return
					}
					if tag == 0x64 {
						entries++
						continue
					}
					if tag != 0x65 || code != 0 || entries != 1 {
						errs[i] = fmt.Errorf("search: tag %#x code %d, %d entries", tag, code, entries)
						return
					}
					break
				}
				counts[i]++
			}
		})
	}
	wg.Wait()
	var n int64
	for _, c := range counts {
		n += c
	}
	return n, errors.Join(errs...)
}

// measureRaw runs the raw client on the uid search and logs like measure.
func measureRaw(t *testing.T, s *slapdtest.Server, uids []string, d time.Duration) {
	t.Helper()
	reqs := make([][]byte, len(uids))
	for i, u := range uids {
		reqs[i] = rawUIDSearch(s.PeopleDN(), u)
	}
	pid := slapdPID(t, s)
	self0, slapd0, t0 := procCPU(t, os.Getpid()), procCPU(t, pid), time.Now()
	n, err := rawRun(s.URL(), s.AdminDN(), s.AdminPassword(), 16, d, reqs)
	elapsed := time.Since(t0)
	self1, slapd1 := procCPU(t, os.Getpid()), procCPU(t, pid)
	if err != nil {
		t.Fatalf("raw client: %v", err)
	}
	t.Logf("%-42s %8.1f ops/s | client %.2f cores, %.1f µs/op | slapd %.2f cores, %.1f µs/op",
		"reference: raw BER client, not go-ldap", float64(n)/elapsed.Seconds(),
		(self1-self0).Seconds()/elapsed.Seconds(), float64((self1-self0).Microseconds())/float64(n),
		(slapd1-slapd0).Seconds()/elapsed.Seconds(), float64((slapd1-slapd0).Microseconds())/float64(n))
}

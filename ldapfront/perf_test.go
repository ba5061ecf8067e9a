package ldapfront

import (
	"context"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirgate/dirgate/bench/ldapload"
)

func TestPerfProbe(t *testing.T) {
	if os.Getenv("PROBE") == "" {
		t.Skip()
	}
	e := newEnv(t)
	e.bulk(t, 20000)
	uids := make([]string, 20000)
	for i := range uids {
		uids[i] = "user" + fmtInt(i)
	}
	runtime.SetBlockProfileRate(1000)
	runtime.SetMutexProfileFraction(10)
	f, _ := os.Create("/tmp/cpu.prof")
	pprof.StartCPUProfile(f)
	rep, err := ldapload.Run(context.Background(), ldapload.Config{URL: "ldap://" + e.addr, BindDN: "cn=reader,ou=services," + base, BindPassword: "reader-pw",
		Duration: 3 * time.Second, Op: ldapload.Search{Base: base, Scope: 2, Expect: 1, Attributes: []string{"uid", "cn", "mail", "memberOf"},
			Filter: func(it *ldapload.Iter) string { return "(&(objectClass=inetOrgPerson)(uid=" + ldapload.Pick(it, uids) + "))" }}})
	pprof.StopCPUProfile()
	f.Close()
	bf, _ := os.Create("/tmp/block.prof")
	pprof.Lookup("block").WriteTo(bf, 0)
	bf.Close()
	mf, _ := os.Create("/tmp/mutex.prof")
	pprof.Lookup("mutex").WriteTo(mf, 0)
	mf.Close()
	t.Logf("%v %v", rep, err)
	_ = goldap.ScopeBaseObject
}

func fmtInt(i int) string {
	s := "00000" + itoa(i)
	return s[len(s)-5:]
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

package ldap

import (
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
)

func TestNormalizeDN(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"uid=alice,ou=people,dc=example,dc=com", "uid=alice,ou=people,dc=example,dc=com"},
		{"UID=Alice, OU=People,dc=Example,dc=com", "uid=alice,ou=people,dc=example,dc=com"},
		{"  uid = alice ,  ou=people ; dc=example,dc=com  ", "uid=alice,ou=people,dc=example,dc=com"},
		{"cn=Smith\\, John,ou=people,dc=example,dc=com", "cn=smith\\, john,ou=people,dc=example,dc=com"},
		{"cn=Smith\\2C John,ou=people", "cn=smith\\, john,ou=people"},
		{`cn=a\+b\;c\<d\>e\"f\\g,o=x`, `cn=a\+b\;c\<d\>e\"f\\g,o=x`},
		{"cn=a=b,o=x", "cn=a=b,o=x"},
		{"cn=\\#hash,o=x", "cn=\\#hash,o=x"},
		{"cn=not#leading,o=x", "cn=not#leading,o=x"},
		{"cn=\\ lead and trail\\ ,o=x", "cn=\\ lead and trail\\ ,o=x"},
		{"cn=#04024869,o=x", "cn=hi,o=x"}, // BER hex value
		{"CN=José Müller,O=Straße", "cn=josé müller,o=straße"},
		{"cn=jos\\c3\\a9,o=x", "cn=josé,o=x"},
		{"cn=ÀÉÎ,o=x", "cn=àéî,o=x"},
		{"cn=bin\\ff\\fe,o=x", "cn=bin\\ff\\fe,o=x"}, // not UTF-8: stays escaped
		{"cn=tab\\09here,o=x", "cn=tab\\09here,o=x"},
		{"uid=b+cn=A,ou=x", "cn=a+uid=b,ou=x"}, // multi-valued RDN, sorted
		{"cn=A+uid=b,ou=x", "cn=a+uid=b,ou=x"},
		{"2.5.4.3=Foo,o=x", "2.5.4.3=foo,o=x"},
		{"cn=,o=x", "cn=,o=x"},
		{"cn=user.name_1@example-corp,o=x", "cn=user.name_1@example-corp,o=x"},
	}
	for _, tt := range tests {
		got, err := NormalizeDN(tt.in)
		if err != nil {
			t.Errorf("NormalizeDN(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("NormalizeDN(%q) = %q, want %q", tt.in, got, tt.want)
		}
		again, err := NormalizeDN(got)
		if err != nil || again != got {
			t.Errorf("NormalizeDN(%q) = %q, %v: not stable", got, again, err)
		}
		// The normalised DN means the same DN.
		a, err1 := goldap.ParseDN(tt.in)
		b, err2 := goldap.ParseDN(got)
		if err1 != nil || err2 != nil || !a.EqualFold(b) {
			t.Errorf("%q and %q are not the same DN (%v, %v)", tt.in, got, err1, err2)
		}
	}

	for _, bad := range []string{"", "   ", "uid", "uid=a,", "=a", "uid=a,,o=x", `cn=a"b`, "c n=x", "cn=\\zz", "-cn=x", "1.=x", "cn=a\\"} {
		if got, err := NormalizeDN(bad); err == nil {
			t.Errorf("NormalizeDN(%q) = %q, want an error", bad, got)
		}
	}
}

func FuzzNormalizeDN(f *testing.F) {
	for _, s := range []string{
		"uid=alice,ou=people,dc=example,dc=com", "UID=Alice, OU=People,dc=Example,dc=com",
		`cn=a\+b\;c\<d\>e\"f\\g,o=x`, "cn=#04024869,o=x", "uid=b+cn=A,ou=x", "cn=\\ x\\ ,o=y",
		"cn=bin\\ff,o=x", "CN=José,O=Straße", "2.5.4.3=x", "cn=", "a=b;c=d", "cn=İ,o=x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := NormalizeDN(in)
		if fast, ok := fastNormalizeDN(in); ok {
			slow, err := slowNormalizeDN(in)
			if err != nil || slow != fast {
				t.Fatalf("fast path %q, slow path %q, %v", fast, slow, err)
			}
		}
		if err != nil {
			return
		}
		again, err := NormalizeDN(got)
		if err != nil {
			t.Fatalf("NormalizeDN(%q) = %q, which does not normalise: %v", in, got, err)
		}
		if again != got {
			t.Fatalf("not stable: %q -> %q -> %q", in, got, again)
		}
	})
}

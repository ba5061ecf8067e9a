package filter

import (
	"testing"
)

func TestNormalizeDN(t *testing.T) {
	for in, want := range map[string]string{
		"":                                     "",
		"uid=alice,ou=users,dc=example,dc=com": "uid=alice,ou=users,dc=example,dc=com",
		"UID=Alice,OU=Users,DC=Example,DC=Com": "uid=alice,ou=users,dc=example,dc=com",
		"uid=alice, ou=users , dc=example,dc=com": "uid=alice,ou=users,dc=example,dc=com",
		"commonName=G,ou=groups":                  "cn=g,ou=groups",
		"2.5.4.3=G,OU=groups":                     "cn=g,ou=groups",
		"cn=Jira  Users,ou=groups":                "cn=jira users,ou=groups",
		`cn=Smith\, John,ou=people`:               `cn=smith\, john,ou=people`,
		`cn=Smith\2C John,ou=people`:              `cn=smith\, john,ou=people`,
		`cn=a\+b,ou=x`:                            `cn=a\+b,ou=x`,
		`cn=\#1,ou=x`:                             `cn=\#1,ou=x`,
		`cn=x#1,ou=x`:                             `cn=x#1,ou=x`,
		`cn=\ lead,ou=x`:                          `cn=lead,ou=x`,
		`cn=José,ou=x`:                            `cn=josé,ou=x`,
		`cn=JOS\C3\89,ou=x`:                       `cn=josé,ou=x`,
		`cn=a\00b,ou=x`:                           `cn=a\00b,ou=x`,
		`cn=a\ffb`:                                `cn=a\ffb`,
		`uid=b+cn=A,ou=x`:                         `cn=a+uid=b,ou=x`,
		`cn=A+uid=b,ou=x`:                         `cn=a+uid=b,ou=x`,
		`cn=a=b,ou=x`:                             `cn=a=b,ou=x`,
		`cn=#04024869,ou=x`:                       `cn=hi,ou=x`,
		`cn=a;ou=x`:                               `cn=a,ou=x`,
		`cn=,ou=x`:                                `cn=,ou=x`,
		`x-Custom-Attr=Value`:                     `x-custom-attr=value`,
		`\;=`:                                     `\;=`, // a ';' in a type is no option
		`a\;b=X`:                                  `a\;b=x`,
		`cn\=x=y`:                                 `cn\=x=y`,
	} {
		got, ok := NormalizeDN(in)
		if !ok || got != want {
			t.Errorf("NormalizeDN(%q) = %q %v, want %q", in, got, ok, want)
			continue
		}
		again, ok := NormalizeDN(got)
		if !ok || again != got {
			t.Errorf("NormalizeDN(%q) = %q, not idempotent: %q %v", in, got, again, ok)
		}
	}
	for _, in := range []string{"cn", "cn=a,", "=a", `cn=a"b`, `cn=a\`, `cn=a\zz`, "cn=a\x00b", "cn=<"} {
		if got, ok := NormalizeDN(in); ok {
			t.Errorf("NormalizeDN(%q) = %q, want invalid", in, got)
		}
	}
}

// TestNormalizeDNFastPath: the fast path gives what the slow path gives,
// and allocates nothing for normalised DNs.
func TestNormalizeDNFastPath(t *testing.T) {
	for _, in := range []string{
		"uid=alice,ou=users,dc=example,dc=com", "UID=Alice,OU=Users,DC=Example,DC=Com",
		"cn=jira users,ou=groups,dc=example,dc=com", "cn=Jira-Users_1.x,ou=groups", "givenName=x",
		"cn=a b c,o=x", "st=x", "x-y=z",
	} {
		if ok, _ := simpleDN(in); !ok {
			t.Errorf("%q does not take the fast path", in)
		}
		fast, _ := NormalizeDN(in)
		slow, ok := normalizeDNSlow(in)
		if !ok || fast != slow {
			t.Errorf("%q: fast %q, slow %q", in, fast, slow)
		}
	}
	for _, in := range []string{
		"", "cn=a  b", "cn= a", "cn=a ", "cn=a,ou=b ", "commonName=x", "gn=x", "2.5.4.3=x", "cn=a+sn=b",
		`cn=a\,b`, "cn=é", "cn=#x", "cn=a=b", "cn=", "cn=a,,ou=b", "cn=a\tb", " cn=a",
	} {
		if ok, _ := simpleDN(in); ok {
			t.Errorf("%q takes the fast path", in)
		}
	}
	if n := testing.AllocsPerRun(100, func() { NormalizeDN("uid=alice,ou=users,dc=example,dc=com") }); n != 0 {
		t.Errorf("NormalizeDN allocates %v times on a normalised DN", n)
	}
}

func TestDNEqual(t *testing.T) {
	key, _ := NormalizeDN("cn=Smith\\, John,ou=people,dc=x")
	for v, want := range map[string]bool{
		`cn=smith\, john,ou=people,dc=x`:         true,
		`CN=Smith\, John,OU=People,DC=X`:         true,
		`cn=smith\2c john,ou=people,dc=x`:        true,
		`cn=smith\2C  john, ou=people,dc=x`:      true,
		`commonName=smith\, john,ou=people,dc=x`: true,
		`cn=smith,ou=people,dc=x`:                false,
		`not a dn`:                               false,
	} {
		if got := dnEqual(v, key); got != want {
			t.Errorf("dnEqual(%q, %q) = %v", v, key, got)
		}
	}
}

func TestParseGeneralizedTime(t *testing.T) {
	base := int64(1704110400) // 2024-01-01T12:00:00Z
	for in, want := range map[string][2]int64{
		"20240101120000Z":              {base, 0},
		"202401011200Z":                {base, 0},
		"2024010112Z":                  {base, 0},
		"20240101120000.5Z":            {base, 500_000_000},
		"20240101120000,25Z":           {base, 250_000_000},
		"2024010112.5Z":                {base + 1800, 0},
		"202401011200.5Z":              {base + 30, 0},
		"20240101140000+0200":          {base, 0},
		"20240101100000-02":            {base, 0},
		"20240101120000.123456789123Z": {base, 123_456_789},
		"20240229000000Z":              {1709164800, 0},
		"20161231235960Z":              {1483228800, 0},
	} {
		sec, ns, ok := parseGeneralizedTime(in)
		if !ok || sec != want[0] || int64(ns) != want[1] {
			t.Errorf("%s: %d %d %v, want %v", in, sec, ns, ok, want)
		}
	}
	for _, in := range []string{
		"", "2024", "20240101120000", "20240101120000z", "20241301120000Z", "20240230120000Z", "20230229000000Z",
		"20240101240000Z", "20240101126000Z", "20240101120061Z", "20240101120000.Z", "20240101120000+2400",
		"20240101120000+0260", "20240101120000+1", "20240101120000ZZ", "2024010112000Z", "x0240101120000Z",
		"20240101120000 Z",
	} {
		if _, _, ok := parseGeneralizedTime(in); ok {
			t.Errorf("%q parsed", in)
		}
	}
}

func TestIntegers(t *testing.T) {
	for in, want := range map[string]string{"0": "0", "-0": "0", "007": "7", "-007": "-7", "123": "123", "000": "0"} {
		neg, d, ok := parseInteger(in)
		got := d
		if neg {
			got = "-" + d
		}
		if !ok || got != want {
			t.Errorf("parseInteger(%q) = %q %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "-", "+1", "1.0", " 1", "1 ", "0x10", "--1"} {
		if _, _, ok := parseInteger(in); ok {
			t.Errorf("parseInteger(%q) ok", in)
		}
	}
	cmp := func(a, b string) int {
		an, ad, _ := parseInteger(a)
		bn, bd, _ := parseInteger(b)
		return compareIntegers(an, ad, bn, bd)
	}
	for _, c := range []struct {
		a, b string
		want int
	}{{"1", "2", -1}, {"10", "9", 1}, {"-10", "-9", -1}, {"-1", "1", -1}, {"0", "-0", 0}, {"99999999999999999999", "1", 1}} {
		if got := cmp(c.a, c.b); got != c.want {
			t.Errorf("compare(%s, %s) = %d", c.a, c.b, got)
		}
	}
	for in, want := range map[string]int64{"2": 2, "-2147483646": -2147483646, "18446744073709551615": -1, "-9223372036854775808": -1 << 63} {
		if got, ok := parseBits(in); !ok || got != want {
			t.Errorf("parseBits(%q) = %d %v", in, got, ok)
		}
	}
	for _, in := range []string{"18446744073709551616", "-9223372036854775809", "x"} {
		if _, ok := parseBits(in); ok {
			t.Errorf("parseBits(%q) ok", in)
		}
	}
}

func TestPrepAppend(t *testing.T) {
	for _, c := range []struct {
		in                string
		fold, lead, trail bool
		want              string
	}{
		{"  Alice   Liddell  ", true, false, false, "alice liddell"},
		{"  Alice   Liddell  ", false, false, false, "Alice Liddell"},
		{"  Alice  ", true, true, true, " alice "},
		{"   ", true, true, true, " "},
		{"   ", true, false, true, ""},
		{"A\tB\nC", true, false, false, "a b c"},
		{"JOSÉ\u00a0MÜLLER", true, false, false, "josé müller"},
		{"a\xffB", true, false, false, "a\xffb"},
	} {
		if got := string(prepAppend(nil, c.in, c.fold, c.lead, c.trail)); got != c.want {
			t.Errorf("prepAppend(%q, %v, %v, %v) = %q, want %q", c.in, c.fold, c.lead, c.trail, got, c.want)
		}
	}
}

package restriction

import (
	"strings"
	"testing"
	"time"
)

func TestMatch(t *testing.T) {
	s := func(name string, mode MatchMode, value string) Restriction {
		return prop(t, name, TypeString, mode, value)
	}
	b := func(name string, mode MatchMode, value string) Restriction {
		return prop(t, name, TypeBoolean, mode, value)
	}
	d := func(name string, mode MatchMode, value string) Restriction {
		return prop(t, name, TypeDate, mode, value)
	}
	and := func(rs ...Restriction) Restriction { return Boolean{Logic: And, Restrictions: rs} }
	or := func(rs ...Restriction) Restriction { return Boolean{Logic: Or, Restrictions: rs} }
	const created = "2020-01-02T03:04:05.000+0000" // bob's createdDate

	for _, tc := range []struct {
		name string
		r    Restriction
		want bool
	}{
		{"null", Null{}, true},
		{"nil", nil, true},
		{"pointer to null", &Null{}, true},

		// Strings, case-insensitive both ways.
		{"exact", s(KeyName, ExactlyMatches, "bob"), true},
		{"exact upper", s(KeyEmail, ExactlyMatches, "BOB@EXAMPLE.NET"), true},
		{"exact other", s(KeyName, ExactlyMatches, "bo"), false},
		{"starts", s(KeyDisplayName, StartsWith, "bob s"), true},
		{"starts no", s(KeyDisplayName, StartsWith, "smith"), false},
		{"ends", s(KeyEmail, EndsWith, "@example.NET"), true},
		{"ends no", s(KeyEmail, EndsWith, "@example.com"), false},
		{"contains", s(KeyLastName, Contains, "MIT"), true},
		{"contains empty", s(KeyLastName, Contains, ""), true},
		{"contains no", s(KeyLastName, Contains, "x"), false},
		{"less", s(KeyName, LessThan, "BOC"), true},
		{"less equal value", s(KeyName, LessThan, "bob"), false},
		{"less or equal", s(KeyName, LessThanOrEqual, "BOB"), true},
		{"greater", s(KeyName, GreaterThan, "ALICE"), true},
		{"greater no", s(KeyName, GreaterThan, "carol"), false},
		{"greater or equal", s(KeyName, GreaterThanOrEqual, "bob"), true},
		{"greater or equal no", s(KeyName, GreaterThanOrEqual, "boc"), false},
		{"missing property", s("nosuch", ExactlyMatches, ""), false},
		{"missing property contains", s("nosuch", Contains, ""), false},
		{"empty string exact", s(KeyExternalID, ExactlyMatches, ""), true},

		// NULL: absent or empty. The Jira probe matches nothing.
		{"jira probe", s(KeyName, IsNull, ""), false},
		{"null missing", s("nosuch", IsNull, ""), true},
		{"null empty string", s(KeyExternalID, IsNull, ""), true},
		{"null empty list", s("empty", IsNull, ""), true},
		{"null multi", s("phone", IsNull, ""), false},
		{"null zero date", d(KeyUpdatedDate, IsNull, ""), true},
		{"null date", d(KeyCreatedDate, IsNull, ""), false},
		{"null boolean", b(KeyActive, IsNull, ""), false},

		// Multi-valued: any value.
		{"multi exact second", s("phone", ExactlyMatches, "555-9999"), true},
		{"multi ends", s("phone", EndsWith, "1234"), true},
		{"multi none", s("phone", ExactlyMatches, "555"), false},
		{"multi less", s("phone", LessThan, "555-2"), true},
		{"empty list", s("empty", Contains, ""), false},

		// Booleans: only EXACTLY_MATCHES.
		{"bool true", b(KeyActive, ExactlyMatches, "true"), true},
		{"bool TRUE", b(KeyActive, ExactlyMatches, "TRUE"), true},
		{"bool false", b(KeyActive, ExactlyMatches, "false"), false},
		{"bool less", b(KeyActive, LessThan, "true"), false},
		{"bool contains", b(KeyActive, Contains, "true"), false},
		{"bool from string attribute", b("enabled", ExactlyMatches, "true"), true},
		{"bool from bad string", b("nick", ExactlyMatches, "true"), false},
		{"bool from date", b(KeyCreatedDate, ExactlyMatches, "true"), false},
		{"bool missing", b(KeyLocal, ExactlyMatches, "false"), false},

		// Dates: instants.
		{"date exact", d(KeyCreatedDate, ExactlyMatches, created), true},
		{"date exact other zone", d(KeyCreatedDate, ExactlyMatches, "2020-01-02T05:04:05+02:00"), true},
		{"date exact no", d(KeyCreatedDate, ExactlyMatches, "2020-01-02"), false},
		{"date less", d(KeyCreatedDate, LessThan, "2020-01-03"), true},
		{"date less equal", d(KeyCreatedDate, LessThan, created), false},
		{"date less or equal", d(KeyCreatedDate, LessThanOrEqual, created), true},
		{"date greater", d(KeyCreatedDate, GreaterThan, "2020"), true},
		{"date greater equal", d(KeyCreatedDate, GreaterThan, created), false},
		{"date greater or equal", d(KeyCreatedDate, GreaterThanOrEqual, created), true},
		{"date greater or equal no", d(KeyCreatedDate, GreaterThanOrEqual, "2020-01-02T03:04:05.001Z"), false},
		{"date starts", d(KeyCreatedDate, StartsWith, created), false},
		{"date zero", d(KeyUpdatedDate, LessThan, "2100-01-01"), false},
		{"date from string attribute", d("since", LessThan, "2020-01-01"), true},
		{"date from bad string", d("nick", LessThan, "2020-01-01"), false},
		{"date from bool", d(KeyActive, LessThan, "2020-01-01"), false},

		// A STRING restriction on a boolean or date property.
		{"string on bool", s(KeyActive, ExactlyMatches, "TRUE"), true},
		{"string on date", s(KeyCreatedDate, StartsWith, "2020-01-02T03:04:05.000+0000"), true},

		// Boolean logic.
		{"and", and(s(KeyName, ExactlyMatches, "bob"), b(KeyActive, ExactlyMatches, "true")), true},
		{"and one false", and(s(KeyName, ExactlyMatches, "bob"), b(KeyActive, ExactlyMatches, "false")), false},
		{"or", or(s(KeyName, ExactlyMatches, "alice"), s(KeyEmail, Contains, "example")), true},
		{"or none", or(s(KeyName, ExactlyMatches, "alice"), s(KeyEmail, Contains, "acme")), false},
		{"empty and", and(), true},
		{"empty or", or(), false},
		{"nested", and(or(s(KeyName, StartsWith, "x"), and()), Null{}), true},
		{"pointer", &Boolean{Logic: Or, Restrictions: []Restriction{&Property{Name: KeyName, Type: TypeString, Mode: ExactlyMatches, Value: "BOB"}}}, true},

		// Invalid values match nothing.
		{"invalid logic", Boolean{}, false},
		{"invalid mode", Property{Name: KeyName, Type: TypeString, Value: "bob"}, false},
		{"invalid type", Property{Name: KeyName, Mode: ExactlyMatches, Value: "bob"}, false},
		{"nil property pointer", (*Property)(nil), false},
		{"nil boolean pointer", (*Boolean)(nil), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Match(tc.r, bob); got != tc.want {
				t.Errorf("Match(%v) = %v, want %v", tc.r, got, tc.want)
			}
		})
	}
}

// CQL examples from the spec against a user and a group.
func TestMatchCQL(t *testing.T) {
	for _, tc := range []struct {
		cql        string
		bob, group bool
	}{
		{`email=bob@example.net`, true, false},
		{`firstName = "bob" and email = "bob@example.net"`, true, false},
		{`name = "admin*" and active = false`, false, false},
		{`name = "jira*" and active = false`, false, true},
		{`name="*admin*"`, false, true},
		{`active=true`, true, false},
		{`local=true`, false, true},
		{`description = *admins*`, false, true},
		{`createdDate < 2015-01-01`, false, true},
		{`(name=bob or name=jira-administrators) and createdDate > 2000`, true, true},
		{``, true, true},
	} {
		r, err := ParseCQL(tc.cql)
		if err != nil {
			t.Fatal(err)
		}
		if got := Match(r, bob); got != tc.bob {
			t.Errorf("%s: bob %v", tc.cql, got)
		}
		if got := Match(r, admins); got != tc.group {
			t.Errorf("%s: group %v", tc.cql, got)
		}
	}
}

// The bodies Jira sends: the probe matches nothing, the sync everything.
func TestMatchJiraBodies(t *testing.T) {
	for _, tc := range []struct {
		file       string
		bob, group bool
	}{
		{"jira-test-connection.xml", false, false},
		{"jira-full-sync.xml", true, true},
		{"jira-user-preview.xml", true, false}, // lastName Smith
		{"python-crowd-contains.xml", true, false},
	} {
		r, err := ParseXML(strings.NewReader(readTestdata(t, "xml/"+tc.file)))
		if err != nil {
			t.Fatal(err)
		}
		if got := Match(r, bob); got != tc.bob {
			t.Errorf("%s: bob %v", tc.file, got)
		}
		if got := Match(r, admins); got != tc.group {
			t.Errorf("%s: group %v", tc.file, got)
		}
	}
}

// compareASCII agrees with compareLower, which lower-cases with
// strings.ToLower.
func TestCompareASCII(t *testing.T) {
	words := []string{"", "a", "A", "ab", "aB", "Ab", "b", "abc", "ABC", "abd", "[", "_", "`", "@", "Z", "z", "zz", "bob", "BOB", "Bob Smith", "smith"}
	for _, have := range words {
		for _, want := range words {
			for m := ExactlyMatches; m <= IsNull; m++ {
				if a, l := compareASCII(m, have, want), compareLower(m, strings.ToLower(have), strings.ToLower(want)); a != l {
					t.Errorf("%v(%q, %q): ascii %v, lower %v", m, have, want, a, l)
				}
			}
		}
	}
}

// Non-ASCII strings are lower-cased with strings.ToLower.
func TestMatchUnicode(t *testing.T) {
	e := MapEntity{KeyName: StringValue("ÉMILE Zoë")}
	for _, tc := range []struct {
		r    string
		want bool
	}{
		{`name="émile zoë"`, true},
		{`name="*ZOË"`, false}, // EXACTLY_MATCHES "ZOË"
		{`name="*ZOË*"`, true},
		{`name=É*`, true},
		{`name > "emile"`, true}, // 'é' sorts after 'e'
	} {
		r, err := ParseCQL(tc.r)
		if err != nil {
			t.Fatal(err)
		}
		if got := Match(r, e); got != tc.want {
			t.Errorf("%s: %v", tc.r, got)
		}
	}
}

func TestValue(t *testing.T) {
	now := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, tc := range []struct {
		v       Value
		typ     PropType
		strings []string
		b       bool
		t       time.Time
		empty   bool
	}{
		{Value{}, 0, nil, false, time.Time{}, true},
		{StringValue("x"), TypeString, []string{"x"}, false, time.Time{}, false},
		{StringValue(""), TypeString, []string{""}, false, time.Time{}, true},
		{StringsValue([]string{"", "y"}), TypeString, []string{"", "y"}, false, time.Time{}, false},
		{StringsValue([]string{"", ""}), TypeString, []string{"", ""}, false, time.Time{}, true},
		{BoolValue(true), TypeBoolean, nil, true, time.Time{}, false},
		{BoolValue(false), TypeBoolean, nil, false, time.Time{}, false},
		{TimeValue(now), TypeDate, nil, false, now, false},
		{TimeValue(time.Time{}), TypeDate, nil, false, time.Time{}, true},
	} {
		if tc.v.Type() != tc.typ || tc.v.Bool() != tc.b || !tc.v.Time().Equal(tc.t) || tc.v.empty() != tc.empty ||
			strings.Join(tc.v.Strings(), ",") != strings.Join(tc.strings, ",") {
			t.Errorf("%#v: wrong accessors", tc.v)
		}
	}
}

// Match over a large population stays cheap: no allocation for lower-case
// values.
func TestMatchAllocs(t *testing.T) {
	r, err := ParseCQL(`email="*@example.net*" or (active=true and createdDate > 2019)`)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { Match(r, bob) }); n > 0 {
		t.Errorf("%v allocations per Match", n)
	}
}

func BenchmarkMatch(b *testing.B) {
	r, err := ParseCQL(`firstName = "bob" and email = "bob@example.net"`)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		Match(r, bob)
	}
}

package restriction

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNewProperty(t *testing.T) {
	p, err := NewProperty(" CreatedDate ", TypeDate, GreaterThan, "2020-01-02")
	if err != nil {
		t.Fatal(err)
	}
	want := Property{Name: KeyCreatedDate, Type: TypeDate, Mode: GreaterThan, Value: "2020-01-02", Time: time.Date(2020, 1, 2, 0, 0, 0, 0, time.UTC)}
	if p != want {
		t.Errorf("got %#v", p)
	}
	if p, _ := NewProperty("name", TypeString, IsNull, "ignored"); p.Value != "" {
		t.Errorf("IsNull kept value %q", p.Value)
	}
	for _, tc := range []struct {
		name  string
		typ   PropType
		mode  MatchMode
		value string
		want  string
	}{
		{"", TypeString, ExactlyMatches, "x", "property without a name"},
		{"x", 0, ExactlyMatches, "x", `property "x" has invalid type PropType(0)`},
		{"x", TypeString, 0, "x", `property "x" has invalid match mode MatchMode(0)`},
		{"x", TypeString, IsNull + 1, "x", `invalid match mode MatchMode(10)`},
		{"active", TypeBoolean, ExactlyMatches, "", `invalid BOOLEAN value ""`},
		{"createdDate", TypeDate, LessThan, "", `invalid DATE value ""`},
	} {
		_, err := NewProperty(tc.name, tc.typ, tc.mode, tc.value)
		checkInvalid(t, err, "", tc.want)
	}
}

func TestEnums(t *testing.T) {
	for s, want := range map[string]MatchMode{
		"EXACTLY_MATCHES": ExactlyMatches, "exactly_matches": ExactlyMatches, " starts-with ": StartsWith,
		"Ends_With": EndsWith, "CONTAINS": Contains, "less_than": LessThan, "LESS_THAN_OR_EQUAL": LessThanOrEqual,
		"greater_than": GreaterThan, "GREATER_THAN_OR_EQUAL": GreaterThanOrEqual, "null": IsNull,
	} {
		if m, ok := parseMode(s); !ok || m != want {
			t.Errorf("parseMode(%q) = %v, %v", s, m, ok)
		}
	}
	for _, s := range []string{"", "EXACTLY", "LIKE", "NOT_NULL", "MatchMode(1)", "EXACTLYMATCHES"} {
		if m, ok := parseMode(s); ok {
			t.Errorf("parseMode(%q) = %v", s, m)
		}
	}
	for m := ExactlyMatches; m <= IsNull; m++ {
		if back, ok := parseMode(m.String()); !ok || back != m {
			t.Errorf("%v does not round-trip", m)
		}
	}
	for ty := TypeString; ty <= TypeDate; ty++ {
		if back, ok := parseType(strings.ToLower(ty.String())); !ok || back != ty {
			t.Errorf("%v does not round-trip", ty)
		}
	}
	if _, ok := parseType("INTEGER"); ok {
		t.Error("INTEGER is a type")
	}
	if l, ok := parseLogic("or"); !ok || l != Or || And.String() != "AND" || Logic(0).String() != "Logic(0)" {
		t.Error("logic")
	}
}

func TestProperties(t *testing.T) {
	for _, tc := range []struct {
		name        string
		canonical   string
		user, group PropType
	}{
		{"name", KeyName, TypeString, TypeString},
		{"EMAIL", KeyEmail, TypeString, 0},
		{"firstname", KeyFirstName, TypeString, 0},
		{"lastName", KeyLastName, TypeString, 0},
		{"displayName", KeyDisplayName, TypeString, 0},
		{"description", KeyDescription, 0, TypeString},
		{"active", KeyActive, TypeBoolean, TypeBoolean},
		{"local", KeyLocal, 0, TypeBoolean},
		{"externalID", KeyExternalID, TypeString, TypeString},
		{"createdDate", KeyCreatedDate, TypeDate, TypeDate},
		{"updateddate", KeyUpdatedDate, TypeDate, TypeDate},
		{"phone", "phone", 0, 0},
	} {
		if got := Canonical(tc.name); got != tc.canonical {
			t.Errorf("Canonical(%q) = %q", tc.name, got)
		}
		if typ, ok := UserProperty(tc.name); typ != tc.user || ok != (tc.user != 0) {
			t.Errorf("UserProperty(%q) = %v, %v", tc.name, typ, ok)
		}
		if typ, ok := GroupProperty(tc.name); typ != tc.group || ok != (tc.group != 0) {
			t.Errorf("GroupProperty(%q) = %v, %v", tc.name, typ, ok)
		}
	}
}

func TestString(t *testing.T) {
	for _, tc := range []struct {
		r    Restriction
		want string
	}{
		{Null{}, `ALL`},
		{Property{Name: "email", Type: TypeString, Mode: Contains, Value: "a\"b\nc\x00"}, `email CONTAINS "a\"b\nc\x00"`},
		{Property{Name: "my attr\n", Type: TypeString, Mode: IsNull}, `"my attr\n" NULL`},
		{Property{Name: "", Type: 0, Mode: 0}, `"":PropType(0) MatchMode(0) ""`},
		{Boolean{Logic: And}, `(AND)`},
		{Boolean{Logic: Or, Restrictions: []Restriction{Null{}, &Property{Name: "x", Type: TypeBoolean, Mode: ExactlyMatches, Value: "true"}}}, `(ALL OR x:BOOLEAN EXACTLY_MATCHES "true")`},
		{Boolean{Restrictions: []Restriction{nil, Null{}}}, `(<nil> Logic(0) ALL)`},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

func TestFormat(t *testing.T) {
	r := Property{Name: "name", Type: TypeString, Mode: ExactlyMatches, Value: strings.Repeat("é", 100)}
	if got := Format(r, 0); got != r.String() {
		t.Errorf("Format(r, 0) = %q", got)
	}
	got := Format(r, 40)
	if len(got) > 40+len("…") || !strings.HasPrefix(got, `name EXACTLY_MATCHES "éé`) || !strings.HasSuffix(got, "é…") {
		t.Errorf("Format(r, 40) = %q", got)
	}
	var big Boolean
	big.Logic = Or
	for range MaxRestrictions - 1 {
		big.Restrictions = append(big.Restrictions, r)
	}
	if got := Format(big, 100); len(got) > 100+len("…") || !strings.HasPrefix(got, "(name EXACTLY_MATCHES") || !strings.HasSuffix(got, "…") {
		t.Errorf("Format(big, 100) = %q", got)
	}
	if got := Format(big, 0); got != big.String() || len(got) < 100*MaxRestrictions {
		t.Errorf("Format(big, 0) has %d bytes", len(got))
	}
	if got := Format(nil, 10); got != "<nil>" {
		t.Errorf("Format(nil) = %q", got)
	}
}

func TestErrorDetail(t *testing.T) {
	for _, tc := range []struct {
		e      Error
		detail string
		error  string
	}{
		{Error{Syntax: "cql", Pos: 3, Msg: "m"}, "at position 3: m", "restriction: invalid search restriction (cql): at position 3: m"},
		{Error{Syntax: "xml", Path: "a/b", Msg: "m"}, "in a/b: m", "restriction: invalid search restriction (xml): in a/b: m"},
		{Error{Msg: "m"}, "m", "restriction: invalid search restriction: m"},
	} {
		if tc.e.Detail() != tc.detail || tc.e.Error() != tc.error || !errors.Is(&tc.e, ErrInvalid) {
			t.Errorf("%#v: %q, %q", tc.e, tc.e.Detail(), tc.e.Error())
		}
	}
}

func TestStats(t *testing.T) {
	r := Boolean{Logic: And, Restrictions: []Restriction{Null{}, &Boolean{Logic: Or, Restrictions: []Restriction{Null{}}}, (*Boolean)(nil)}}
	if d, n := Stats(r); d != 3 || n != 5 {
		t.Errorf("Stats = %d, %d", d, n)
	}
	if d, n := Stats(Boolean{}); d != 1 || n != 1 {
		t.Errorf("Stats(empty) = %d, %d", d, n)
	}
}

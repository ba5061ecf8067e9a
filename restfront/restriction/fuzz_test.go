package restriction

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkParsed holds for every restriction a parser returns: within the
// limits, printable on one line, evaluable, and consistent with Exact.
func checkParsed(t *testing.T, in string, r Restriction, err error) {
	t.Helper()
	if err != nil {
		var e *Error
		if r != nil || !errors.Is(err, ErrInvalid) || !errors.As(err, &e) {
			t.Fatalf("%q: bad error %T %v (restriction %v)", in, err, err, r)
		}
		if strings.ContainsAny(err.Error(), "\n\r") || !utf8.ValidString(err.Error()) || len(err.Error()) > 1000 {
			t.Fatalf("%q: error message %q", in, err.Error())
		}
		return
	}
	if r == nil {
		t.Fatalf("%q: nil restriction without an error", in)
	}
	depth, count := Stats(r)
	if depth > MaxDepth || count > MaxRestrictions {
		t.Fatalf("%q: beyond the limits: depth %d, %d restrictions", in, depth, count)
	}
	s := r.String()
	if strings.ContainsAny(s, "\n\r") {
		t.Fatalf("%q: String() spans lines: %q", in, s)
	}
	if f := Format(r, 50); len(f) > 50+len("…") {
		t.Fatalf("%q: Format too long: %q", in, f)
	}
	for _, e := range []Entity{bob, admins, MapEntity{}} {
		Match(r, e)
	}
	// Whatever Exact pins name to, an entity with another name fails.
	if v, ok := Exact(r, KeyName); ok && strings.ToLower(v) != "bob" && Match(r, bob) {
		t.Fatalf("%q: Exact says name = %q but bob matches", in, v)
	}
	// Every parsed tree survives the Java client's XML form.
	again, err := ParseXML(strings.NewReader(toXML(r)))
	if err != nil {
		t.Fatalf("%q: %v does not round-trip through XML %s: %v", in, r, toXML(r), err)
	}
	if !reflect.DeepEqual(canon(again), canon(r)) && !hasXMLUnsafe(r) {
		t.Fatalf("%q: XML round trip changed %v into %v", in, r, again)
	}
}

// hasXMLUnsafe reports whether r holds a character XML 1.0 cannot carry
// (only possible from JSON); xml.EscapeText replaces it.
func hasXMLUnsafe(r Restriction) bool {
	switch r := r.(type) {
	case Property:
		return xmlUnsafe(r.Name) || xmlUnsafe(r.Value)
	case Boolean:
		for _, c := range r.Restrictions {
			if hasXMLUnsafe(c) {
				return true
			}
		}
	}
	return false
}

func xmlUnsafe(s string) bool {
	for _, c := range s {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0xfffe || c == 0xffff || c == utf8.RuneError || 0xd800 <= c && c <= 0xdfff {
			return true
		}
	}
	return false
}

func addFiles(f *testing.F, dir string) {
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
}

func FuzzParseCQL(f *testing.F) {
	for _, s := range []string{
		`email=bob@example.net`, `firstName = "bob" and email = "bob@example.net"`,
		`name = "admin*" and active = false`, `firstName=Foo`, `name=testgroup1`, `active=true`,
		`email=" x "`, `name="*foo*"`, `a=1 or b=2 and c=3`, `(a=1 or (b=2 and (c=3 or d=4)))`,
		`createdDate > 2020-01-02T03:04:05.000+0000`, `x="\u00e9\ud83d\ude00\t"`, `x='it\'s' AND y=a\ b`,
		`name != x`, `(a=1`, `a=1)`, `active=yes`, ``, `name=*`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseCQL(s)
		checkParsed(t, s, r, err)
		if err != nil {
			var e *Error
			errors.As(err, &e)
			if e.Pos < 0 || e.Pos > len(s)+1 {
				t.Fatalf("%q: position %d out of range", s, e.Pos)
			}
		}
	})
}

func FuzzParseXML(f *testing.F) {
	addFiles(f, "xml")
	for _, s := range []string{
		``, `<null-search-restriction/>`, `<boolean-search-restriction boolean-logic="and"/>`,
		`<!DOCTYPE x><null-search-restriction/>`, `<null-search-restriction/>x`,
		`<property-search-restriction><property><name>active</name><type>BOOLEAN</type></property><match-mode>EXACTLY_MATCHES</match-mode><value>true</value></property-search-restriction>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseXML(strings.NewReader(s))
		checkParsed(t, s, r, err)
	})
}

func FuzzParseJSON(f *testing.F) {
	addFiles(f, "json")
	for _, s := range []string{
		``, `{}`, `{"restriction-type":"null-search-restriction"}`, `{"boolean-logic":"or","restrictions":[{}]}`,
		`{"property-search-restriction":{"property":{"name":"x"},"matchMode":"null"}}`,
		`{"restriction-type":"property-search-restriction","property":{"name":"a\u0000"},"match-mode":"CONTAINS","value":"\ud800"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseJSON(strings.NewReader(s))
		checkParsed(t, s, r, err)
		if err == nil {
			again, err := ParseJSON(strings.NewReader(toJSON(r)))
			if err != nil || !reflect.DeepEqual(canon(again), canon(r)) {
				t.Fatalf("%q: JSON round trip of %v: %v, %v", s, r, again, err)
			}
		}
	})
}

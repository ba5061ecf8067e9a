package restriction

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// prop is NewProperty for tests.
func prop(t testing.TB, name string, typ PropType, mode MatchMode, value string) Property {
	t.Helper()
	p, err := NewProperty(name, typ, mode, value)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseXMLTestdata(t *testing.T) {
	for _, tc := range []struct {
		file string
		want string // String()
	}{
		// DF/RCC testConnection: must parse, and matches nothing (match_test.go).
		{"jira-test-connection.xml", `name NULL`},
		// Full sync, spec §9.
		{"jira-full-sync.xml", `ALL`},
		// DF/ECA UserSyncPreviewService.
		{"jira-user-preview.xml", `(name CONTAINS "smi" OR displayName CONTAINS "smi" OR firstName CONTAINS "smi" OR lastName CONTAINS "smi" OR email CONTAINS "smi")`},
		// P1 search().
		{"python-crowd-contains.xml", `email CONTAINS "example.net"`},
		// Spec §6.1.
		{"spec-property-email.xml", `email EXACTLY_MATCHES "bob@example.net"`},
		{"spec-boolean-and.xml", `(active:BOOLEAN EXACTLY_MATCHES "true" AND (name STARTS_WITH "bo" OR createdDate:DATE GREATER_THAN_OR_EQUAL "2020-01-02T03:04:05.000+0000") AND ALL)`},
		{"lenient-variants.xml", `(email EXACTLY_MATCHES "bob@example.net" OR active:BOOLEAN EXACTLY_MATCHES "TRUE")`},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r, err := ParseXML(strings.NewReader(readTestdata(t, "xml/"+tc.file)))
			if err != nil {
				t.Fatal(err)
			}
			if got := r.String(); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			again, err := ParseXML(strings.NewReader(toXML(r)))
			if err != nil || !reflect.DeepEqual(canon(again), canon(r)) {
				t.Errorf("round trip: %v, %v", again, err)
			}
		})
	}
}

func TestParseXMLTree(t *testing.T) {
	r, err := ParseXML(strings.NewReader(readTestdata(t, "xml/spec-boolean-and.xml")))
	if err != nil {
		t.Fatal(err)
	}
	want := Boolean{Logic: And, Restrictions: []Restriction{
		Property{Name: "active", Type: TypeBoolean, Mode: ExactlyMatches, Value: "true", Bool: true},
		Boolean{Logic: Or, Restrictions: []Restriction{
			Property{Name: "name", Type: TypeString, Mode: StartsWith, Value: "bo"},
			Property{Name: "createdDate", Type: TypeDate, Mode: GreaterThanOrEqual, Value: "2020-01-02T03:04:05.000+0000",
				Time: time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)},
		}},
		Null{},
	}}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("got  %#v\nwant %#v", r, want)
	}
}

func TestParseXML(t *testing.T) {
	const pre = `<property-search-restriction><property><name>`
	for _, tc := range []struct {
		name, body, want string
	}{
		{"empty body", ``, `ALL`},
		{"white space body", " \r\n\t ", `ALL`},
		{"BOM", "\xef\xbb\xbf<null-search-restriction/>", `ALL`},
		{"white space before declaration", "\n<?xml version=\"1.0\"?>\n<null-search-restriction/>\n<!-- end -->\n", `ALL`},
		{"null with content", `<null-search-restriction><x>y</x></null-search-restriction>`, `ALL`},
		{"value kept verbatim", pre + `email</name><type>STRING</type></property><match-mode>EXACTLY_MATCHES</match-mode><value> a &amp; b </value></property-search-restriction>`, `email EXACTLY_MATCHES " a & b "`},
		{"empty value", pre + `email</name><type>STRING</type></property><match-mode>EXACTLY_MATCHES</match-mode><value/></property-search-restriction>`, `email EXACTLY_MATCHES ""`},
		{"NULL drops value", pre + `name</name><type>STRING</type></property><match-mode>null</match-mode><value>x</value></property-search-restriction>`, `name NULL`},
		{"NULL ignores bad date", pre + `createdDate</name><type>DATE</type></property><match-mode>NULL</match-mode><value>x</value></property-search-restriction>`, `createdDate:DATE NULL`},
		{"custom attribute", pre + `phone</name><type>STRING</type></property><match-mode>ENDS_WITH</match-mode><value>1234</value></property-search-restriction>`, `phone ENDS_WITH "1234"`},
		{"canonical name", pre + `DISPLAYNAME</name><type>STRING</type></property><match-mode>CONTAINS</match-mode><value>x</value></property-search-restriction>`, `displayName CONTAINS "x"`},
		{"type given overrides", pre + `active</name><type>STRING</type></property><match-mode>EXACTLY_MATCHES</match-mode><value>yes</value></property-search-restriction>`, `active EXACTLY_MATCHES "yes"`},
		{"RFC 3339 date", pre + `updatedDate</name><type>DATE</type></property><match-mode>LESS_THAN</match-mode><value>2020-01-02T03:04:05Z</value></property-search-restriction>`, `updatedDate:DATE LESS_THAN "2020-01-02T03:04:05Z"`},
		{"empty and", `<boolean-search-restriction boolean-logic="AND"><restrictions/></boolean-search-restriction>`, `(AND)`},
		{"empty or, no wrapper", `<boolean-search-restriction boolean-logic="Or"/>`, `(OR)`},
		{"logic as element", `<boolean-search-restriction><boolean-logic>or</boolean-logic><restrictions><null-search-restriction/></restrictions></boolean-search-restriction>`, `(ALL)`},
		{"namespaced", `<r:null-search-restriction xmlns:r="urn:r"/>`, `ALL`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseXML(strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if got := r.String(); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestParseXMLErrors(t *testing.T) {
	const pre = `<property-search-restriction><property><name>`
	prop := func(name, typ, mode, value string) string {
		return pre + name + `</name><type>` + typ + `</type></property><match-mode>` + mode + `</match-mode><value>` + value + `</value></property-search-restriction>`
	}
	deep := strings.Repeat(`<boolean-search-restriction boolean-logic="and"><restrictions>`, MaxDepth) + `<null-search-restriction/>` +
		strings.Repeat(`</restrictions></boolean-search-restriction>`, MaxDepth)
	many := `<boolean-search-restriction boolean-logic="or"><restrictions>` + strings.Repeat(`<null-search-restriction/>`, MaxRestrictions) + `</restrictions></boolean-search-restriction>`
	deepUnknown := `<null-search-restriction>` + strings.Repeat(`<x>`, 100) + strings.Repeat(`</x>`, 100) + `</null-search-restriction>`
	for _, tc := range []struct {
		name, body, want string
	}{
		{"unknown match mode", prop("email", "STRING", "SOUNDS_LIKE", "x"), `in property-search-restriction/match-mode: unknown match mode "SOUNDS_LIKE" for property "email": want EXACTLY_MATCHES`},
		{"unknown type", prop("email", "INTEGER", "EXACTLY_MATCHES", "1"), `unknown type "INTEGER" for property "email": want STRING, BOOLEAN or DATE`},
		{"bad date", prop("createdDate", "DATE", "GREATER_THAN", "02/01/2020"), `invalid DATE value "02/01/2020" for property "createdDate"`},
		{"bad date day", prop("createdDate", "DATE", "GREATER_THAN", "2021-02-30T00:00:00.000+0000"), `invalid DATE value`},
		{"bad boolean", prop("active", "BOOLEAN", "EXACTLY_MATCHES", "yes"), `invalid BOOLEAN value "yes" for property "active": want true or false`},
		{"no name", `<property-search-restriction><property><type>STRING</type></property><match-mode>NULL</match-mode></property-search-restriction>`, `property without a name`},
		{"blank name", prop("  ", "STRING", "EXACTLY_MATCHES", "x"), `property without a name`},
		{"no property", `<property-search-restriction><match-mode>NULL</match-mode></property-search-restriction>`, `property restriction without a property`},
		{"no match mode", pre + `email</name></property><value>x</value></property-search-restriction>`, `missing match-mode for property "email"`},
		{"no value", pre + `email</name></property><match-mode>CONTAINS</match-mode></property-search-restriction>`, `missing value for property "email" with match mode CONTAINS`},
		{"duplicate value", pre + `email</name></property><match-mode>CONTAINS</match-mode><value>a</value><value>b</value></property-search-restriction>`, `duplicate <value>`},
		{"duplicate mode spelling", pre + `email</name></property><match-mode>CONTAINS</match-mode><matchMode>NULL</matchMode><value>a</value></property-search-restriction>`, `duplicate <matchMode>`},
		{"element in value", pre + `email</name></property><match-mode>CONTAINS</match-mode><value>a<b/></value></property-search-restriction>`, `unexpected element <b> in a value`},
		{"text in container", `<property-search-restriction>junk</property-search-restriction>`, `unexpected text "junk"`},
		{"no logic", `<boolean-search-restriction><restrictions/></boolean-search-restriction>`, `missing boolean-logic`},
		{"bad logic", `<boolean-search-restriction boolean-logic="xor"/>`, `unknown boolean-logic "xor": want AND or OR`},
		{"unknown restriction kind", `<boolean-search-restriction boolean-logic="and"><restrictions><not-search-restriction/></restrictions></boolean-search-restriction>`, `in boolean-search-restriction/restrictions/not-search-restriction[1]: unknown restriction element <not-search-restriction>`},
		{"nested error path", `<boolean-search-restriction boolean-logic="and"><restrictions><null-search-restriction/>` + prop("active", "BOOLEAN", "EXACTLY_MATCHES", "1") + `</restrictions></boolean-search-restriction>`, `in boolean-search-restriction/restrictions/property-search-restriction[2]/value: invalid BOOLEAN value "1"`},
		{"unknown root", `<search/>`, `unknown restriction element <search>`},
		{"DOCTYPE", `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><null-search-restriction/>`, `<!DOCTYPE> is not allowed`},
		{"DOCTYPE after root", `<null-search-restriction/><!DOCTYPE r>`, `<!DOCTYPE> is not allowed`},
		{"undefined entity", pre + `email</name></property><match-mode>CONTAINS</match-mode><value>&xxe;</value></property-search-restriction>`, `malformed XML at line 1`},
		{"processing instruction", `<null-search-restriction><?php x?></null-search-restriction>`, `processing instruction <?php?> is not allowed`},
		{"late declaration", `<!-- c --><?xml version="1.0"?><null-search-restriction/>`, `processing instruction <?xml?> is not allowed`},
		{"trailing garbage", `<null-search-restriction/>x`, `trailing data after the root element`},
		{"second root", `<null-search-restriction/><null-search-restriction/>`, `trailing data after the root element`},
		{"text before root", `x<null-search-restriction/>`, `text before the root element`},
		{"unclosed", `<boolean-search-restriction boolean-logic="and"><restrictions>`, `malformed XML at line 1: unexpected EOF`},
		{"mismatched tags", `<null-search-restriction></x>`, `malformed XML`},
		{"only a comment", `<!-- x -->`, `no root element`},
		{"not XML", `{"restriction-type":"null-search-restriction"}`, `text before the root element`},
		{"latin-1", `<?xml version="1.0" encoding="ISO-8859-1"?><null-search-restriction/>`, `ISO-8859-1`},
		{"too deep", deep, `restrictions nested deeper than 32`},
		{"too many", many, `more than 1000 restrictions`},
		{"unknown elements too deep", deepUnknown, `elements nested deeper than`},
		{"echoed invalid UTF-8", "&\x8a ", `malformed XML at line 1: invalid character entity &\x8a (no semicolon)`},
		{"long element name", `<boolean-search-restriction boolean-logic="and"><restrictions><` + strings.Repeat("x", 1000) + `/></restrictions></boolean-search-restriction>`, `in …xxx`},
		{"too large", `<null-search-restriction>` + strings.Repeat(" ", MaxBodyBytes) + `</null-search-restriction>`, `body larger than 1048576 bytes`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseXML(strings.NewReader(tc.body))
			if r != nil {
				t.Errorf("got restriction %v with the error", r)
			}
			checkInvalid(t, err, "xml", tc.want)
			if len(err.Error()) > 600 {
				t.Errorf("error of %d bytes", len(err.Error()))
			}
		})
	}
}

func TestParseXMLLimitsInclusive(t *testing.T) {
	deep := strings.Repeat(`<boolean-search-restriction boolean-logic="and"><restrictions>`, MaxDepth-1) + `<null-search-restriction/>` +
		strings.Repeat(`</restrictions></boolean-search-restriction>`, MaxDepth-1)
	r, err := ParseXML(strings.NewReader(deep))
	if err != nil {
		t.Fatal(err)
	}
	if d, n := Stats(r); d != MaxDepth || n != MaxDepth {
		t.Errorf("Stats = %d, %d", d, n)
	}
	many := `<boolean-search-restriction boolean-logic="or"><restrictions>` + strings.Repeat(`<null-search-restriction/>`, MaxRestrictions-1) + `</restrictions></boolean-search-restriction>`
	if _, err := ParseXML(strings.NewReader(many)); err != nil {
		t.Fatal(err)
	}
}

func TestParseReadError(t *testing.T) {
	boom := errors.New("connection reset")
	for name, parse := range map[string]func(io.Reader) (Restriction, error){"xml": ParseXML, "json": ParseJSON} {
		_, err := parse(iotest.ErrReader(boom))
		if !errors.Is(err, boom) || errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v; want the read error, not ErrInvalid", name, err)
		}
	}
}

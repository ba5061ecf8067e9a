package restriction

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseJSONTestdata(t *testing.T) {
	for _, tc := range []struct {
		file string
		want string
	}{
		{"spec-null.json", `ALL`},
		{"spec-property-email.json", `email EXACTLY_MATCHES "bob@example.net"`},
		{"jira-test-connection.json", `name NULL`},
		{"spec-boolean-and.json", `(active:BOOLEAN EXACTLY_MATCHES "true" AND (name STARTS_WITH "bo" OR createdDate:DATE GREATER_THAN_OR_EQUAL "2020-01-02T03:04:05.000+0000") AND ALL)`},
		// Spec §13.5: the newer Swagger docs' camelCase, lower-case enums,
		// a JSON boolean and a JSON number as values.
		{"swagger-camelcase.json", `(email CONTAINS "example" OR active:BOOLEAN EXACTLY_MATCHES "true" OR employeeNumber EXACTLY_MATCHES "42")`},
		// Jackson's wrapper object, no type, snake_case, unknown "link".
		{"lenient-variants.json", `firstName STARTS_WITH "B"`},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r, err := ParseJSON(strings.NewReader(readTestdata(t, "json/"+tc.file)))
			if err != nil {
				t.Fatal(err)
			}
			if got := r.String(); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			again, err := ParseJSON(strings.NewReader(toJSON(r)))
			if err != nil || !reflect.DeepEqual(canon(again), canon(r)) {
				t.Errorf("round trip: %v, %v", again, err)
			}
		})
	}
}

// The same restriction in XML and JSON parses to the same tree.
func TestParseJSONAgreesWithXML(t *testing.T) {
	for _, name := range []string{"spec-property-email", "spec-boolean-and", "jira-test-connection"} {
		x, err := ParseXML(strings.NewReader(readTestdata(t, "xml/"+name+".xml")))
		if err != nil {
			t.Fatal(err)
		}
		j, err := ParseJSON(strings.NewReader(readTestdata(t, "json/"+name+".json")))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(x, j) {
			t.Errorf("%s: xml %v, json %v", name, x, j)
		}
	}
}

func TestParseJSON(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"empty body", ``, `ALL`},
		{"white space body", "\n\t ", `ALL`},
		{"BOM", "\xef\xbb\xbf{\"restriction-type\":\"null-search-restriction\"}", `ALL`},
		{"trailing white space", "{\"restriction-type\":\"NULL-SEARCH-RESTRICTION\"}\n\n", `ALL`},
		{"inferred property", `{"property":{"name":"email","type":"STRING"},"match-mode":"CONTAINS","value":"x"}`, `email CONTAINS "x"`},
		{"inferred boolean", `{"boolean-logic":"or","restrictions":[]}`, `(OR)`},
		{"G2-style boolean string", `{"restriction-type":"property-search-restriction","property":{"name":"active","type":"BOOLEAN"},"match-mode":"EXACTLY_MATCHES","value":"true"}`, `active:BOOLEAN EXACTLY_MATCHES "true"`},
		{"null value with NULL", `{"restriction-type":"property-search-restriction","property":{"name":"name","type":"STRING"},"match-mode":"NULL","value":null}`, `name NULL`},
		{"restrictions null", `{"restriction-type":"boolean-search-restriction","boolean-logic":"AND","restrictions":null}`, `(AND)`},
		{"unknown fields", `{"restriction-type":"null-search-restriction","expand":"x","link":{"href":"y"},"n":[1,2,{"a":[]}]}`, `ALL`},
		{"escaped value", `{"restriction-type":"property-search-restriction","property":{"name":"displayName","type":"STRING"},"match-mode":"CONTAINS","value":"a\nb\u00e9"}`, `displayName CONTAINS "a\nbé"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseJSON(strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if got := r.String(); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestParseJSONErrors(t *testing.T) {
	prop := func(name, typ, mode, value string) string {
		return `{"restriction-type":"property-search-restriction","property":{"name":"` + name + `","type":"` + typ + `"},"match-mode":"` + mode + `","value":"` + value + `"}`
	}
	deep := strings.Repeat(`{"restriction-type":"boolean-search-restriction","boolean-logic":"and","restrictions":[`, MaxDepth) +
		`{"restriction-type":"null-search-restriction"}` + strings.Repeat(`]}`, MaxDepth)
	many := `{"restriction-type":"boolean-search-restriction","boolean-logic":"or","restrictions":[` +
		strings.TrimSuffix(strings.Repeat(`{"restriction-type":"null-search-restriction"},`, MaxRestrictions), ",") + `]}`
	for _, tc := range []struct {
		name, body, want string
	}{
		{"unknown match mode", prop("email", "STRING", "LIKE", "x"), `in match-mode: unknown match mode "LIKE" for property "email"`},
		{"unknown type", prop("email", "LONG", "EXACTLY_MATCHES", "x"), `in property/type: unknown type "LONG" for property "email"`},
		{"bad date", prop("createdDate", "DATE", "LESS_THAN", "yesterday"), `invalid DATE value "yesterday" for property "createdDate"`},
		{"bad boolean", prop("active", "BOOLEAN", "EXACTLY_MATCHES", "1"), `invalid BOOLEAN value "1" for property "active"`},
		{"number for date", `{"restriction-type":"property-search-restriction","property":{"name":"createdDate","type":"DATE"},"match-mode":"LESS_THAN","value":1549025872000}`, `invalid DATE value "1549025872000"`},
		{"no name", `{"restriction-type":"property-search-restriction","property":{"type":"STRING"},"match-mode":"NULL"}`, `property without a name`},
		{"name not a string", `{"restriction-type":"property-search-restriction","property":{"name":1},"match-mode":"NULL"}`, `in property.name: want a string, got a number`},
		{"property not an object", `{"restriction-type":"property-search-restriction","property":"email","match-mode":"NULL"}`, `want a property object`},
		{"no property", `{"restriction-type":"property-search-restriction","match-mode":"NULL"}`, `property restriction without a property`},
		{"no value", `{"restriction-type":"property-search-restriction","property":{"name":"email"},"match-mode":"CONTAINS"}`, `missing value for property "email" with match mode CONTAINS`},
		{"value object", `{"restriction-type":"property-search-restriction","property":{"name":"email"},"match-mode":"CONTAINS","value":{}}`, `in value: want a string, number or boolean value, got an object`},
		{"duplicate spellings", `{"restriction-type":"property-search-restriction","property":{"name":"email"},"match-mode":"CONTAINS","matchMode":"NULL","value":"x"}`, `both "match-mode" and "matchMode" given`},
		{"unknown restriction type", `{"restriction-type":"not-search-restriction"}`, `in restriction-type: unknown restriction-type "not-search-restriction"`},
		{"restriction type not a string", `{"restriction-type":3}`, `want a string, got a number`},
		{"no restriction type", `{"value":"x"}`, `missing restriction-type`},
		{"empty object", `{}`, `missing restriction-type`},
		{"ambiguous shape", `{"property":{"name":"x"},"restrictions":[]}`, `missing restriction-type`},
		{"no logic", `{"restriction-type":"boolean-search-restriction","restrictions":[]}`, `missing boolean-logic`},
		{"bad logic", `{"restriction-type":"boolean-search-restriction","boolean-logic":"nand"}`, `unknown boolean-logic "nand"`},
		{"restrictions not an array", `{"restriction-type":"boolean-search-restriction","boolean-logic":"and","restrictions":{}}`, `want an array of restrictions, got an object`},
		{"nested error path", `{"restriction-type":"boolean-search-restriction","boolean-logic":"and","restrictions":[{"restriction-type":"null-search-restriction"},` + prop("active", "BOOLEAN", "EXACTLY_MATCHES", "no") + `]}`, `in restrictions[1].value: invalid BOOLEAN value "no"`},
		{"member not an object", `{"restriction-type":"boolean-search-restriction","boolean-logic":"and","restrictions":["x"]}`, `in restrictions[0]: want a restriction object, got a string`},
		{"top-level array", `[]`, `want a restriction object, got an array`},
		{"top-level null", `null`, `want a restriction object, got null`},
		{"malformed", `{"restriction-type":`, `malformed JSON`},
		{"syntax error", `{"a" 1}`, `malformed JSON at byte`},
		{"trailing garbage", `{"restriction-type":"null-search-restriction"} x`, `trailing data after the JSON object`},
		{"two objects", `{"restriction-type":"null-search-restriction"}{}`, `trailing data after the JSON object`},
		{"XML body", `<null-search-restriction/>`, `malformed JSON`},
		{"too deep", deep, `restrictions nested deeper than 32`},
		{"too many", many, `more than 1000 restrictions`},
		{"too large", `{"x":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, `body larger than`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseJSON(strings.NewReader(tc.body))
			if r != nil {
				t.Errorf("got restriction %v with the error", r)
			}
			checkInvalid(t, err, "json", tc.want)
		})
	}
}

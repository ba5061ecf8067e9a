package restriction

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// bob is a sample user. phone is a multi-valued custom attribute; enabled,
// since and nick are custom attributes whose strings convert to a boolean,
// a date and nothing.
var bob = MapEntity{
	KeyName:        StringValue("Bob"),
	KeyEmail:       StringValue("bob@Example.net"),
	KeyFirstName:   StringValue("Bob"),
	KeyLastName:    StringValue("Smith"),
	KeyDisplayName: StringValue("Bob Smith"),
	KeyActive:      BoolValue(true),
	KeyExternalID:  StringValue(""),
	KeyCreatedDate: TimeValue(time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)),
	KeyUpdatedDate: TimeValue(time.Time{}),
	"phone":        StringsValue([]string{"555-1234", "555-9999"}),
	"empty":        StringsValue(nil),
	"enabled":      StringValue("TRUE"),
	"since":        StringValue("2019-05-01T00:00:00Z"),
	"nick":         StringValue("bobby"),
}

// admins is a sample group.
var admins = MapEntity{
	KeyName:        StringValue("jira-administrators"),
	KeyDescription: StringValue("Jira admins"),
	KeyActive:      BoolValue(false),
	KeyLocal:       BoolValue(true),
	KeyCreatedDate: TimeValue(time.Date(2010, 6, 1, 0, 0, 0, 0, time.UTC)),
}

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkInvalid asserts err is an *Error wrapping ErrInvalid for the
// syntax, whose Detail contains want.
func checkInvalid(t *testing.T, err error, syntax, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v does not wrap ErrInvalid", err)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is a %T, not an *Error", err, err)
	}
	if e.Syntax != syntax {
		t.Errorf("Syntax %q, want %q", e.Syntax, syntax)
	}
	if !strings.Contains(e.Detail(), want) {
		t.Errorf("Detail %q does not contain %q", e.Detail(), want)
	}
	if !strings.HasPrefix(err.Error(), ErrInvalid.Error()) || strings.ContainsAny(err.Error(), "\n\r") {
		t.Errorf("Error() = %q", err.Error())
	}
}

// toXML writes r the way the Java client would, for round trips.
func toXML(r Restriction) string {
	var b strings.Builder
	writeXML(&b, r)
	return b.String()
}

func xmlText(b *strings.Builder, s string) {
	if err := xml.EscapeText(b, []byte(s)); err != nil {
		panic(err)
	}
}

func writeXML(b *strings.Builder, r Restriction) {
	switch r := r.(type) {
	case Null:
		b.WriteString("<null-search-restriction/>")
	case Property:
		b.WriteString("<property-search-restriction><property><name>")
		xmlText(b, r.Name)
		b.WriteString("</name><type>" + r.Type.String() + "</type></property><match-mode>" + r.Mode.String() + "</match-mode>")
		if r.Mode != IsNull {
			b.WriteString("<value>")
			xmlText(b, r.Value)
			b.WriteString("</value>")
		}
		b.WriteString("</property-search-restriction>")
	case Boolean:
		b.WriteString(`<boolean-search-restriction boolean-logic="` + r.Logic.String() + `"><restrictions>`)
		for _, c := range r.Restrictions {
			writeXML(b, c)
		}
		b.WriteString("</restrictions></boolean-search-restriction>")
	default:
		panic("unknown restriction")
	}
}

// toJSON writes r in Crowd's JSON form, for round trips.
func toJSON(r Restriction) string {
	b, err := json.Marshal(jsonOf(r))
	if err != nil {
		panic(err)
	}
	return string(b)
}

func jsonOf(r Restriction) map[string]any {
	switch r := r.(type) {
	case Null:
		return map[string]any{"restriction-type": "null-search-restriction"}
	case Property:
		m := map[string]any{
			"restriction-type": "property-search-restriction",
			"property":         map[string]any{"name": r.Name, "type": r.Type.String()},
			"match-mode":       r.Mode.String(),
		}
		if r.Mode != IsNull {
			m["value"] = r.Value
		}
		return m
	case Boolean:
		list := []any{}
		for _, c := range r.Restrictions {
			list = append(list, jsonOf(c))
		}
		return map[string]any{"restriction-type": "boolean-search-restriction", "boolean-logic": r.Logic.String(), "restrictions": list}
	}
	panic("unknown restriction")
}

// canon makes restrictions comparable with ==-based DeepEqual: an empty
// Boolean list is nil.
func canon(r Restriction) Restriction {
	if b, ok := r.(Boolean); ok {
		var list []Restriction
		for _, c := range b.Restrictions {
			list = append(list, canon(c))
		}
		return Boolean{Logic: b.Logic, Restrictions: list}
	}
	return r
}

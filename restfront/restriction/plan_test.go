package restriction

import "testing"

func TestExact(t *testing.T) {
	for _, tc := range []struct {
		cql   string
		key   string
		value string
		ok    bool
	}{
		{`email="bob@x"`, KeyEmail, "bob@x", true},
		{`email="bob@x"`, KeyName, "", false},
		{`name=Bob`, KeyName, "Bob", true},
		{`NAME=Bob`, KeyName, "Bob", true},
		{`name=Bob*`, KeyName, "", false},
		{`name="*Bob*"`, KeyName, "", false},
		{`name<Bob`, KeyName, "", false},
		{`firstName = "bob" and email = "bob@example.net"`, KeyEmail, "bob@example.net", true},
		{`active=true and (createdDate > 2020 and name=x)`, KeyName, "x", true},
		{`name=x or name=y`, KeyName, "", false},
		{`name=x or active=true`, KeyName, "", false},
		{`(name=x)`, KeyName, "x", true},
		{``, KeyName, "", false},
	} {
		r, err := ParseCQL(tc.cql)
		if err != nil {
			t.Fatal(err)
		}
		v, ok := Exact(r, tc.key)
		if v != tc.value || ok != tc.ok {
			t.Errorf("Exact(%s, %s) = %q, %v", tc.cql, tc.key, v, ok)
		}
	}
	single := Boolean{Logic: Or, Restrictions: []Restriction{&Property{Name: KeyName, Type: TypeString, Mode: ExactlyMatches, Value: "x"}}}
	if v, ok := Exact(&single, KeyName); v != "x" || !ok {
		t.Errorf("single-member Or: %q, %v", v, ok)
	}
	typed := Property{Name: KeyName, Type: TypeBoolean, Mode: ExactlyMatches, Value: "true", Bool: true}
	if _, ok := Exact(typed, KeyName); ok {
		t.Error("a BOOLEAN property gave a hint")
	}
	if _, ok := Exact(nil, KeyName); ok {
		t.Error("nil gave a hint")
	}
}

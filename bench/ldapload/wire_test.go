package ldapload

import (
	"bytes"
	"strings"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	goldap "github.com/go-ldap/ldap/v3"
)

// message builds an LDAPMessage the way go-ldap does.
func berMessage(id int64, op *ber.Packet, controls ...goldap.Control) []byte {
	p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Request")
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "MessageID"))
	p.AppendChild(op)
	if len(controls) > 0 {
		c := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "Controls")
		for _, control := range controls {
			c.AppendChild(control.Encode())
		}
		p.AppendChild(c)
	}
	return p.Bytes()
}

// TestRequestsAsGoLDAP: the epoll engine's requests are byte for byte
// what go-ldap's encoder makes of them, short and long.
func TestRequestsAsGoLDAP(t *testing.T) {
	long := strings.Repeat("x", 70000) // a length in three octets
	for _, tc := range []struct{ dn, password string }{
		{"uid=user1,ou=people,dc=example,dc=com", "secret"},
		{"", "p"},
		{"cn=" + long, strings.Repeat("p", 200)},
	} {
		for _, id := range []int32{1, 127, 128, 255, 256, 1 << 20, 1<<31 - 1} {
			bind := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ber.Tag(0), nil, "Bind Request")
			bind.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 3, "Version"))
			bind.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, tc.dn, "User Name"))
			bind.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, tc.password, "Password"))
			if got, want := appendBindRequest([]byte("prefix"), id, tc.dn, tc.password), append([]byte("prefix"), berMessage(int64(id), bind)...); !bytes.Equal(got, want) {
				t.Fatalf("bind %d as %.40s: %x, go-ldap %x", id, tc.dn, got[:min(len(got), 64)], want[:min(len(want), 64)])
			}
		}
	}

	paging := goldap.NewControlPaging(100)
	for _, s := range []Search{
		{Base: "dc=example,dc=com", Scope: goldap.ScopeWholeSubtree, Attributes: []string{"uid", "cn", "mail", "memberOf"},
			Filter: func(*Iter) string { return "(&(objectClass=inetOrgPerson)(uid=user00042))" }},
		{Base: "", Filter: nil, SizeLimit: 500, Controls: []goldap.Control{paging}},
		{Base: "ou=groups,dc=example,dc=com", Scope: goldap.ScopeSingleLevel, Attributes: []string{long},
			Filter: func(*Iter) string { return "(|(cn=a*b*c)(!(member=*))(memberOf:1.2.840.113556.1.4.1941:=cn=g,dc=x))" }},
	} {
		base, filter := s.request(nil)
		req := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ber.Tag(3), nil, "Search Request")
		req.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, base, "Base DN"))
		req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, uint64(s.Scope), "Scope"))
		req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, uint64(goldap.NeverDerefAliases), "Deref Aliases"))
		req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, uint64(s.SizeLimit), "Size Limit"))
		req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, uint64(0), "Time Limit"))
		req.AppendChild(ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, false, "Types Only"))
		f, err := goldap.CompileFilter(filter)
		if err != nil {
			t.Fatal(err)
		}
		req.AppendChild(f)
		attrs := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Attributes")
		for _, a := range s.Attributes {
			attrs.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a, "Attribute"))
		}
		req.AppendChild(attrs)
		got, err := s.appendRequest(nil, 9, nil, &rawResult{})
		if err != nil {
			t.Fatal(err)
		}
		if want := berMessage(9, req, s.Controls...); !bytes.Equal(got, want) {
			t.Fatalf("search %s: %x, go-ldap %x", filter, got[:min(len(got), 80)], want[:min(len(want), 80)])
		}
	}
	bad := Search{Filter: func(*Iter) string { return "(uid=x" }}
	if _, err := bad.appendRequest(nil, 1, nil, &rawResult{}); err == nil || !strings.Contains(err.Error(), "(uid=x") {
		t.Errorf("a bad filter: %v", err)
	}
}

// TestParseMessage: every prefix of an answer is incomplete, the whole one
// is found with its ID, op and result; malformed ones are errors.
func TestParseMessage(t *testing.T) {
	result := func(app ber.Tag, code int64, diag string) *ber.Packet {
		r := ber.Encode(ber.ClassApplication, ber.TypeConstructed, app, nil, "Result")
		r.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, code, "Code"))
		r.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "Matched DN"))
		r.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, diag, "Diagnostic"))
		return r
	}
	for _, tc := range []struct {
		msg  []byte
		id   int64
		op   byte
		code int
		diag string
	}{
		{berMessage(7, result(1, 49, "invalid credentials")), 7, appBindResponse, 49, "invalid credentials"},
		{berMessage(300, result(5, 0, strings.Repeat("d", 300))), 300, appSearchDone, 0, strings.Repeat("d", 300)},
		{berMessage(1<<31-1, result(5, 4, "")), 1<<31 - 1, appSearchDone, 4, ""},
	} {
		for i := range len(tc.msg) {
			if m, err := parseMessage(tc.msg[:i]); m.total != 0 || err != nil {
				t.Fatalf("prefix of %d bytes: %+v, %v", i, m, err)
			}
		}
		m, err := parseMessage(append(tc.msg, 0x30, 0x05))
		if err != nil || m.total != len(tc.msg) || m.id != tc.id || m.op != tc.op {
			t.Fatalf("%x: %+v, %v", tc.msg, m, err)
		}
		code, diag, err := parseResult(m.body)
		if err != nil || code != tc.code || diag != tc.diag {
			t.Fatalf("result: %d %q %v", code, diag, err)
		}
	}
	for _, bad := range [][]byte{
		{0x04, 0x00},                   // not a SEQUENCE
		{0x30, 0x80},                   // indefinite length
		{0x30, 0x85, 1, 1, 1, 1, 1},    // five length octets
		{0x30, 0x84, 0x7f, 0, 0, 0},    // 2 GiB
		{0x30, 0x03, 0x04, 0x01, 0x01}, // no messageID
		{0x30, 0x03, 0x02, 0x01, 0x01}, // no protocol op
	} {
		if _, err := parseMessage(bad); err == nil {
			t.Errorf("%x: no error", bad)
		}
	}
	if _, _, err := parseResult([]byte{0x04, 0x00}); err == nil {
		t.Error("a result without a code: no error")
	}
}

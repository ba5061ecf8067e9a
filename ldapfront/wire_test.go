package ldapfront

import (
	"strings"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	goldap "github.com/go-ldap/ldap/v3"
)

func TestWireEncoding(t *testing.T) {
	if !rawWriteUsable || !netConnUsable {
		t.Fatal("gldap's internal layout changed: the raw writer or the connection accessor is unavailable")
	}
	long := strings.Repeat("x", 70_000)
	var b berBuf
	b.beginEntry(300, "uid=alice,ou=users,dc=example,dc=com")
	b.attr("cn", []string{"Alice", strings.Repeat("y", 200)})
	b.attr("description", []string{long})
	b.attr("empty", nil)
	b.endEntry()
	b.done(300, 4, "ou=users", "size limit exceeded", &pagingResponse{cookie: "abc"})

	p, err := ber.DecodePacketErr(b.b)
	if err != nil {
		t.Fatal(err)
	}
	if id := p.Children[0].Value.(int64); id != 300 {
		t.Fatalf("message ID %d", id)
	}
	e := p.Children[1]
	if e.Tag != goldap.ApplicationSearchResultEntry || e.Children[0].Value.(string) != "uid=alice,ou=users,dc=example,dc=com" {
		t.Fatalf("entry %v", e.Tag)
	}
	attrs := e.Children[1].Children
	if len(attrs) != 3 || attrs[0].Children[1].Children[1].Value.(string) != strings.Repeat("y", 200) ||
		attrs[1].Children[1].Children[0].Value.(string) != long || len(attrs[2].Children[1].Children) != 0 {
		t.Fatal("attributes do not decode")
	}
	rest := b.b[len(p.Bytes()):]
	d, err := ber.DecodePacketErr(rest)
	if err != nil {
		t.Fatal(err)
	}
	res := d.Children[1]
	if res.Tag != goldap.ApplicationSearchResultDone || res.Children[0].Value.(int64) != 4 ||
		res.Children[1].Value.(string) != "ou=users" || res.Children[2].Value.(string) != "size limit exceeded" {
		t.Fatalf("done %v", res)
	}
	ctrl, err := goldap.DecodeControl(d.Children[2].Children[0])
	if err != nil {
		t.Fatal(err)
	}
	if pc, ok := ctrl.(*goldap.ControlPaging); !ok || string(pc.Cookie) != "abc" {
		t.Fatalf("paging control %v", ctrl)
	}
	for _, v := range []int64{0, 1, 127, 128, 255, 256, 65535, 1 << 31, -1} {
		var x berBuf
		x.int(tagInteger, v)
		if got := ber.DecodePacket(x.b).Value.(int64); got != v {
			t.Errorf("integer %d decodes as %d", v, got)
		}
	}
}

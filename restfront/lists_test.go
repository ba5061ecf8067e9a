package restfront

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"testing"
)

var trickyNames = []string{
	"alice", "Ünïcödé", `a"b'c`, "a&b<c>d", "tab\there", "new\nline\r", "nul\x00", "bad\xffutf8", "\uFFFE\uFFFF",
	"emoji 🙂", "sp ace+plus", "%41", "", "ctl\x01\x1f", "\uFFFD",
}

// TestMinimalEntries: the hand-written minimal list entries are byte for
// byte what encoding/xml makes of the entity types.
func TestMinimalEntries(t *testing.T) {
	v := &view{app: &application{}, base: "http://h:1/rest/usermanagement/1"}
	for _, users := range []bool{false, true} {
		for _, name := range trickyNames {
			var want bytes.Buffer
			var err error
			if users {
				err = xml.NewEncoder(&want).Encode(&v.userMinimal(name).x)
			} else {
				err = xml.NewEncoder(&want).Encode(&v.groupMinimal(name).x)
			}
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			bw := bufio.NewWriter(&got)
			lw := &listWriter{q: &request{v: v}, bw: bw, users: users}
			lw.minimal(name)
			bw.Flush()
			if got.String() != want.String() {
				t.Errorf("users=%v %q:\n got %s\nwant %s", users, name, got.String(), want.String())
			}
		}
	}
}

func FuzzWriteXMLAttr(f *testing.F) {
	for _, n := range trickyNames {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want bytes.Buffer
		if err := xml.NewEncoder(&want).Encode(struct {
			XMLName xml.Name `xml:"x"`
			A       string   `xml:"a,attr"`
		}{A: s}); err != nil {
			return
		}
		var got bytes.Buffer
		bw := bufio.NewWriter(&got)
		bw.WriteString(`<x a="`)
		writeXMLAttr(bw, s)
		bw.WriteString(`"></x>`)
		bw.Flush()
		if got.String() != want.String() {
			t.Fatalf("%q: got %s want %s", s, got.String(), want.String())
		}
	})
}

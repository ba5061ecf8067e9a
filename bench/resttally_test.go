package bench

import (
	"strings"
	"testing"
)

// TestTally: the streaming counter finds every element whatever the
// write boundaries.
func TestTally(t *testing.T) {
	doc := `<memberships><membership group="a"><users><user name="x"/><user name="y"/></users>` +
		`<groups><group name="b"/></groups></membership><users expand="user"><user name="z"/></memberships>`
	want := []int64{1, 3, 1}
	for size := 1; size <= len(doc); size++ {
		tl := newTally("<membership ", "<user ", "<group ")
		for i := 0; i < len(doc); i += size {
			tl.Write([]byte(doc[i:min(i+size, len(doc))]))
		}
		if tl.n != int64(len(doc)) {
			t.Fatalf("chunks of %d: %d bytes, want %d", size, tl.n, len(doc))
		}
		for i, w := range want {
			if tl.counts[i] != w {
				t.Fatalf("chunks of %d: %d of %q, want %d", size, tl.counts[i], tl.pats[i], w)
			}
		}
	}
	if n := strings.Count(doc, "<user "); n != 3 {
		t.Fatalf("the document has %d users", n)
	}
}

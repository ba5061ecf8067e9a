package restfront

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// discardWriter is a ResponseWriter that keeps nothing.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkNestedGroupsHandler measures our part of GET /user/group/nested
// (application auth, routing, the lookup, the list), without the network
// and net/http's request parsing: allocations here are what the GC pays
// for per request on top of net/http's.
func BenchmarkNestedGroupsHandler(b *testing.B) {
	e := newEnv(b)
	h := e.srv.Handler()
	r := httptest.NewRequest("GET", "http://dirgate/rest/usermanagement/1/user/group/nested?username=alice&max-results=-1", nil)
	r.RemoteAddr = "127.0.0.1:50000"
	r.SetBasicAuth("jira", "jira-pw")
	r.Header.Set("Accept", "application/xml")
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, r)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}

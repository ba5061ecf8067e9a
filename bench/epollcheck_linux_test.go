package bench

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestParseResponse: every prefix of a response is incomplete, the whole
// one is found with its status and body size, in both framings.
func TestParseResponse(t *testing.T) {
	for _, tc := range []struct {
		resp   string
		status int
		size   int64
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhello", 200, 5},
		{"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n", 404, 0},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n", 200, 31},
	} {
		for i := range len(tc.resp) {
			if total, _, _, err := parseResponse([]byte(tc.resp[:i])); total != 0 || err != nil {
				t.Fatalf("%q: prefix of %d bytes: total %d, error %v", tc.resp, i, total, err)
			}
		}
		total, status, size, err := parseResponse([]byte(tc.resp + "HTTP/1.1"))
		if err != nil || total != len(tc.resp) || status != tc.status || size != tc.size {
			t.Fatalf("%q: total %d status %d size %d error %v", tc.resp, total, status, size, err)
		}
	}
	for _, bad := range []string{
		"HTTP/1.0 200 OK\r\n\r\n",
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	} {
		if _, _, _, err := parseResponse([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestRunEpoll: the generator counts every response of a real net/http
// server, large (chunked) and small, and counts other statuses as errors.
func TestRunEpoll(t *testing.T) {
	big := strings.Repeat("x", 10000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Basic abc" {
			http.Error(w, "who", http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/api/big":
			w.Write([]byte(big)) // over net/http's buffer: chunked
		case "/api/small":
			w.Write([]byte("small"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	r, err := runEpoll(srv.URL+"/api", "Basic abc", 4, []string{"/big", "/small"}, 50*time.Millisecond, 200*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.ok < 10 || r.errs != 0 {
		t.Fatalf("%d responses, %d errors (%v)", r.ok, r.errs, r.firstErr)
	}
	if r.bytes%5 != 0 || r.bytes < 5*r.ok || r.bytes > 10000*r.ok {
		t.Fatalf("%d responses of %d bytes in all", r.ok, r.bytes)
	}
	if r.hist.Count() != r.ok {
		t.Fatalf("%d latencies for %d responses", r.hist.Count(), r.ok)
	}
	r, err = runEpoll(srv.URL+"/api", "Basic abc", 2, []string{"/none"}, 0, 100*time.Millisecond, 0)
	if err != nil || r.ok != 0 || r.errs == 0 || !strings.Contains(r.firstErr.Error(), "404") {
		t.Fatalf("404s: %d ok, %d errors (%v), %v", r.ok, r.errs, r.firstErr, err)
	}
	// Open loop: at most rate × (warm-up + duration) requests, however fast
	// the server answers (a closed loop would make thousands).
	r, err = runEpoll(srv.URL+"/api", "Basic abc", 4, []string{"/small"}, 20*time.Millisecond, 500*time.Millisecond, 1000)
	if err != nil || r.errs != 0 || r.ok < 250 || r.ok > 520 {
		t.Fatalf("1000/s for 0.5 s: %d responses, %d errors (%v), %v", r.ok, r.errs, r.firstErr, err)
	}
}

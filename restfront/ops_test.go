package restfront

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dirgate/dirgate/cache"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestOperationsEndpoints: /healthz always, /readyz once every upstream
// has synced (or has cached state), /metrics with requests by route and
// status, authentication outcomes and per-upstream figures; none of them
// needs application credentials, and the admin API is not here.
func TestOperationsEndpoints(t *testing.T) {
	store, err := cache.Open(cache.Options{InMemory: true, Upstreams: []string{"staff", "internal"}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewUpstreamCollector(store))
	srv, err := New(context.Background(), Config{Listen: "127.0.0.1:0",
		Applications: []Application{{Name: "jira", PasswordHash: cheapHash(t, "jira-pw"), RemoteAddresses: []string{"127.0.0.1"}}},
		Metrics:      NewMetrics(reg), MetricsHandler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
	}, store)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	root := "http://" + srv.Addr()

	if st, body := get(t, root+"/healthz"); st != 200 || body != "ok\n" {
		t.Fatalf("healthz: %d %q", st, body)
	}
	if st, body := get(t, root+"/readyz"); st != http.StatusServiceUnavailable || !strings.Contains(body, "staff, internal") {
		t.Fatalf("readyz before any sync: %d %q", st, body)
	}
	if _, err := store.ApplySync(context.Background(), "staff", staffRecords(), cache.SyncOptions{MaxDeletePercent: 100}); err != nil {
		t.Fatal(err)
	}
	if st, body := get(t, root+"/readyz"); st != http.StatusServiceUnavailable || !strings.Contains(body, "internal") || strings.Contains(body, "staff") {
		t.Fatalf("readyz with internal pending: %d %q", st, body)
	}
	if _, err := store.Apply(context.Background(), "internal", cache.Changes{MarkSynced: true}); err != nil {
		t.Fatal(err)
	}
	if st, body := get(t, root+"/readyz"); st != 200 {
		t.Fatalf("readyz after the syncs: %d %q", st, body)
	}

	api := root + "/rest/usermanagement/1"
	for _, c := range []struct{ app, path string }{
		{"jira:jira-pw", "/user?username=alice"}, {"jira:jira-pw", "/user?username=nobody"},
		{"jira:wrong", "/user?username=alice"}, {"", "/user?username=alice"},
	} {
		req, _ := http.NewRequest("GET", api+c.path, nil)
		if name, pw, ok := strings.Cut(c.app, ":"); ok {
			req.SetBasicAuth(name, pw)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	req, _ := http.NewRequest("POST", api+"/authentication?username=alice", strings.NewReader("<password><value>nope</value></password>"))
	req.SetBasicAuth("jira", "jira-pw")
	req.Header.Set("Content-Type", "application/xml")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}

	st, metrics := get(t, root+"/metrics")
	if st != 200 {
		t.Fatalf("metrics: %d", st)
	}
	for _, want := range []string{
		`dirgate_rest_requests_total{route="/rest/usermanagement/1/user",status="200"} 1`,
		`dirgate_rest_requests_total{route="/rest/usermanagement/1/user",status="404"} 1`,
		`dirgate_rest_application_auth_failures_total{reason="wrong_password"} 1`,
		`dirgate_rest_application_auth_failures_total{reason="no_credentials"} 1`,
		`dirgate_rest_request_duration_seconds_count{route="/rest/usermanagement/1/user"} 4`,
		`dirgate_upstream_users{upstream="staff"} 3`,
		`dirgate_upstream_groups{upstream="staff"} 4`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if !strings.Contains(metrics, `dirgate_rest_user_authentications_total{outcome=`) {
		t.Errorf("metrics lack user authentication outcomes:\n%s", metrics)
	}
	// The admin API lives on the unix socket only.
	for _, p := range []string{"/v1/status", "/v1/users", "/debug/pprof/"} {
		if st, _ := get(t, root+p); st != http.StatusNotFound {
			t.Errorf("%s on the REST listener: %d", p, st)
		}
	}
}

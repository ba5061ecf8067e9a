package access

import (
	"context"
	"testing"

	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/upstream"
	"github.com/dirgate/dirgate/upstream/access/accessfake"
)

// minFullSyncRequests is the fewest requests the Admin API allows for a
// full sync of users accounts and groups groups at pageSize a page: every
// user page (memberships come with the users, expand=groups), every group
// page (empty groups appear nowhere else), and, with events on, the one
// events-stream request that fixes the position incremental syncs resume
// from.
func minFullSyncRequests(users, groups, pageSize int, events bool) int {
	n := max(1, (users+pageSize-1)/pageSize) + max(1, (groups+pageSize-1)/pageSize)
	if events {
		n++
	}
	return n
}

// bigOrg is the benchmark's organization: 10,000 users and 500 groups on
// a fake sharing the upstream's fake clock (so that the events pacer does
// not make back-to-back syncs wait), both closed when tb ends.
func bigOrg(tb testing.TB) (*accessfake.Dataset, *accessfake.Server, *Upstream) {
	tb.Helper()
	data := accessfake.Generate(1, 10000, 500)
	clock := accessfake.NewClock(t0)
	fake := accessfake.New(accessfake.Options{Clock: clock, Data: data})
	tb.Cleanup(fake.Close)
	up, err := Open("org", Config{BaseURL: fake.URL, OrgID: fake.OrgID, APIKey: secret.String(fake.APIKey)}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { up.Close() })
	up.setClock(clock)
	return data, fake, up
}

// BenchmarkFullSync syncs a 10,000-user, 500-group organization from the
// fake and reports the requests it made against the minimum. It fails if
// a sync makes more than 10% more requests than that; time is reported,
// never asserted. The fake and the client share a fake clock, so the
// events pacer (one request per 6.5 s) does not make back-to-back
// iterations wait: the time is the sync's own work (HTTP on loopback, JSON
// both ways, the fake's serving included).
func BenchmarkFullSync(b *testing.B) {
	data, fake, up := bigOrg(b)
	var wantUsers int
	for _, u := range data.Users {
		if u.AccountType != "app" {
			wantUsers++
		}
	}
	minimum := minFullSyncRequests(len(data.Users), len(data.Groups), DefaultPageSize, true)
	fake.ResetStats()
	b.ReportAllocs()
	for b.Loop() {
		res, err := up.Sync(context.Background(), upstream.SyncRequest{Full: true})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Users) != wantUsers || len(res.Groups) != len(data.Groups) {
			b.Fatalf("synced %d users and %d groups, want %d and %d", len(res.Users), len(res.Groups), wantUsers, len(data.Groups))
		}
	}
	st := fake.Stats()
	perOp := float64(st.Total) / float64(b.N)
	b.ReportMetric(perOp, "requests/op")
	b.ReportMetric(float64(minimum), "min-requests/op")
	b.ReportMetric(float64(data.Memberships()), "memberships")
	if perOp > 1.1*float64(minimum) {
		b.Fatalf("a full sync made %.1f requests (%v); the API allows %d: more than 10%% over", perOp, st.Requests, minimum)
	}
}

// TestFullSyncRequestsNearMinimum is the benchmark's request count as a
// test: one full sync of the 10,000-user organization stays within 10% of
// the fewest requests the API allows.
func TestFullSyncRequestsNearMinimum(t *testing.T) {
	data, fake, up := bigOrg(t)
	res, err := up.Sync(context.Background(), upstream.SyncRequest{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	minimum := minFullSyncRequests(len(data.Users), len(data.Groups), DefaultPageSize, true)
	st := fake.Stats()
	t.Logf("%d users, %d groups: %d requests, minimum %d", len(res.Users), len(res.Groups), st.Total, minimum)
	if len(res.Users) < 9000 || len(res.Groups) != 500 {
		t.Fatalf("synced %d users, %d groups", len(res.Users), len(res.Groups))
	}
	if float64(st.Total) > 1.1*float64(minimum) {
		t.Errorf("%d requests (%v), more than 10%% over the minimum %d", st.Total, st.Requests, minimum)
	}
}

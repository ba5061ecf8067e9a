package jiracloud

import (
	"context"
	"testing"

	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/upstream"
	"github.com/dirgate/dirgate/upstream/jiracloud/jirafake"
)

// bigSite is the benchmark's site (jirafake.Big) and an upstream on it
// without the pacer: the time measured is dirgate's work and the fake's,
// and the request count needs no waiting. Both close when tb ends.
func bigSite(tb testing.TB) (*jirafake.Fake, *Upstream) {
	tb.Helper()
	f := jirafake.Start(tb, jirafake.Big(), jirafake.Options{})
	up, err := Open("cloud", Config{URL: f.URL(), Email: f.ServiceEmail(), APIToken: secret.String(f.ServiceToken())}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { up.Close() })
	up.api.MinInterval = 0
	return f, up
}

// BenchmarkFullSync syncs the 10,000-account, 500-group site of
// jirafake.Big from the in-process fake with the default settings (pages of
// 1000 users, the fake's caps of 1000 and 50, four requests in flight) but
// without the pacer (10 requests a second would make every sync last two
// minutes whatever dirgate does). It
// reports the HTTP requests per sync next to the fewest the API allows for
// this data, and fails when a sync needs more than 10% over that minimum: a
// property of the pagination, not a timing.
func BenchmarkFullSync(b *testing.B) {
	f, up := bigSite(b)
	ctx := context.Background()
	// The first sync checks the credential (four requests, once).
	res, err := up.Sync(ctx, upstream.SyncRequest{Full: true})
	if err != nil {
		b.Fatal(err)
	}
	users, bulk, members := minRequests(f, DefaultPageSize)
	minimum := users + bulk + members
	f.ResetCounts()
	n := 0
	b.ResetTimer()
	for b.Loop() {
		if res, err = up.Sync(ctx, upstream.SyncRequest{Full: true}); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.StopTimer()
	per := float64(f.Requests(jirafake.AnyEndpoint)) / float64(n)
	b.ReportMetric(per, "requests/op")
	b.ReportMetric(float64(minimum), "min-requests/op")
	b.ReportMetric(float64(len(res.Users)), "users")
	b.ReportMetric(float64(len(res.Groups)), "groups")
	b.Logf("%d accounts, %d groups, %d memberships: %.0f requests per sync; minimum %d (users/search %d incl. the empty page, group/bulk %d, group/member %d)",
		up.LastSync().Accounts, len(res.Groups), up.LastSync().Memberships, per, minimum, users, bulk, members)
	if per > 1.1*float64(minimum) {
		b.Fatalf("%.0f requests per sync, more than 10%% over the minimum %d", per, minimum)
	}
}

// TestFullSyncRequestsNearMinimum is the benchmark's request count as a
// test: one full sync of the 10,000-account site stays within 10% of the
// fewest requests the API allows.
func TestFullSyncRequestsNearMinimum(t *testing.T) {
	f, up := bigSite(t)
	res, err := up.Sync(context.Background(), upstream.SyncRequest{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	users, bulk, members := minRequests(f, DefaultPageSize)
	const checks = 4 // the credential and permission checks of a first sync
	minimum := users + bulk + members + checks
	got := f.Requests(jirafake.AnyEndpoint)
	t.Logf("%d users, %d groups: %d requests, minimum %d", len(res.Users), len(res.Groups), got, minimum)
	if len(res.Users) < 9000 || len(res.Groups) != 500 {
		t.Fatalf("synced %d users, %d groups", len(res.Users), len(res.Groups))
	}
	if float64(got) > 1.1*float64(minimum) {
		t.Errorf("%d requests, more than 10%% over the minimum %d", got, minimum)
	}
}

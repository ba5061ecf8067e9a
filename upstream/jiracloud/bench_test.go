package jiracloud

import (
	"context"
	"testing"

	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/upstream"
	"github.com/dirgate/dirgate/upstream/jiracloud/jirafake"
)

// BenchmarkFullSync syncs the 10,000-account, 500-group site of
// jirafake.Big from the in-process fake with the default settings (pages of
// 1000 users, the fake's caps of 1000 and 50, four requests in flight). It
// reports the HTTP requests per sync next to the fewest the API allows for
// this data, and fails when a sync needs more than 10% over that minimum: a
// property of the pagination, not a timing.
func BenchmarkFullSync(b *testing.B) {
	f := jirafake.Start(b, jirafake.Big(), jirafake.Options{})
	up, err := Open("cloud", Config{URL: f.URL(), Email: f.ServiceEmail(), APIToken: secret.String(f.ServiceToken())}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer up.Close()
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

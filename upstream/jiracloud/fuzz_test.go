package jiracloud

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/internal/upstreamtest"
)

// FuzzSyncPages: whatever a site answers on the first page of users, of
// groups and of a group's members (the later pages are empty), a sync
// ends — with an error, or with records the cache can take: keys and
// usernames set and unique, members naming users of the result — and
// never panics or loops.
func FuzzSyncPages(f *testing.F) {
	f.Add([]byte(`[{"accountId":"a1","accountType":"atlassian","emailAddress":"a@example.com","displayName":"A B","active":true}]`),
		[]byte(`{"values":[{"groupId":"g1","name":"devs"}],"isLast":true,"total":1}`),
		[]byte(`{"values":[{"accountId":"a1","accountType":"atlassian"}],"isLast":true}`))
	f.Add([]byte(`[{"accountId":"a1"},{"accountId":"a1"},{"accountId":""},{}]`),
		[]byte(`{"values":[{"groupId":"g1","name":"devs"},{"groupId":"g1","name":"DEVS"},{"name":"x"}],"isLast":false,"total":-5}`),
		[]byte(`{"values":[{"accountId":"zz"}],"isLast":false,"total":1000000,"startAt":-3}`))
	f.Add([]byte(`{"not":"an array"}`), []byte(`[]`), []byte(`<html>`))
	f.Add([]byte(`[`+"\x00"+`]`), []byte(`{"values":null}`), []byte(`null`))
	f.Fuzz(func(t *testing.T, users, groups, members []byte) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			first := q.Get("startAt") == "" || q.Get("startAt") == "0"
			check := q.Get("maxResults") == "1"
			w.Header().Set("Content-Type", "application/json")
			switch r.URL.Path {
			case pathMyself:
				_, _ = w.Write([]byte(`{"accountId":"svc","emailAddress":"svc@example.com","active":true}`))
			case pathUsers:
				if first && !check {
					_, _ = w.Write(users)
				} else {
					_, _ = w.Write([]byte(`[]`))
				}
			case pathGroupBulk:
				if first && !check {
					_, _ = w.Write(groups)
				} else {
					_, _ = w.Write([]byte(`{"values":[],"isLast":true,"total":0}`))
				}
			case pathGroupMember:
				if first && !check {
					_, _ = w.Write(members)
				} else {
					_, _ = w.Write([]byte(`{"values":[],"isLast":true,"total":0}`))
				}
			default:
				http.NotFound(w, r)
			}
		}))
		defer srv.Close()
		up, err := Open("fuzz", Config{URL: srv.URL, Email: "svc@example.com", APIToken: secret.String("t"), Timeout: 5 * time.Second}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer up.Close()
		up.api.MinInterval = 0
		up.api.Attempts = 1
		upstreamtest.FuzzSync(t, up, true) // flat: Atlassian Cloud has no nested groups
	})
}

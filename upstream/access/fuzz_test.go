package access

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/internal/upstreamtest"
)

// FuzzSyncPages: whatever the Admin API answers on the first page of
// users and of groups (later pages are empty), a full sync ends — with an
// error, or with records the cache can take: keys and names set and
// unique, members naming users of the result — and never panics or loops.
func FuzzSyncPages(f *testing.F) {
	f.Add([]byte(`{"data":[{"accountId":"a1","accountType":"atlassian","nickname":"alice","name":"Alice L","email":"a@example.com","accountStatus":"active","groups":[{"id":"g1","name":"devs"}]}],"links":{"next":"c2"}}`),
		[]byte(`{"data":[{"id":"g1","name":"devs"}],"links":{}}`))
	f.Add([]byte(`{"data":[{"accountId":"a1"},{"accountId":"a1"},{"accountId":""},{"groups":[{"id":""}]}],"links":{"next":"http://x/?cursor=c2"}}`),
		[]byte(`{"data":[{"id":"g1","name":"devs"},{"id":"g1","name":"DEVS"},{"name":"x"}],"links":{"next":"c9"}}`))
	f.Add([]byte(`{"data":null}`), []byte(`[]`))
	f.Add([]byte(`not json`), []byte(`{"data":[{"id":"g2"}],"links":{"next":""}}`))
	f.Fuzz(func(t *testing.T, users, groups []byte) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var body struct {
				Cursor string `json:"cursor"`
			}
			_ = json.NewDecoder(r.Body).Decode(&body)
			first := body.Cursor == "" && r.URL.Query().Get("cursor") == ""
			w.Header().Set("Content-Type", "application/json")
			switch {
			case strings.HasSuffix(r.URL.Path, "/users/search") && first:
				_, _ = w.Write(users)
			case strings.HasSuffix(r.URL.Path, "/groups/search") && first:
				_, _ = w.Write(groups)
			default:
				_, _ = w.Write([]byte(`{"data":[],"links":{}}`))
			}
		}))
		defer srv.Close()
		up, err := Open("fuzz", Config{BaseURL: srv.URL, OrgID: "org", APIKey: secret.String("k"), Timeout: 5 * time.Second}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer up.Close()
		up.api.Attempts = 1
		upstreamtest.FuzzSync(t, up, true) // flat: Atlassian Cloud has no nested groups
	})
}

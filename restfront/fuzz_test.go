package restfront

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// FuzzRequest sends arbitrary paths, queries and bodies through the whole
// handler as an authenticated application: whatever comes in, the answer
// carries the version header and is never a 500 (a panic or an unhandled
// case). Run with: go test ./restfront -run '^$' -fuzz FuzzRequest
func FuzzRequest(f *testing.F) {
	e := newEnv(f)
	h := e.srv.Handler()
	// Failed logins slow the next ones down by design; a clock that moves
	// an hour per look forgets them, so the fuzzer keeps its pace.
	var hours atomic.Int64
	start := time.Now()
	e.srv.throttle.SetClock(func() time.Time { return start.Add(time.Duration(hours.Add(1)) * time.Hour) })
	for _, s := range [][4]string{
		{"GET", "/user?username=alice&expand=attributes", "", ""},
		{"GET", "/user?key=1:ext-ua", "", ""},
		{"GET", "/user/group/nested?username=alice&start-index=1&max-results=1&expand=group", "", ""},
		{"GET", "/group/user/direct?groupname=devs&username=alice", "", ""},
		{"GET", "/group/child-group/direct?groupname=staff&child-groupname=devs", "", ""},
		{"GET", "/group/membership", "", ""},
		{"GET", "/search?entity-type=group&restriction=name%3D%22*ev*%22", "", ""},
		{"POST", "/search?entity-type=user&expand=user,attributes", "application/xml", `<boolean-search-restriction boolean-logic="or"><restrictions><property-search-restriction><property><name>email</name><type>STRING</type></property><match-mode>CONTAINS</match-mode><value>example</value></property-search-restriction></restrictions></boolean-search-restriction>`},
		{"POST", "/search?entity-type=user", "application/json", `{"restriction-type":"property-search-restriction","property":{"name":"createdDate","type":"DATE"},"match-mode":"GREATER_THAN","value":"2020-01-02T03:04:05.000+0000"}`},
		{"POST", "/authentication?username=carol", "application/xml", "<password><value>carol-pw</value></password>"},
		{"POST", "/session", "application/json", `{"username":"carol","password":"carol-pw","validation-factors":{"validationFactors":[{"name":"remote_address","value":"127.0.0.1"}]}}`},
		{"POST", "/session/abc", "application/xml", "<validation-factors/>"},
		{"POST", "/user", "application/json", `{"name":"zed","active":"true","password":{"value":"pw"},"attributes":{"attributes":[{"name":"a","values":["b"]}]}}`},
		{"PUT", "/user?username=carol", "application/xml", `<user name="carol"><first-name>C</first-name><active>true</active></user>`},
		{"POST", "/user/rename?username=carol", "application/json", `{"new-name":"caroline"}`},
		{"POST", "/group/child-group/direct?groupname=devs", "application/xml", `<group name="jira-users"/>`},
		{"POST", "/group/user/direct?groupname=jira-users", "application/json", `{"name":"carol"}`},
		{"DELETE", "/group/user/direct?groupname=jira-users&username=carol", "", ""},
		{"GET", "/event/abc:1", "", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3], false)
	}
	methods := []string{"GET", "POST", "PUT", "DELETE"}
	f.Fuzz(func(t *testing.T, method, target, ctype, body string, asJSON bool) {
		m := "GET"
		for _, mm := range methods {
			if strings.EqualFold(method, mm) {
				m = mm
			}
		}
		u, err := url.Parse("http://dirgate" + "/rest/usermanagement/1" + target)
		if err != nil || !strings.HasPrefix(target, "/") {
			return
		}
		r, err := http.NewRequest(m, u.String(), strings.NewReader(body))
		if err != nil {
			return
		}
		r.RemoteAddr = "127.0.0.1:50000"
		r.SetBasicAuth("jira", "jira-pw")
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		if asJSON {
			r.Header.Set("Accept", "application/json")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s %s (%s) %q: %d %s", m, target, ctype, body, w.Code, w.Body.String())
		}
		if w.Header().Get("X-Embedded-Crowd-Version") == "" {
			t.Fatalf("%s %s: no version header (%d)", m, target, w.Code)
		}
	})
}

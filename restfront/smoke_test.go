package restfront

import "testing"

func TestSmoke(t *testing.T) {
	e := newEnv(t)
	for _, c := range []call{
		{path: "/user?username=alice"},
		{path: "/user?username=alice&expand=attributes", json: true},
		{path: "/user/group/nested?username=alice"},
		{path: "/group?groupname=devs", json: true},
		{path: "/group/membership"},
		{method: "POST", path: "/search?entity-type=user&max-results=-1&expand=user", body: "<null-search-restriction/>"},
		{method: "POST", path: "/authentication?username=alice", body: "<password><value>alice-pw</value></password>"},
		{path: "/event"},
	} {
		r := e.do(t, c)
		t.Logf("%s %s → %d %s\n%s", c.method, c.path, r.status, r.header.Get("Content-Type"), r.body)
	}
}

package restfront

import (
	"net/http"
	"net/url"
	"testing"
)

// FuzzParams: reading a parameter from the raw query agrees with
// url.ParseQuery's first value, whatever the query.
func FuzzParams(f *testing.F) {
	for _, s := range []string{"username=alice&max-results=-1", "a=1&a=2", "x=%zz&x=2", "a+b=c+d", "k=v;w=x", "expand=user,group&expand=attributes",
		"=&==&a", "%61=%62", "username=al%C3%AFce", ""} {
		f.Add(s, "a")
		f.Add(s, "username")
	}
	f.Fuzz(func(t *testing.T, raw, name string) {
		q := &request{r: &http.Request{URL: &url.URL{RawQuery: raw}}}
		want, _ := url.ParseQuery(raw)
		if got := q.param(name); got != want.Get(name) {
			t.Fatalf("param(%q) of %q = %q, url.ParseQuery says %q", name, raw, got, want.Get(name))
		}
		var all []string
		q.params(name, func(v string) bool { all = append(all, v); return true })
		if len(all) != len(want[name]) {
			t.Fatalf("params(%q) of %q = %q, url.ParseQuery says %q", name, raw, all, want[name])
		}
	})
}

func TestWantsJSON(t *testing.T) {
	for accept, want := range map[string]bool{
		"application/json": true, "Application/JSON; charset=utf-8": true, "text/html, application/json;q=0.9": true,
		"application/vnd.api+json": true, "application/xml": false, "": false, "*/*": false, "text/json+xml": false,
	} {
		r := &http.Request{Header: http.Header{}}
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		if got := wantsJSON(r); got != want {
			t.Errorf("Accept %q: JSON %v", accept, got)
		}
	}
}

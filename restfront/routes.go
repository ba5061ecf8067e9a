package restfront

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

type handlerFunc func(q *request)

// route is one endpoint under the prefix.
type route struct {
	method, path string
	h            handlerFunc
	write        bool // needs the application's write permission
}

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	table := []route{
		{"GET", "/user", s.getUser, false},
		{"POST", "/user", s.createUser, true},
		{"PUT", "/user", s.updateUser, true},
		{"DELETE", "/user", s.deleteUser, true},
		{"POST", "/user/rename", s.renameUser, true},
		{"GET", "/user/attribute", s.getUserAttributes, false},
		{"POST", "/user/attribute", s.setUserAttributes, true},
		{"DELETE", "/user/attribute", s.deleteUserAttribute, true},
		{"PUT", "/user/password", s.setPassword, true},
		{"DELETE", "/user/password", s.clearPassword, true},
		{"POST", "/user/mail/password", s.noMail, false},
		{"POST", "/user/mail/usernames", s.noMail, false},
		{"POST", "/user/expire-all-passwords", s.expirePasswords, true},
		{"GET", "/user/group/direct", s.userGroups(false), false},
		{"GET", "/user/group/nested", s.userGroups(true), false},
		{"POST", "/user/group/direct", s.addUserToGroup, true},
		{"DELETE", "/user/group/direct", s.removeUserFromGroup, true},
		{"POST", "/authentication", s.authenticate, false},
		{"POST", "/authentication/notify", s.authenticationNotify, false},
		{"GET", "/group", s.getGroup, false},
		{"POST", "/group", s.createGroup, true},
		{"PUT", "/group", s.updateGroup, true},
		{"DELETE", "/group", s.deleteGroup, true},
		{"GET", "/group/attribute", s.getGroupAttributes, false},
		{"POST", "/group/attribute", s.setGroupAttributes, true},
		{"DELETE", "/group/attribute", s.deleteGroupAttribute, true},
		{"GET", "/group/user/direct", s.groupUsers(false), false},
		{"GET", "/group/user/nested", s.groupUsers(true), false},
		{"POST", "/group/user/direct", s.addGroupUser, true},
		{"DELETE", "/group/user/direct", s.removeGroupUser, true},
		{"GET", "/group/child-group/direct", s.childGroups(false), false},
		{"GET", "/group/child-group/nested", s.childGroups(true), false},
		{"POST", "/group/child-group/direct", s.addChildGroup, true},
		{"DELETE", "/group/child-group/direct", s.removeChildGroup, true},
		{"GET", "/group/parent-group/direct", s.parentGroups(false), false},
		{"GET", "/group/parent-group/nested", s.parentGroups(true), false},
		{"POST", "/group/parent-group/direct", s.addParentGroup, true},
		{"GET", "/group/membership", s.memberships, false},
		{"GET", "/search", s.searchCQL, false},
		{"POST", "/search", s.searchPost, false},
		{"POST", "/session", s.createSession, false},
		{"DELETE", "/session", s.deleteUserSessions, false},
		{"GET", "/session/{token}", s.getSession, false},
		{"POST", "/session/{token}", s.validateSession, false},
		{"DELETE", "/session/{token}", s.deleteSession, false},
		{"GET", "/config/cookie", s.cookieConfig, false},
		{"GET", "/event", s.eventHead, false},
		{"GET", "/event/{token}", s.eventsSince, false},
	}
	for _, prefix := range s.prefixes {
		for _, rt := range table {
			s.mux.Handle(rt.method+" "+prefix+rt.path, s.wrap(prefix+rt.path, rt))
		}
		// Anything else under the prefix: authenticated first, then 404
		// (python-crowd's auth_ping tells good credentials this way).
		s.mux.Handle(prefix+"/", s.wrap("unknown", route{h: func(q *request) {
			q.fail(http.StatusNotFound, "OPERATION_FAILED", "no such resource: "+q.r.Method+" "+q.r.URL.Path)
		}}))
	}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	s.mux.HandleFunc("GET /readyz", s.ready)
	if s.cfg.MetricsHandler != nil {
		s.mux.Handle("GET /metrics", s.cfg.MetricsHandler)
	}
}

// statusWriter records the status for metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// exchange is one request's per-request state in one allocation.
type exchange struct {
	sw statusWriter
	q  request
	v  view
}

// wrap adds what every request under the prefix gets: the version header
// (on every response, errors included: the Java client checks it first),
// application authentication before routing, the write permission check,
// panic recovery and metrics.
func (s *Server) wrap(label string, rt route) http.Handler {
	return http.HandlerFunc(func(hw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		x := &exchange{sw: statusWriter{ResponseWriter: hw}}
		w := &x.sw
		h := w.Header()
		h["X-Embedded-Crowd-Version"] = hdrVersion
		h["Cache-Control"] = hdrNoCache
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("panic in REST handler", "route", label, "panic", fmt.Sprint(p))
				if w.status == 0 {
					q := &request{w: w, r: r, json: wantsJSON(r)}
					q.fail(http.StatusInternalServerError, "OPERATION_FAILED", "internal error")
				}
			}
			s.metrics.observe(label, w.status, start)
		}()
		app, ok := s.authenticateApp(w, r)
		if !ok {
			return
		}
		if r.ContentLength != 0 {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		x.q = request{s: s, w: w, r: r, app: app, json: wantsJSON(r), v: &x.v}
		x.v = view{s: s, app: app, base: s.baseURL(r, s.prefixFor(r.URL.Path))}
		q := &x.q
		if rt.write && !app.write {
			q.fail(http.StatusForbidden, "APPLICATION_PERMISSION_DENIED",
				fmt.Sprintf("application %s may not change the directory (its permissions lack write)", app.name))
			return
		}
		rt.h(q)
	})
}

func (s *Server) prefixFor(path string) string {
	for _, p := range s.prefixes {
		if strings.HasPrefix(path, p) {
			return p
		}
	}
	return s.prefixes[0]
}

// baseURL is the API root as the client reached it, for links. The last
// one made is kept: an application reaches dirgate under one name, so the
// string need not be built for every request.
func (s *Server) baseURL(r *http.Request, prefix string) string {
	tls := r.TLS != nil
	if b := s.lastBase.Load(); b != nil && b.tls == tls && b.host == r.Host && b.prefix == prefix {
		return b.url
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	b := &baseCache{tls: tls, host: r.Host, prefix: prefix, url: scheme + "://" + r.Host + prefix}
	s.lastBase.Store(b)
	return b.url
}

type baseCache struct {
	tls               bool
	host, prefix, url string
}

// ready answers 200 once every upstream has data to serve (a first sync,
// a seed, or the state a restart found in the store).
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	var waiting []string
	for _, up := range s.store.Upstreams() {
		if !s.store.Synced(up) {
			waiting = append(waiting, up)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if len(waiting) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "waiting for the first sync of: %s\n", strings.Join(waiting, ", "))
		return
	}
	fmt.Fprintln(w, "ready")
}

package ldapfront

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"time"

	"github.com/jimlambrt/gldap"
)

// bindKind is what a connection is bound as.
type bindKind int

const (
	bindAnonymous bindKind = iota
	bindService
	bindUser
)

// connState is what we know of one client connection. gldap identifies
// connections by a number; bind state, limits and paging cursors are ours
// to keep (libraries.md §1.6).
type connState struct {
	id      int
	netConn net.Conn // nil when the gldap accessor is unavailable
	remote  string   // client IP, "" when unknown

	mu       sync.Mutex
	tls      bool
	bound    bindKind
	bindDN   string // DN of the bound identity ("" when anonymous)
	inflight int
	cursors  map[string]*cursor // paged-results cursors by cookie
	closing  bool               // shutdown: close as soon as idle

	// ctx is the connection's context, a child of the server's abort
	// context (which ends only when Shutdown gives up, so that requests in
	// flight finish), cancelled when the connection is forgotten: a
	// password check at an upstream
	// ends when its client goes. Work hangs on it rather than on the
	// server context, so that concurrent requests do not all register with
	// (and contend for) one context.
	ctx    context.Context
	cancel context.CancelFunc
}

// registry holds the open connections. Every request looks its
// connection up, so reads go through a sync.Map; mu orders creation and
// removal.
type registry struct {
	base  context.Context // the parent of every connection's context
	fast  sync.Map        // int → *connState
	mu    sync.Mutex
	conns map[int]*connState
	// ldapsConns: gldap numbers connections per server; the LDAPS server's
	// numbers are kept apart by an offset (see Server).
	idle     time.Duration
	shutdown bool
}

func newRegistry(base context.Context, idle time.Duration) *registry {
	return &registry{base: base, conns: map[int]*connState{}, idle: idle}
}

// register returns the state of r's connection, creating it on the
// connection's first request. created reports a new connection, count the
// number of open connections after it.
//
// The network connection is read from the request here, under the registry
// lock, and only when the state does not exist yet; the StartTLS handler
// creates the state (and reads the connection) before upgrading it, so no
// request reads the connection while StartTLS replaces it.
func (g *registry) register(id int, r *gldap.Request, ldaps bool) (st *connState, created bool, count int) {
	if v, ok := g.fast.Load(id); ok {
		return v.(*connState), false, 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if st = g.conns[id]; st != nil {
		return st, false, len(g.conns)
	}
	st = &connState{id: id, tls: ldaps}
	st.ctx, st.cancel = context.WithCancel(g.base)
	if nc := netConnOf(r); nc != nil {
		st.netConn = nc
		if _, ok := nc.(*tls.Conn); ok {
			st.tls = true
		}
		if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
			st.remote = a.IP.String()
		}
	}
	g.conns[id] = st
	g.fast.Store(id, st)
	return st, true, len(g.conns)
}

// forget drops a closed connection, reporting whether it was known (a
// connection that never sent a request never was).
func (g *registry) forget(id int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	st, ok := g.conns[id]
	if ok {
		st.cancel()
	}
	delete(g.conns, id)
	g.fast.Delete(id)
	return ok
}

func (g *registry) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

// begin counts a request in; it returns false when the connection already
// has max requests in flight (the caller answers busy).
func (st *connState) begin(max int) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.inflight >= max {
		return false
	}
	st.inflight++
	if st.inflight == 1 && st.netConn != nil {
		// Working: the connection's reader waits for the next request
		// without a deadline while this one runs.
		_ = st.netConn.SetReadDeadline(time.Time{})
	}
	return true
}

// end counts a request out; when the connection becomes idle, its idle
// timeout starts (or, during shutdown, it is closed).
func (st *connState) end(idle time.Duration) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.inflight--
	if st.inflight > 0 || st.netConn == nil {
		return
	}
	if st.closing {
		_ = st.netConn.SetReadDeadline(time.Now())
		return
	}
	if idle > 0 {
		_ = st.netConn.SetReadDeadline(time.Now().Add(idle))
	}
}

// closeIdle makes every idle connection's reader return now and marks the
// busy ones to close when they become idle: gldap's Stop waits for every
// connection, and an idle client would hold it forever.
func (g *registry) closeIdle() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.shutdown = true
	for _, st := range g.conns {
		st.mu.Lock()
		st.closing = true
		if st.inflight == 0 && st.netConn != nil {
			_ = st.netConn.SetReadDeadline(time.Now())
		}
		st.mu.Unlock()
	}
}

func (st *connState) identity() (bindKind, string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.bound, st.bindDN
}

func (st *connState) setIdentity(k bindKind, dn string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.bound, st.bindDN = k, dn
}

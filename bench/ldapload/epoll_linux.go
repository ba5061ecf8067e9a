package ldapload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"runtime"
	"syscall"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirgate/dirgate/bench/epoll"
)

// epollConn is one connection of the epoll engine.
type epollConn struct {
	*epoll.Conn
	it   Iter
	req  []byte    // the request being written, reused
	buf  []byte    // what was read of the answer so far
	id   int32     // the outstanding request's messageID
	t0   time.Time // when it was written
	res  rawResult
	lost bool // it failed and is closed
}

// runEpoll is Run with Config.Epoll: every connection is served by this
// goroutine's OS thread around epoll, one request in flight on each, the
// next written as soon as the answer to the last one is complete.
func runEpoll(ctx context.Context, cfg Config, op rawOp) (Report, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Scheme != "ldap" || u.Host == "" {
		return Report{}, fmt.Errorf("ldapload: Epoll needs an ldap://host:port URL, not %q", cfg.URL)
	}
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return Report{}, fmt.Errorf("ldapload: epoll: %w", err)
	}
	defer syscall.Close(ep)
	conns := make([]*epollConn, 0, cfg.Conns)
	defer func() {
		for _, c := range conns {
			if !c.lost {
				c.Close()
			}
		}
	}()
	// The longest wait for a dial, the service bind and every answer.
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	dialer := net.Dialer{Timeout: timeout}
	for i := range cfg.Conns {
		if err := ctx.Err(); err != nil {
			return Report{}, err
		}
		nc, err := dialer.DialContext(ctx, "tcp", u.Host)
		if err == nil && cfg.BindDN != "" {
			if err = serviceBind(nc, cfg.BindDN, cfg.BindPassword, timeout); err != nil {
				nc.Close()
			}
		}
		var ec *epoll.Conn
		if err == nil {
			ec, err = epoll.Adopt(nc, ep, int32(i))
		}
		if err != nil {
			return Report{}, fmt.Errorf("ldapload: connection %d to %s: %w", i, cfg.URL, err)
		}
		conns = append(conns, &epollConn{Conn: ec, buf: make([]byte, 0, 16<<10),
			it: Iter{Conn: i, Rand: rand.New(rand.NewPCG(cfg.Seed, uint64(i)))}})
	}

	var (
		rep       Report
		hist      histogram
		firstTime time.Time
		runErr    error
		measuring bool
		cpuStart  time.Duration
	)
	fail := func(err error, t time.Time) {
		if rep.FirstError == "" || t.Before(firstTime) {
			rep.FirstError, firstTime = err.Error(), t
		}
	}
	now := time.Now()
	start := now.Add(cfg.Warmup)
	end := start.Add(cfg.Duration)
	stopTime := end
	live := len(conns)
	// lose closes c after err.
	lose := func(c *epollConn, err error, t time.Time) {
		fail(err, t)
		c.Close()
		c.lost = true
		rep.ConnsLost++
		live--
	}
	// send writes c's next request; a failure to build or write it loses
	// the connection.
	send := func(c *epollConn, t time.Time) {
		c.id++
		if c.id <= 0 {
			c.id = 1
		}
		c.res = rawResult{}
		var err error
		c.req, err = op.appendRequest(c.req[:0], c.id, &c.it, &c.res)
		if err == nil {
			var n int
			n, err = syscall.Write(c.FD, c.req)
			if err == nil && n < len(c.req) {
				err = errors.New("short write") // a request is far smaller than the socket buffer
			}
			if err != nil {
				err = fmt.Errorf("write: %w", err)
			}
		}
		if err != nil {
			lose(c, err, t)
			return
		}
		c.t0 = t
	}
	for _, c := range conns {
		send(c, now)
	}
	events := make([]syscall.EpollEvent, len(conns))
	scratch := make([]byte, 64<<10)
	for live > 0 {
		wait := min(time.Until(end), 50*time.Millisecond)
		if !measuring {
			wait = min(wait, time.Until(start))
		}
		n, err := epoll.Wait(ep, events, max(wait, 0))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			runErr = fmt.Errorf("ldapload: epoll_wait: %w", err)
			stopTime = time.Now()
			break
		}
		now := time.Now()
		if !measuring && !now.Before(start) {
			measuring = true
			cpuStart, _ = processCPU()
		}
		if !now.Before(end) {
			break
		}
		if err := ctx.Err(); err != nil {
			runErr, stopTime = err, now
			break
		}
		for _, ev := range events[:n] {
			c := conns[ev.Fd]
			if c.lost {
				continue
			}
			done, err := c.receive(scratch)
			t := time.Now()
			if err != nil {
				lose(c, err, t)
				continue
			}
			if !done {
				continue
			}
			c.it.N++
			err = op.judge(&c.res)
			switch {
			case err != nil && t.Before(start):
				rep.WarmupErrors++
				fail(err, t)
			case err != nil:
				rep.Errors++
				fail(err, t)
			case t.Before(start):
				rep.WarmupOps++
			default:
				rep.Ops++
				hist.record(t.Sub(c.t0))
			}
			send(c, t)
		}
		for _, c := range conns {
			if !c.lost && now.Sub(c.t0) > timeout {
				lose(c, fmt.Errorf("no answer in %s", timeout), now)
			}
		}
		if live == 0 {
			stopTime = now
		}
	}
	cpuEnd, _ := processCPU()
	if stopTime.After(end) {
		stopTime = end
	}
	var cpu time.Duration
	if measuring {
		cpu = cpuEnd - cpuStart
	}
	rep.finish(&hist, start, stopTime, cpu)
	return rep, runErr
}

// receive reads what the socket has and reports whether the answer to the
// outstanding request is complete; its result is then in c.res.
func (c *epollConn) receive(scratch []byte) (bool, error) {
	n, err := syscall.Read(c.FD, scratch)
	if err == syscall.EAGAIN {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read: %w", err)
	}
	if n == 0 {
		return false, errors.New("the server closed the connection")
	}
	c.buf = append(c.buf, scratch[:n]...)
	at := 0
	defer func() { c.buf = c.buf[:copy(c.buf, c.buf[at:])] }()
	for {
		m, err := parseMessage(c.buf[at:])
		if err != nil {
			return false, err
		}
		if m.total == 0 {
			return false, nil
		}
		at += m.total
		if m.id != int64(c.id) {
			return false, fmt.Errorf("answer to message %d while %d is outstanding", m.id, c.id)
		}
		switch m.op {
		case appSearchEntry:
			c.res.entries++
		case appSearchRef:
		case appBindResponse, appSearchDone:
			if c.res.code, c.res.diag, err = parseResult(m.body); err != nil {
				return false, err
			}
			if at != len(c.buf) {
				return false, fmt.Errorf("%d bytes after the answer to message %d", len(c.buf)-at, c.id)
			}
			return true, nil
		default:
			return false, fmt.Errorf("unexpected protocol op %#x in answer to message %d", m.op, c.id)
		}
	}
}

// serviceBind binds nc as dn before the load starts, blocking.
func serviceBind(nc net.Conn, dn, password string, timeout time.Duration) error {
	if err := nc.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if _, err := nc.Write(appendBindRequest(nil, 1, dn, password)); err != nil {
		return fmt.Errorf("initial bind as %s: %w", dn, err)
	}
	var buf []byte
	scratch := make([]byte, 4096)
	for {
		m, err := parseMessage(buf)
		if err != nil {
			return fmt.Errorf("initial bind as %s: %w", dn, err)
		}
		if m.total > 0 {
			if m.op != appBindResponse || m.id != 1 {
				return fmt.Errorf("initial bind as %s: answered with op %#x to message %d", dn, m.op, m.id)
			}
			code, diag, err := parseResult(m.body)
			if err == nil && code != goldap.LDAPResultSuccess {
				err = goldap.NewError(uint16(code), errors.New(diag))
			}
			if err != nil {
				return fmt.Errorf("initial bind as %s: %w", dn, err)
			}
			return nc.SetDeadline(time.Time{})
		}
		n, err := nc.Read(scratch)
		if err != nil {
			return fmt.Errorf("initial bind as %s: %w", dn, err)
		}
		buf = append(buf, scratch[:n]...)
	}
}

package bench

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/dirgate/dirgate/bench/epoll"
)

// runEpoll is the load generator of the REST latency benchmarks: conc
// HTTP/1.1 keep-alive connections, each with one GET in flight at a time
// (a closed loop without think time, like wrk -c conc), the next request
// written as soon as the previous response is complete, each request a
// path picked at random from paths. It runs for warm+dur and measures the
// dur after warm. With rate > 0 the loop is open instead: requests are
// offered at rate per second in all, spread over the connections in turn,
// whether or not the earlier ones were answered.
//
// All connections are served by one OS thread around epoll (as wrk
// does), not by a goroutine each: a latency is the time from writing the
// request to the moment epoll reported the last bytes of its response,
// taken before the other ready connections are handled, not the moment a
// generator goroutine got to run; and on a two-core machine shared with
// the server the generator is one thread, not a Go scheduler of its own.
// (Against the net/http floor server its p99 was lower than with a
// goroutine per connection; against dirgate the two were alike.)
func runEpoll(base, auth string, conc int, paths []string, warm, dur time.Duration, rate float64) (loadResult, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if n := envInt("DIRGATE_BENCH_CLIENT_NICE", 0); n != 0 {
		tid := syscall.Gettid()
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, n); err != nil {
			return loadResult{}, fmt.Errorf("nice %d: %w", n, err)
		}
		defer syscall.Setpriority(syscall.PRIO_PROCESS, tid, 0)
	}
	u, err := url.Parse(base)
	if err != nil {
		return loadResult{}, err
	}
	reqs := make([][]byte, len(paths))
	for i, p := range paths {
		reqs[i] = []byte("GET " + u.Path + p + " HTTP/1.1\r\nHost: " + u.Host + "\r\nAuthorization: " + auth +
			"\r\nAccept: application/xml\r\n\r\n")
	}
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return loadResult{}, fmt.Errorf("epoll: %w", err)
	}
	defer syscall.Close(ep)
	conns := make([]*epollConn, conc)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	for k := range conns {
		c, err := dialEpoll(u.Host, ep, k)
		if err != nil {
			return loadResult{}, err
		}
		c.rng = rand.New(rand.NewPCG(13, uint64(k)))
		conns[k] = c
	}

	var r loadResult
	var w loadWorker
	now := time.Now()
	start := now.Add(warm)
	end := start.Add(dur)
	var cpu0, m0, srv0 time.Duration
	started := false
	// Open loop: request i is due at now + i/rate, on connection i%conc;
	// a request due while its connection waits for an answer queues, and
	// its latency counts from when it was due (no coordinated omission).
	var interval time.Duration
	nextDue, nextConn := now, 0
	if rate > 0 {
		interval = time.Duration(float64(time.Second) / rate)
	} else {
		for _, c := range conns {
			if err := c.send(reqs, now, now); err != nil {
				return r, err
			}
		}
	}
	events := make([]syscall.EpollEvent, conc)
	scratch := make([]byte, 64<<10)
	for {
		timeout := 50 * time.Millisecond
		if rate > 0 {
			timeout = min(timeout, max(0, time.Until(nextDue)))
		}
		n, err := epoll.Wait(ep, events, timeout)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return r, fmt.Errorf("epoll_wait: %w", err)
		}
		now := time.Now()
		if !started && !now.Before(start) {
			cpu0, m0, srv0, started = selfCPU(), machineBusy(), serveCPU(), true
		}
		if !now.Before(end) {
			break
		}
		for _, ev := range events[:n] {
			c := conns[ev.Fd]
			done, status, size, err := c.receive(scratch)
			if err != nil {
				return r, err
			}
			if !done {
				continue
			}
			t := time.Now()
			switch {
			case t.Before(start):
			case status != 200:
				w.fail(fmt.Errorf("status %d", status), t)
			default:
				w.record(size, t.Sub(c.t0))
			}
			c.busy = false
			switch {
			case rate == 0:
				err = c.send(reqs, t, t)
			case len(c.queued) > 0:
				due := c.queued[0]
				c.queued = c.queued[1:]
				err = c.send(reqs, due, t)
			}
			if err != nil {
				return r, err
			}
		}
		for rate > 0 && !nextDue.After(now) {
			c := conns[nextConn]
			if c.busy {
				if len(c.queued) > 1<<16 {
					return r, fmt.Errorf("the server falls behind %.0f requests/s", rate)
				}
				c.queued = append(c.queued, nextDue)
			} else if err := c.send(reqs, nextDue, now); err != nil {
				return r, err
			}
			nextDue, nextConn = nextDue.Add(interval), (nextConn+1)%conc
		}
		for _, c := range conns {
			if c.busy && now.Sub(c.sent) > restRequestTimeout {
				return r, fmt.Errorf("no response in %s", restRequestTimeout)
			}
		}
	}
	cpu1, m1, srv1 := selfCPU(), machineBusy(), serveCPU()
	r = collect([]*loadWorker{&w})
	r.elapsed, r.cpu, r.machine, r.server = dur, cpu1-cpu0, m1-m0, srv1-srv0
	return r, nil
}

// restRequestTimeout fails a load run whose server stopped answering.
const restRequestTimeout = 10 * time.Second

// epollConn is one connection of runEpoll: a non-blocking socket and the
// bytes of the response read so far.
type epollConn struct {
	*epoll.Conn
	buf    []byte
	busy   bool        // a request is in flight
	t0     time.Time   // when it was due (closed loop: written)
	sent   time.Time   // when it was written
	queued []time.Time // open loop: due times of the requests waiting
	rng    *rand.Rand
}

// dialEpoll connects to addr and adds the socket to ep, tagged k.
func dialEpoll(addr string, ep, k int) (*epollConn, error) {
	ec, err := epoll.Dial(addr, ep, int32(k))
	if err != nil {
		return nil, err
	}
	return &epollConn{Conn: ec, buf: make([]byte, 0, 16<<10)}, nil
}

func (c *epollConn) send(reqs [][]byte, due, now time.Time) error {
	req := reqs[c.rng.IntN(len(reqs))]
	c.t0, c.sent, c.busy = due, now, true
	n, err := syscall.Write(c.FD, req)
	if err == nil && n < len(req) {
		err = errors.New("short write") // a request is far smaller than the socket buffer
	}
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// receive reads what the socket has and reports whether a whole response
// is there now, with its status and body size.
func (c *epollConn) receive(scratch []byte) (done bool, status int, size int64, err error) {
	n, err := syscall.Read(c.FD, scratch)
	if err == syscall.EAGAIN {
		return false, 0, 0, nil
	}
	if err != nil {
		return false, 0, 0, fmt.Errorf("read: %w", err)
	}
	if n == 0 {
		return false, 0, 0, errors.New("server closed the connection")
	}
	c.buf = append(c.buf, scratch[:n]...)
	total, status, size, err := parseResponse(c.buf)
	if err != nil || total == 0 {
		return false, 0, 0, err
	}
	if total != len(c.buf) {
		return false, 0, 0, fmt.Errorf("%d bytes after a response", len(c.buf)-total)
	}
	c.buf = c.buf[:0]
	return true, status, size, nil
}

// parseResponse finds the end of the HTTP/1.1 response at the start of
// buf: its length (0 while incomplete), status and body size. Bodies have
// a Content-Length or are chunked (without trailers).
func parseResponse(buf []byte) (total, status int, size int64, err error) {
	head := bytes.Index(buf, []byte("\r\n\r\n"))
	if head < 0 {
		if len(buf) > 64<<10 {
			return 0, 0, 0, errors.New("response header over 64 KiB")
		}
		return 0, 0, 0, nil
	}
	lines := bytes.Split(buf[:head], []byte("\r\n"))
	if len(lines[0]) < 12 || !bytes.HasPrefix(lines[0], []byte("HTTP/1.1 ")) {
		return 0, 0, 0, fmt.Errorf("bad status line %q", lines[0])
	}
	if status, err = strconv.Atoi(string(lines[0][9:12])); err != nil {
		return 0, 0, 0, fmt.Errorf("bad status line %q", lines[0])
	}
	length, chunked := int64(-1), false
	for _, h := range lines[1:] {
		name, value, _ := bytes.Cut(h, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 {
				return 0, 0, 0, fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		}
	}
	body := head + 4
	switch {
	case chunked:
		at := body
		for {
			eol := bytes.Index(buf[at:], []byte("\r\n"))
			if eol < 0 {
				return 0, 0, 0, nil
			}
			k, err := strconv.ParseInt(string(buf[at:at+eol]), 16, 64)
			if err != nil || k < 0 {
				return 0, 0, 0, fmt.Errorf("bad chunk size %q", buf[at:at+eol])
			}
			at += eol + 2
			if int64(len(buf)-at) < k+2 {
				return 0, 0, 0, nil
			}
			at += int(k) + 2
			size += k
			if k == 0 {
				return at, status, size, nil
			}
		}
	case length >= 0:
		if int64(len(buf)-body) < length {
			return 0, 0, 0, nil
		}
		return body + int(length), status, length, nil
	default:
		return 0, 0, 0, errors.New("response without a length")
	}
}

// Package epoll holds what dirgate's load generators share to drive many
// connections from one OS thread, as wrk does: a generator's latency is
// then the time from writing a request to the moment the kernel reported
// its answer, not the moment a goroutine got to run, and on a two-core
// machine shared with the servers under test the generator is one cheap
// thread rather than a Go scheduler of its own.
package epoll

import (
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Conn is a non-blocking socket that the Go runtime's poller does not
// watch, registered with an epoll instance under a tag.
type Conn struct {
	f  *os.File // owns FD
	FD int
}

// Adopt takes over the socket of nc (a *net.TCPConn) and adds it to ep,
// reporting readiness to read under tag. nc is closed; the returned Conn
// keeps the connection.
func Adopt(nc net.Conn, ep int, tag int32) (*Conn, error) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		nc.Close()
		return nil, fmt.Errorf("epoll: %T is not a TCP connection", nc)
	}
	// A duplicate of the socket; the net.Conn is closed, the duplicate
	// keeps the connection.
	f, err := tc.File()
	nc.Close()
	if err != nil {
		return nil, err
	}
	c := &Conn{f: f, FD: int(f.Fd())}
	if err := syscall.SetNonblock(c.FD, true); err != nil {
		f.Close()
		return nil, err
	}
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, c.FD, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: tag}); err != nil {
		f.Close()
		return nil, err
	}
	return c, nil
}

// Dial connects to addr over TCP and adopts the connection.
func Dial(addr string, ep int, tag int32) (*Conn, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return Adopt(nc, ep, tag)
}

// Close closes the connection (which also takes it out of its epoll set).
func (c *Conn) Close() error { return c.f.Close() }

// Wait waits up to timeout for events, with microsecond precision where
// the kernel has epoll_pwait2 (Linux 5.11), else in milliseconds (rounded
// up).
func Wait(ep int, events []syscall.EpollEvent, timeout time.Duration) (int, error) {
	if !noPwait2.Load() {
		ts := syscall.NsecToTimespec(int64(timeout))
		n, _, e := syscall.Syscall6(sysEpollPwait2, uintptr(ep), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)),
			uintptr(unsafe.Pointer(&ts)), 0, 0)
		if e != syscall.ENOSYS {
			if e != 0 {
				return 0, e
			}
			return int(n), nil
		}
		noPwait2.Store(true)
	}
	return syscall.EpollWait(ep, events, int((timeout+time.Millisecond-1)/time.Millisecond))
}

// sysEpollPwait2 is epoll_pwait2's number in the generic syscall table
// (amd64 and arm64 alike).
const sysEpollPwait2 = 441

var noPwait2 atomic.Bool

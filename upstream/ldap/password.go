package ldap

import (
	"context"
	"errors"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirgate/dirgate/upstream"
)

// CheckPassword binds as the user's DN (its Key) with password on one of
// the bind connections, never on the sync connection: a bind changes the
// identity of the connection it is sent on.
//
// A wrong password, an unknown DN or a disabled account (LDAP result 49,
// invalidCredentials) is false with a nil error. An empty password is
// false at once: an LDAP bind with a name and no password is an
// unauthenticated bind that servers accept without checking anything
// (RFC 4513 5.1.2). Other failures are errors wrapping
// upstream.ErrUnavailable (network, busy server) or upstream.ErrRejected
// (the server refused the request itself).
func (u *Upstream) CheckPassword(ctx context.Context, usr *upstream.User, password string) (bool, error) {
	const op = "password check"
	if password == "" || usr == nil || usr.Key == "" {
		return false, nil
	}
	if err := ctx.Err(); err != nil {
		return false, u.errf(op, "%w", err)
	}
	select {
	case u.bindSem <- struct{}{}:
	case <-ctx.Done():
		return false, u.errf(op, "waiting for a bind connection: %w", ctx.Err())
	}
	defer func() { <-u.bindSem }()

	for attempt := 0; ; attempt++ {
		c, reused, err := u.bindConn(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return false, u.errf(op, "%w", ctx.Err())
			}
			return false, u.errf(op, "%w", err)
		}
		err = guard(ctx, c, func() error { return c.Bind(usr.Key, password) })
		switch {
		case err == nil:
			u.release(c)
			return true, nil
		case ctx.Err() != nil:
			c.Close()
			return false, u.errf(op, "%w", ctx.Err())
		case goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials):
			u.release(c)
			u.log.Debug("password check failed", "dn", usr.Key)
			return false, nil
		}
		sentinel := classify(err)
		if errors.Is(sentinel, upstream.ErrUnavailable) {
			c.Close()
			if u.isClosed() {
				return false, u.errf(op, "%w", ErrClosed)
			}
			// An idle connection may have been dropped by the server (a
			// restart, an idle timeout): one more try on a new one.
			if reused && attempt == 0 {
				continue
			}
		} else {
			u.release(c) // a refused bind leaves the connection usable
		}
		return false, u.errf(op, "binding as %q: %w: %w", usr.Key, sentinel, err)
	}
}

// bindConn takes an idle bind connection or dials a new one (without the
// service bind: the user's bind follows at once).
func (u *Upstream) bindConn(ctx context.Context) (c *goldap.Conn, reused bool, err error) {
	var broken []*goldap.Conn
	u.mu.Lock()
	for !u.closed && len(u.idle) > 0 && c == nil {
		c = u.idle[len(u.idle)-1]
		u.idle = u.idle[:len(u.idle)-1]
		if c.IsClosing() { // the server closed it
			broken = append(broken, c)
			c = nil
		}
	}
	closed := u.closed
	u.mu.Unlock()
	for _, b := range broken {
		b.Close()
	}
	switch {
	case closed:
		return nil, false, ErrClosed
	case c != nil:
		return c, true, nil
	}
	c, url, err := u.dial(ctx, false)
	if err != nil {
		return nil, false, err
	}
	u.log.Info("connected for password checks", "url", url)
	return c, false, nil
}

// release returns a healthy connection to the idle list.
func (u *Upstream) release(c *goldap.Conn) {
	u.mu.Lock()
	if !u.closed && !c.IsClosing() {
		u.idle = append(u.idle, c)
		c = nil
	}
	u.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

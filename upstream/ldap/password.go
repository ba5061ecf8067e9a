package ldap

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dirgate/dirgate/upstream"
)

// invalidCredentials is LDAP result 49.
const invalidCredentials = 49

// CheckPassword binds as the user's DN (its Key) with password on one of
// the password-check connections (see bindConn), never on the sync
// connection: a bind changes the identity of the connection it is sent on.
//
// A wrong password, an unknown DN or a disabled account (LDAP result 49,
// invalidCredentials) is false with a nil error. An empty password is
// false at once: an LDAP bind with a name and no password is an
// unauthenticated bind that servers accept without checking anything
// (RFC 4513 5.1.2). Other failures are errors wrapping
// upstream.ErrUnavailable (network, busy server) or upstream.ErrRejected
// (the server refused the request itself).
func (u *Upstream) CheckPassword(ctx context.Context, usr *upstream.User, password string) (bool, error) {
	if password == "" || usr == nil || usr.Key == "" {
		return false, nil
	}
	if err := ctx.Err(); err != nil {
		return false, u.checkErr("%w", err)
	}
	if err := u.acquireBind(ctx); err != nil {
		return false, u.checkErr("waiting for a bind connection: %w", err)
	}
	defer func() { <-u.bindSem }()

	for attempt := 0; ; attempt++ {
		c, reused, err := u.bindConn(ctx)
		if err != nil {
			return false, u.dialFailed(ctx, err)
		}
		err = c.bind(ctx, usr.Key, password, u.cfg.Timeout)
		if err == nil {
			u.release(c)
			return true, nil
		}
		// An idle connection may have been dropped by the server (a
		// restart, an idle timeout): one more try on a new one.
		ok, retry, err := u.bindFailed(ctx, c, usr, err, reused && attempt == 0)
		if !retry {
			return ok, err
		}
	}
}

// The failure paths below are functions of their own: CheckPassword's
// frame stays small on the way to the socket (see ldapfront's
// authenticate).

//go:noinline
func (u *Upstream) checkErr(format string, args ...any) error {
	return u.errf("password check", format, args...)
}

//go:noinline
func (u *Upstream) dialFailed(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return u.checkErr("%w", ctx.Err())
	case errors.Is(err, ErrClosed):
		return u.checkErr("%w", err)
	}
	return u.checkErr("%w: %w", upstream.ErrUnavailable, err)
}

// bindFailed classifies a failed bind on c: a wrong password (false, nil),
// an answer refusing it, or a broken connection, which is retried once
// when canRetry.
//
//go:noinline
func (u *Upstream) bindFailed(ctx context.Context, c *bindConn, usr *upstream.User, err error, canRetry bool) (ok, retry bool, _ error) {
	var le *ldapError
	switch {
	case ctx.Err() != nil:
		c.close()
		return false, false, u.checkErr("%w", ctx.Err())
	case errors.As(err, &le) && le.code == invalidCredentials:
		u.release(c)
		u.log.Debug("password check failed", "dn", usr.Key)
		return false, false, nil
	case errors.As(err, &le):
		// The server answered: the connection stays usable.
		u.release(c)
		sentinel := upstream.ErrRejected
		switch le.code {
		case 51, 52, 3, 80: // busy, unavailable, timeLimitExceeded, other
			sentinel = upstream.ErrUnavailable
		}
		return false, false, u.checkErr("binding as %q: %w: %w", usr.Key, sentinel, err)
	}
	// A network or protocol failure: the connection is gone.
	c.close()
	if u.isClosed() {
		return false, false, u.checkErr("%w", ErrClosed)
	}
	if canRetry {
		return false, true, nil
	}
	return false, false, u.checkErr("binding as %q at %s: %w: %w", usr.Key, c.url, upstream.ErrUnavailable, err)
}

// acquireBind takes a bind-connection token, waiting at most the
// configured timeout when all of them are in use.
func (u *Upstream) acquireBind(ctx context.Context) error {
	select {
	case u.bindSem <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(u.cfg.Timeout)
	defer t.Stop()
	select {
	case u.bindSem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("%w: all %d bind connections stayed busy for %s", upstream.ErrUnavailable, u.cfg.BindConnections, u.cfg.Timeout)
	}
}

// bindConn takes an idle password-check connection or dials a new one.
func (u *Upstream) bindConn(ctx context.Context) (c *bindConn, reused bool, err error) {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil, false, ErrClosed
	}
	if n := len(u.idle); n > 0 {
		c = u.idle[n-1]
		u.idle = u.idle[:n-1]
	}
	u.mu.Unlock()
	if c != nil {
		return c, true, nil
	}
	c, err = u.dialBind(ctx)
	if err != nil {
		return nil, false, err
	}
	u.log.Debug("connected for password checks", "url", c.url)
	return c, false, nil
}

// release returns a healthy connection to the idle list.
func (u *Upstream) release(c *bindConn) {
	u.mu.Lock()
	if !u.closed {
		u.idle = append(u.idle, c)
		c = nil
	}
	u.mu.Unlock()
	if c != nil {
		c.close()
	}
}

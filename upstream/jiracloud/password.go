package jiracloud

import (
	"context"
	"time"

	"github.com/dirgate/dirgate/internal/cloudhttp"
	"github.com/dirgate/dirgate/upstream"
)

// Password checks share one client whose credentials come with each
// request's context.
const (
	loginConcurrency = 16
	loginMaxWait     = 10 * time.Second
)

type credKey struct{}

type credentials struct{ email, token string }

func (u *Upstream) checkPassword(ctx context.Context, usr *upstream.User, password string) (bool, error) {
	const op = "password check"
	if err := ctx.Err(); err != nil {
		return false, u.errf(op, "%w", err)
	}
	if u.isClosed() {
		return false, u.errf(op, "%w", ErrClosed)
	}
	if usr == nil || password == "" {
		return false, nil
	}
	log := u.log.With("username", usr.Username)
	switch {
	case !usr.Active:
		log.Debug("password check denied: the account is inactive")
		return false, nil
	case usr.Email == "":
		// Basic authentication needs the address, which the user's privacy
		// settings hide from dirgate.
		log.Debug("password check denied: the account's e-mail address is hidden")
		return false, nil
	}
	bctx, cancel := u.bind(ctx)
	defer cancel()
	bctx = context.WithValue(bctx, credKey{}, credentials{usr.Email, password})
	var me struct {
		AccountID string `json:"accountId"`
	}
	_, err := u.login.Get(bctx, pathMyself, nil, &me)
	switch {
	case err == nil:
		if me.AccountID != usr.Key {
			log.Debug("password check denied: the token belongs to another account")
			return false, nil
		}
		return true, nil
	case ctx.Err() != nil:
		return false, u.errf(op, "%w", ctx.Err())
	case u.isClosed():
		return false, u.errf(op, "%w", ErrClosed)
	case cloudhttp.IsKind(err, cloudhttp.KindAuth), cloudhttp.IsKind(err, cloudhttp.KindPermission):
		// 401: not a valid token for this address; 403: Atlassian wants a
		// CAPTCHA after failed logins, which an API client cannot solve.
		log.Debug("password check denied by the site", "err", err)
		return false, nil
	default:
		return false, u.errf(op, "for %q: %w", usr.Username, err)
	}
}

//go:build !linux

package ldapload

import (
	"context"
	"errors"
)

func runEpoll(context.Context, Config, rawOp) (Report, error) {
	return Report{}, errors.New("ldapload: Epoll is Linux only")
}

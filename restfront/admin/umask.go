package admin

import (
	"bytes"
	"io"
	"syscall"
)

// umask sets the process umask and returns the old one, so the socket is
// created without a window in which others could connect.
func umask(m int) int { return syscall.Umask(m) }

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

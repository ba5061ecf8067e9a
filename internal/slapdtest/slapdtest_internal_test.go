package slapdtest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// fakeTB records Skip and Fatal instead of ending the test.
type fakeTB struct {
	testing.TB
	skipped, fatal string
}

var errStopped = errors.New("test stopped")

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skip(args ...any) {
	f.skipped = fmt.Sprint(args...)
	panic(errStopped)
}
func (f *fakeTB) Fatal(args ...any) {
	f.fatal = fmt.Sprint(args...)
	panic(errStopped)
}

func TestMissingSlapd(t *testing.T) {
	saved := binDirs
	binDirs = nil
	t.Cleanup(func() { binDirs = saved })
	t.Setenv("PATH", t.TempDir())

	run := func() *fakeTB {
		tb := &fakeTB{TB: t}
		func() {
			defer func() {
				if r := recover(); r != nil && r != errStopped {
					panic(r)
				}
			}()
			findInstall(tb)
		}()
		return tb
	}

	t.Setenv("CI", "")
	if tb := run(); tb.fatal != "" || !strings.Contains(tb.skipped, "install") {
		t.Errorf("outside CI: skipped %q, fatal %q; want a skip", tb.skipped, tb.fatal)
	}
	t.Setenv("CI", "true")
	if tb := run(); tb.skipped != "" || !strings.Contains(tb.fatal, "slapd") || !strings.Contains(tb.fatal, "make test") {
		t.Errorf("in CI: skipped %q, fatal %q; want a failure", tb.skipped, tb.fatal)
	}
}

//go:build !failpoints

package cache

// failpoint marks a place where the crash-safety tests stop a sync (see
// failpoint_on.go); normal builds compile it away.
func failpoint(string) {}

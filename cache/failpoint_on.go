//go:build failpoints

package cache

import (
	"fmt"
	"os"
)

// failpoint, in binaries built with -tags failpoints for the crash-safety
// tests, stops the process at the named place when DIRGATE_FAILPOINT names
// it: it announces itself on stderr and waits to be killed.
func failpoint(name string) {
	if os.Getenv("DIRGATE_FAILPOINT") != name {
		return
	}
	fmt.Fprintf(os.Stderr, "FAILPOINT %s reached\n", name)
	select {}
}

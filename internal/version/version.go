// Package version holds dirgate's version, set at build time with
// -ldflags "-X github.com/dirgate/dirgate/internal/version.Version=...".
package version

import "runtime/debug"

// Version is the release; "dev" for builds from a checkout.
var Version = "dev"

// String returns the version, with the VCS revision when it is known.
func String() string {
	if Version != "dev" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return Version
}

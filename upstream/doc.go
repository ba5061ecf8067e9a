// Package upstream defines what dirgate reads from: the user and group
// records an upstream directory reports, and one small interface per
// capability (Syncer, PasswordChecker; local adds a Writer). Each upstream
// type lives in its own subpackage with a Config, its Validate and an Open.
//
// Data flow: the cache's refresher calls Sync on each upstream in turn and
// applies the result atomically; frontends never read an upstream, except
// to check a password through PasswordChecker.
package upstream

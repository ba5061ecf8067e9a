// Package config reads dirgate's YAML configuration: strict decoding (unknown
// keys are errors), ${VAR} expansion and *_file secrets, defaults, and
// validation that reports every problem at once with its key path.
//
// The schema is the contract in ARCHITECTURE.md; the upstream sections are
// the Config types of the upstream packages.
//
// Data flow: Load reads the file and hands it to Parse, which
//
//  1. parses the YAML into a yaml.Node tree (one document only);
//  2. walks the tree guided by the Config type (decode.go): fields are
//     matched by yaml tag, ${VAR} is expanded in scalars, `X_file: path`
//     fills the secret.String field X from a file, and each upstreams[]
//     entry is split into the common Upstream keys and a fresh Config of its
//     type (upstreams.go maps type names to those);
//  3. applies the defaults and resolves relative paths against the
//     directory of the file (defaults.go);
//  4. validates everything, the upstream types through their own Validate
//     (validate.go).
//
// Every problem of steps 2 and 4 is collected into one *Error, with its key
// path and line, in document order; `dirgate config check` prints it. No
// message holds a secret or the value of an environment variable.
package config

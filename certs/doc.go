// Package certs provides TLS material for the frontends: PEM files from the
// configuration, or a self-signed CA and server certificate created on first
// start and persisted under data_dir/certs, reloaded when the files change.
package certs

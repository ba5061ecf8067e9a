// Package certs provides the TLS material of the frontends: the LDAP
// listener (plain with StartTLS, and LDAPS) and the optional HTTPS REST
// listener.
//
// A [Config] comes from `ldap.tls` or `rest.tls`. It works in one of two
// modes:
//
//   - Configured files (cert_file and key_file set): the PEM certificate
//     chain and key are loaded at [Open] and reloaded when they change on
//     disk. GetCertificate stats both files at most once per second (no
//     background goroutine); when their modification time, size or inode
//     changed, the pair is reloaded. New handshakes get the new certificate;
//     established connections keep the one they negotiated. A reload that
//     fails (for example the key was replaced before the certificate, so the
//     two do not match yet) keeps serving the old certificate, logs a
//     warning naming the files, and is retried at the next check.
//
//   - Self-signed (both empty): a local CA and a server certificate signed by
//     it are created under Config.Dir (data_dir/certs) on first start and
//     reused afterwards:
//
//     ca.pem          the CA certificate, for clients to trust (0644)
//     ca-key.pem      the CA key, needed to renew the server certificate (0600)
//     server.pem      the server certificate followed by the CA (0644)
//     server-key.pem  the server key (0600)
//
//     The directory is created with mode 0700. Every file is written to a
//     temporary file and renamed into place, so a crash never leaves half a
//     file. A server certificate that is expired, expires within 30 days,
//     lacks a requested host, or does not match its key (a renewal
//     interrupted between the two renames) is replaced by a new one from the
//     same CA, so clients that trust ca.pem keep working; a running server
//     also renews it in place when it comes within 30 days of expiry. Files
//     that cannot be parsed are an error naming the file: they are never
//     silently overwritten.
//
// [ReadInfo] describes the certificate on disk without creating anything, for
// `dirgate status` when the server is not running.
package certs

// Package ldapfront serves the cached, merged directory over LDAP (gldap):
// the mapping of users, groups and service accounts onto the LDAP tree of
// ARCHITECTURE.md, binds, search with our own filter evaluator, paging, TLS
// and limits. The tree mapping is also what `dirgate cache export --format
// ldif` writes, so an export is exactly what a client would read.
package ldapfront

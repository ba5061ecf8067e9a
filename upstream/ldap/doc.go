// Package ldap is the upstream type "ldap": an LDAP directory such as
// OpenLDAP, 389-ds or Active Directory, read with go-ldap.
//
// Data flow: the cache's refresher calls Sync, which runs RFC 2696 paged
// subtree searches under user_base and group_base on one reused, service-
// bound connection and converts each page into upstream.User and
// upstream.Group records keyed by the normalised DN (NormalizeDN). Full
// syncs read everything; incremental syncs read what changed since the
// cursor of the last committed sync (modifyTimestamp, or uSNChanged on
// Active Directory) and never report deletions. Frontends call
// CheckPassword, which binds as the user on a small pool of separate
// connections. Open does not connect, so dirgate serves its cache while the
// directory is down; URLs are tried in order on every (re)connection.
package ldap

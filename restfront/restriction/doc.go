// Package restriction parses and evaluates the search restrictions of the
// Crowd usermanagement/1 API's /search resource.
//
// POST /search carries a restriction body: XML (what Jira, Confluence and
// Bitbucket send — <null-search-restriction/> for a full sync, name IS
// NULL for the test-connection probe, an OR of CONTAINS for the user
// preview) or JSON; ParseXML and ParseJSON read them. GET /search carries
// a CQL string (email=bob@example.net, name="admin*" and active=false),
// read by ParseCQL. All three produce the same tree of Null, Property and
// Boolean values, bounded by MaxDepth and MaxRestrictions, or an *Error
// wrapping ErrInvalid that the REST frontend answers with 400
// ILLEGAL_ARGUMENT "Search restriction is invalid: " + Error.Detail.
//
// The search then asks Exact whether the tree pins name or email to one
// value, so it can fetch that entry from an index instead of scanning,
// and keeps the candidates for which Match is true, in name order. Match
// sees a user or group through the small Entity interface: one Value
// (string, strings, boolean or time) per canonical property name or custom
// attribute. Its semantics — case-insensitive strings, NULL as "absent or
// empty", any-value for multi-valued attributes, empty And true and empty
// Or false — are documented on Match.
//
// String and Format render a restriction on one line for logs.
package restriction

// Package jiracloud is the upstream type "jiracloud": the users, groups and
// memberships of a Jira Cloud site, read over the Jira platform REST API v3
// with Basic email:api_token through internal/cloudhttp (bounded
// concurrency, 429/503 retries that honour Retry-After and
// X-RateLimit-Reset and never retry early, errors classified for status).
//
// Data flow: the cache's refresher calls Sync, which checks the credential
// once (GET /myself, then one small request per permission a sync needs)
// and then reads everything: users from /users/search, groups from
// /group/bulk, and each group's members from /group/member with
// includeInactiveUsers=true, several groups at a time. Every sync is full:
// a site credential has no change feed, and a full result is how deletions
// are seen. Records are keyed by accountId (users) and groupId (groups);
// Jira Cloud has no nested groups, so members are account IDs only.
//
// API quirks handled (shared/specs/cloud-apis.md §2):
//
//   - users/search answers a bare array with neither total nor isLast, may
//     clamp maxResults below what was asked and may return short pages: the
//     crawl advances by what came back and ends only on an empty page
//     (which costs one request), de-duplicates by accountId (offsets shift
//     when accounts change mid-crawl), stops after a safety cap of pages or
//     when pages bring nothing new, and asks for smaller pages after a 409
//     ("took longer than 10 seconds").
//   - PageBeans (group/bulk, group/member) end at isLast, else at total,
//     else at an empty page (some endpoints omit total); a listing whose
//     total changes between pages is read once more from the start.
//   - The listing includes app and customer accounts (kept per
//     account_types) and deactivated ones (kept inactive unless
//     include_inactive is false); emailAddress is absent when a user's
//     privacy settings hide it: with username_from email such a user is
//     named by account ID, carries the attribute emailHidden, and Warnings
//     counts them. Jira has display names only: first and last names are
//     derived from it (last word = last name).
//   - A group deleted between the group listing and its member listing
//     answers 404: it is left out, logged, and named in Warnings; the sync
//     goes on (unless most groups vanish, which looks like a broken site).
//   - 401 is an expired or revoked token: the error wraps
//     upstream.ErrCredentials and says so, with no retries. 403 names the
//     missing global permission: Browse users and groups for the listings,
//     Administer Jira for group/member. api_token_expires in the past fails
//     a sync before any request; within 14 days it is a warning.
//   - The api.atlassian.com/ex/jira/{cloudId} form of url (scoped tokens,
//     service accounts) is accepted as well as the site URL.
//
// Passwords: Atlassian accounts have no password dirgate could verify.
// People log in to Atlassian through id.atlassian.com (often via SSO); the
// REST API takes no account password, only API tokens and OAuth. So auth
// chooses what a "password" means for this upstream's users:
//
//   - none (default): nobody logs in through this upstream; its users and
//     groups are directory data only. The Upstream is not a
//     PasswordChecker, so frontends never send it a password.
//   - api_token: the password is the user's own Atlassian API token,
//     verified with GET /myself as the user (Basic user-email:token); the
//     answer's accountId must be the user's. AsUpstream returns a
//     PasswordUpstream, which adds CheckPassword.
//   - local: the password is one dirgate keeps itself (the local
//     upstream, set with dirgate's admin tools); this package only accepts
//     the value, the wiring is the runtime's.
package jiracloud

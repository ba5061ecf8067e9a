// Package jirafake is an in-process fake of the Jira Cloud platform REST API
// (v2 and v3) for the endpoints a directory reader uses, written from
// shared/specs/cloud-apis.md §2 rather than from dirgate's connector:
//
//   - GET /rest/api/3/myself: the caller's own account (Basic email:api_token;
//     a bad, unknown or expired token gets 401 with one of the bodies Jira is
//     seen to send: plain text, JSON, XML or HTML).
//   - GET /rest/api/3/users/search and /rest/api/3/users: a bare JSON array,
//     startAt (default 0) and maxResults (default 50, clamped to a cap of
//     1000), no total, [] past the end; inactive users and app and customer
//     accounts included; emailAddress absent for privacy-hidden addresses.
//   - GET /rest/api/3/group/bulk: a PageBean {self, nextPage, maxResults,
//     startAt, total, isLast, values:[{groupId, name}]}, default and cap 50.
//   - GET /rest/api/3/group/member?groupId=…|groupname=…&includeInactiveUsers=…:
//     a PageBean of UserDetails; 403 ErrorCollection without an admin
//     credential (Administer Jira), 404 for an unknown group, 400 unless
//     exactly one of groupId and groupname is given.
//
// The same routes answer under /ex/jira/{cloudId} (the api.atlassian.com form
// scoped tokens use).
//
// Tests mutate the site while it serves (users, groups, memberships, tokens;
// every method is safe for concurrent use) and flip knobs: page caps, short
// pages before the end, PageBeans without total or isLast, 429 with or
// without Retry-After for the next K requests (a retry inside the window is
// answered 429 again with a longer Retry-After and counted as an early
// retry), 503, 409 on users/search, expired tokens, a non-admin credential,
// hooks that run before the Nth request to an endpoint (to delete a group
// between pages of a sync), and a down switch. Requests are counted per
// endpoint and logged.
//
// Generate and Big build deterministic datasets; a Dataset literal builds a
// small fixture.
package jirafake

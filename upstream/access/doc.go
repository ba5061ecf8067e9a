// Package access is the upstream type "access": an Atlassian organization
// (Atlassian Admin, formerly "Atlassian Access") read through the Admin
// REST API with an organization API key (cloud-apis.md §3). Every request
// goes through internal/cloudhttp: bounded concurrency, retries of 429 and
// 503 that wait for Retry-After or X-RateLimit-Reset and never retry
// early, and classified errors.
//
// # What a full sync reads
//
// The v2 directory APIs under
// /admin/v2/orgs/{org_id}/directories/{directory_id} ("-" is every
// directory the key manages). There is no
// "members of a group" endpoint, so memberships come with the users: POST
// users/search with expand=groups returns each account with its groups,
// and POST groups/search adds every group (empty ones appear nowhere
// else). That is the fewest requests the API allows: one per 100 users
// plus one per 100 groups, plus one events-stream request (below); for
// 10,000 users and 500 groups, 106. The alternative, users?groupIds=G per
// group, costs at least one more request per group; it is used only when
// the POST searches answer 404 or 405 (the GET lists have no expand), and
// for the few groups an incremental sync refetches. Users are listed
// before groups, so a group deleted during the sync is missing from the
// group list and its memberships are dropped (a warning says how many).
//
// Accounts become upstream.User with Key and ExternalID the accountId;
// groups become upstream.Group keyed by the group id, with the members'
// account IDs. The username is the account's nickname (username: email or
// account_id choose otherwise), the first and last names are the full
// name split at the first space, and an account is inactive when its
// accountStatus is inactive or closed, its membershipStatus suspended, or
// its status suspended, deactivated or for_deletion. App accounts (bots)
// are left out: nobody logs in as them. Groups are flat: Atlassian Cloud
// has no nested groups.
//
// # API quirks handled
//
//   - Cursor paging: links.next is an opaque token (a full URL is accepted
//     too, taking its cursor parameter); follow-ups send only the cursor,
//     and a listing ends when links.next is empty, never on a short page.
//     Items are de-duplicated by ID; a cursor seen twice or more than
//     100,000 pages fail the listing.
//   - Cursors expire: a follow-up answered 400 (ADMIN-400-1) restarts that
//     listing from its first page once; a second refusal fails the sync.
//   - limit is at most 100 (page_size is validated against it).
//   - 401 means the key was rejected: the error wraps
//     upstream.ErrCredentials and says the key may have expired; nothing is
//     retried. 403 names the scope the key lacks (read:directories:admin,
//     read:groups:admin, read:events:admin). A wrong org_id is named.
//   - The API does not tell when a key expires (keys last a week by
//     default, a year at most). api_key_expires records it: Warnings says so
//     from 14 days before, and once the day has passed Sync fails at once
//     with an error wrapping ErrCredentials, without a request.
//   - A group deleted between its listing and its member listing (404) is
//     skipped, not the sync.
//
// # Incremental syncs
//
// With events on (the default), the cursor holds a position in the org's
// audit events stream (GET /admin/v1/orgs/{org_id}/events-stream), whose
// cursor keeps working past the last page and then returns newer events.
// A full sync takes the position before it lists anything (the events
// processed since ten minutes before it started, to be safe from clock
// differences, paged past in one request), so that a change made while it
// lists is replayed by the next incremental sync rather than missed;
// replays are harmless because every event only triggers a refetch. The
// stream allows 10 requests a minute: its requests go through a separate
// client paced at one per 6.5 s.
//
// An incremental sync reads the events since the position and refetches
// what they name: users (accountIds filter, ten per request) for user
// events, and groups (groupIds filter) with their members (one member
// listing per group) for group and membership events. A user or group
// that is no longer there is reported in DeletedUsers or DeletedGroups.
// The action keys are not documented (the spec says to learn them from
// /event-actions); the ones mapped are listed in knownActions. It falls
// back to a full sync (Result.Full, with a warning unless the reason is
// routine) when the stored events cursor is refused, when an event has an
// unknown action that may concern the directory (it names a user or group,
// or its key mentions users, groups, members, accounts or directories) or
// lacks the user or group its action needs, when more than 10,000 events
// wait, or when the refetches would cost more than half of the last full
// sync. Unknown actions that concern nothing of the directory (policies,
// domains, products) are ignored.
//
// Removing an account is not known to produce per-group events, so after
// an incremental sync the groups of a removed user may still list its key
// until the next full sync; the cache ignores member keys that name no
// user, so what it serves is the same. refresh.full_every keeps the
// periodic full sync that also covers what the audit log does not record
// (its retention and plan requirements are unverified, cloud-apis.md U9).
//
// # Authentication
//
// The Admin API cannot check a user's password, so this package does not
// implement upstream.PasswordChecker. auth: none (the default) means the
// organization's users are served for lookups and group memberships but
// cannot log in through dirgate; auth: local has dirgate's local directory
// check their passwords, which is wired outside this package.
package access

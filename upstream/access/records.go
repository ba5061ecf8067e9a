package access

import (
	"slices"
	"strings"
	"time"

	"github.com/dirgate/dirgate/upstream"
)

// apiUser is the part of a MultiDirectoryUser (cloud-apis.md §3.3) the
// connector reads. JSON nulls leave fields empty.
type apiUser struct {
	AccountID        string `json:"accountId"`
	AccountType      string `json:"accountType"`
	Status           string `json:"status"`
	AccountStatus    string `json:"accountStatus"`
	MembershipStatus string `json:"membershipStatus"`
	AddedToOrg       string `json:"addedToOrg"`
	Name             string `json:"name"`
	Nickname         string `json:"nickname"`
	Email            string `json:"email"`
	ClaimStatus      string `json:"claimStatus"`
	ManagementSource string `json:"managementSource"`
	JobTitle         string `json:"jobTitle"`
	Department       string `json:"department"`
	Organization     string `json:"organization"`
	Location         string `json:"location"`
	TimeZone         string `json:"timeZone"`
	// Groups is there with expand=groups only.
	Groups []struct {
		ID string `json:"id"`
	} `json:"groups"`
}

// apiGroup is the part of a MultiDirectoryGroup the connector reads.
type apiGroup struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Description    string `json:"description"`
	DirectoryID    string `json:"directoryId"`
	ManagedBy      string `json:"managedBy"`
	ExternalSynced bool   `json:"externalSynced"`
}

// user converts an account; ok is false for accounts dirgate does not
// serve: app accounts (bots, which cannot log in) and records without an
// account ID.
func (s *syncRun) user(a *apiUser) (upstream.User, bool) {
	if a.AccountID == "" || strings.EqualFold(a.AccountType, "app") {
		return upstream.User{}, false
	}
	var name string
	switch s.cfg.Username {
	case UsernameEmail:
		name = a.Email
	case UsernameAccountID:
		name = a.AccountID
	default:
		name = a.Nickname
		if strings.TrimSpace(name) == "" {
			name = a.Email
		}
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = a.AccountID
	}
	full := strings.Join(strings.Fields(a.Name), " ")
	first, last, _ := strings.Cut(full, " ")
	u := upstream.User{
		Key: a.AccountID, ExternalID: a.AccountID, Username: name,
		FirstName: first, LastName: last, DisplayName: full, Email: strings.TrimSpace(a.Email),
		Active: active(a),
	}
	if t, err := time.Parse(time.RFC3339, a.AddedToOrg); err == nil {
		u.Created = t.UTC()
	}
	attrs := map[string][]string{}
	for _, kv := range [][2]string{
		{"account_type", a.AccountType}, {"status", a.Status}, {"account_status", a.AccountStatus},
		{"membership_status", a.MembershipStatus}, {"claim_status", a.ClaimStatus},
		{"management_source", a.ManagementSource}, {"job_title", a.JobTitle}, {"department", a.Department},
		{"organization", a.Organization}, {"location", a.Location}, {"time_zone", a.TimeZone},
	} {
		if v := strings.TrimSpace(kv[1]); v != "" {
			attrs[kv[0]] = []string{v}
		}
	}
	if len(attrs) > 0 {
		u.Attributes = attrs
	}
	return u, true
}

// active maps the three status fields to enabled/disabled (cloud-apis.md
// §3.3): an inactive or closed account, a suspended membership, or a
// suspended, deactivated or to-be-deleted user is disabled. (no_membership
// is not: its meaning is undocumented, and the account is in the
// directory.)
func active(a *apiUser) bool {
	switch strings.ToLower(a.AccountStatus) {
	case "inactive", "closed":
		return false
	}
	switch strings.ToLower(a.MembershipStatus) {
	case "suspended":
		return false
	}
	switch strings.ToLower(a.Status) {
	case "suspended", "deactivated", "for_deletion":
		return false
	}
	return true
}

// group converts a group; members are filled in later.
func group(g *apiGroup) (upstream.Group, bool) {
	name := strings.TrimSpace(g.Name)
	if g.ID == "" || name == "" {
		return upstream.Group{}, false
	}
	out := upstream.Group{Key: g.ID, ExternalID: g.ID, Name: name, Description: g.Description, Active: true}
	attrs := map[string][]string{}
	if g.DirectoryID != "" {
		attrs["directory_id"] = []string{g.DirectoryID}
	}
	if g.ManagedBy != "" {
		attrs["managed_by"] = []string{g.ManagedBy}
	}
	if g.ExternalSynced {
		attrs["external_synced"] = []string{"true"}
	}
	if len(attrs) > 0 {
		out.Attributes = attrs
	}
	return out, true
}

// sortedUnique sorts ids and drops repeats.
func sortedUnique(ids []string) []string {
	slices.Sort(ids)
	return slices.Compact(ids)
}

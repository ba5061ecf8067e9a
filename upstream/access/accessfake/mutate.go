package accessfake

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// The mutations change the directory as an administrator (or a synced
// identity provider) would, and append the matching audit event(s)
// unless SuppressEvents is on. They fail on unknown IDs.

func userCtx(u *User) Ref {
	return Ref{ID: u.AccountID, Type: "users", Name: u.Name, Email: u.Email}
}

func groupCtx(g *Group) Ref { return Ref{ID: g.ID, Type: "groups", Name: g.Name} }

func (s *Server) event(now time.Time, action, msg string, ctx ...Ref) {
	s.appendEventLocked(Event{Action: action, Message: msg, Context: ctx}, now, false)
}

func insertSorted(list []string, k string) []string {
	i := sort.SearchStrings(list, k)
	return slices.Insert(list, i, k)
}

func removeSorted(list []string, k string) []string {
	i := sort.SearchStrings(list, k)
	if i < len(list) && list[i] == k {
		return slices.Delete(list, i, i+1)
	}
	return list
}

// AddUser adds an account (AccountID generated when empty) and returns its
// ID; event ActionUserCreated.
func (s *Server) AddUser(u User) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	if u.AccountID == "" {
		s.idSeq++
		u.AccountID = fmt.Sprintf("712020:fa4e0000-0000-4000-8000-%012d", s.idSeq)
	}
	if s.users[u.AccountID] != nil {
		return "", fmt.Errorf("account %s exists", u.AccountID)
	}
	if u.DirectoryID == "" {
		u.DirectoryID = s.dirs[0].ID
	}
	if u.AddedToOrg.IsZero() {
		u.AddedToOrg = now.UTC().Truncate(time.Second)
	}
	s.users[u.AccountID] = &u
	s.userOrder = insertSorted(s.userOrder, u.AccountID)
	s.event(now, ActionUserCreated, "Added "+u.Name+" to the directory", userCtx(&u))
	return u.AccountID, nil
}

// UpdateUser changes an account with fn (its AccountID must stay);
// event ActionUserUpdated.
func (s *Server) UpdateUser(accountID string, fn func(*User)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[accountID]
	if u == nil {
		return fmt.Errorf("no account %s", accountID)
	}
	c := *u
	fn(&c)
	c.AccountID = accountID
	*u = c
	s.event(s.clock.Now(), ActionUserUpdated, "Updated the profile of "+u.Name, userCtx(u))
	return nil
}

// RemoveUser removes an account from the organization, and from its
// groups without further events; event ActionUserRemoved.
func (s *Server) RemoveUser(accountID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[accountID]
	if u == nil {
		return fmt.Errorf("no account %s", accountID)
	}
	for g := range s.userGroups[accountID] {
		delete(s.members[g], accountID)
	}
	delete(s.userGroups, accountID)
	delete(s.users, accountID)
	s.userOrder = removeSorted(s.userOrder, accountID)
	s.event(s.clock.Now(), ActionUserRemoved, "Removed "+u.Name+" from the organization", userCtx(u))
	return nil
}

// AddGroup adds a group (ID generated when empty) and returns its ID;
// event ActionGroupCreated.
func (s *Server) AddGroup(g Group) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g.ID == "" {
		s.idSeq++
		g.ID = fmt.Sprintf("9f0c2d4e-0000-4000-8000-%012d", s.idSeq)
	}
	if s.groups[g.ID] != nil {
		return "", fmt.Errorf("group %s exists", g.ID)
	}
	if g.DirectoryID == "" {
		g.DirectoryID = s.dirs[0].ID
	}
	s.groups[g.ID] = &g
	s.groupOrder = insertSorted(s.groupOrder, g.ID)
	s.members[g.ID] = map[string]bool{}
	s.event(s.clock.Now(), ActionGroupCreated, "Created the group "+g.Name, groupCtx(&g))
	return g.ID, nil
}

// UpdateGroup changes a group with fn (its ID must stay); event
// ActionGroupUpdated.
func (s *Server) UpdateGroup(id string, fn func(*Group)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[id]
	if g == nil {
		return fmt.Errorf("no group %s", id)
	}
	c := *g
	fn(&c)
	c.ID = id
	*g = c
	s.event(s.clock.Now(), ActionGroupUpdated, "Updated the group "+g.Name, groupCtx(g))
	return nil
}

// DeleteGroup deletes a group; event ActionGroupDeleted only.
func (s *Server) DeleteGroup(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups[id] == nil {
		return fmt.Errorf("no group %s", id)
	}
	s.deleteGroupLocked(id, s.clock.Now())
	return nil
}

func (s *Server) deleteGroupLocked(id string, now time.Time) {
	g := s.groups[id]
	for a := range s.members[id] {
		delete(s.userGroups[a], id)
	}
	delete(s.members, id)
	delete(s.groups, id)
	s.groupOrder = removeSorted(s.groupOrder, id)
	s.event(now, ActionGroupDeleted, "Deleted the group "+g.Name, groupCtx(g))
}

func (s *Server) addMemberLocked(groupID, accountID string) bool {
	if s.members[groupID][accountID] {
		return false
	}
	s.members[groupID][accountID] = true
	if s.userGroups[accountID] == nil {
		s.userGroups[accountID] = map[string]bool{}
	}
	s.userGroups[accountID][groupID] = true
	return true
}

// AddMember adds an account to a group; event ActionUserAddedToGroup
// (none when it was a member already).
func (s *Server) AddMember(groupID, accountID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addMember(groupID, accountID, s.clock.Now())
}

func (s *Server) addMember(groupID, accountID string, now time.Time) error {
	g, u := s.groups[groupID], s.users[accountID]
	if g == nil || u == nil {
		return fmt.Errorf("no group %s or account %s", groupID, accountID)
	}
	if s.addMemberLocked(groupID, accountID) {
		s.event(now, ActionUserAddedToGroup, "Added "+u.Name+" to "+g.Name, groupCtx(g), userCtx(u))
	}
	return nil
}

// RemoveMember removes an account from a group; event
// ActionUserRemovedFromGroup (none when it was not a member).
func (s *Server) RemoveMember(groupID, accountID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.removeMember(groupID, accountID, s.clock.Now())
}

func (s *Server) removeMember(groupID, accountID string, now time.Time) error {
	g, u := s.groups[groupID], s.users[accountID]
	if g == nil || u == nil {
		return fmt.Errorf("no group %s or account %s", groupID, accountID)
	}
	if s.members[groupID][accountID] {
		delete(s.members[groupID], accountID)
		delete(s.userGroups[accountID], groupID)
		s.event(now, ActionUserRemovedFromGroup, "Removed "+u.Name+" from "+g.Name, groupCtx(g), userCtx(u))
	}
	return nil
}

// SetMembers makes accountIDs the group's members, with one membership
// event per change.
func (s *Server) SetMembers(groupID string, accountIDs []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups[groupID] == nil {
		return fmt.Errorf("no group %s", groupID)
	}
	now := s.clock.Now()
	want := map[string]bool{}
	for _, a := range accountIDs {
		if s.users[a] == nil {
			return fmt.Errorf("no account %s", a)
		}
		want[a] = true
	}
	var drop []string
	for a := range s.members[groupID] {
		if !want[a] {
			drop = append(drop, a)
		}
	}
	sort.Strings(drop)
	for _, a := range drop {
		_ = s.removeMember(groupID, a, now)
	}
	for _, a := range accountIDs {
		_ = s.addMember(groupID, a, now)
	}
	return nil
}

// ---- lookups ---------------------------------------------------------------

// User returns an account.
func (s *Server) User(accountID string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[accountID]; u != nil {
		return *u, true
	}
	return User{}, false
}

// UserByNickname returns the first account (by ID) with that nickname,
// case-insensitively.
func (s *Server) UserByNickname(nick string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.userOrder {
		if u := s.users[id]; strings.EqualFold(u.Nickname, nick) {
			return *u, true
		}
	}
	return User{}, false
}

// GroupByName returns the first group (by ID) with that name,
// case-insensitively.
func (s *Server) GroupByName(name string) (Group, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.groupOrder {
		if g := s.groups[id]; strings.EqualFold(g.Name, name) {
			return *g, true
		}
	}
	return Group{}, false
}

// Users returns every account, by ID.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, 0, len(s.userOrder))
	for _, id := range s.userOrder {
		out = append(out, *s.users[id])
	}
	return out
}

// Groups returns every group, by ID.
func (s *Server) Groups() []Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Group, 0, len(s.groupOrder))
	for _, id := range s.groupOrder {
		out = append(out, *s.groups[id])
	}
	return out
}

// Members returns the account IDs of a group's members, sorted.
func (s *Server) Members(groupID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.members[groupID]))
	for a := range s.members[groupID] {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

package restfront

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"

	"github.com/dirgate/dirgate/cache"
)

// Incremental sync for Atlassian applications (crowd-rest.md §7): GET
// /event hands out the journal's head as a token, GET /event/{token} the
// changes since, rendered for the application. Every journal entry names
// an entity; the event carries the entity as it is now, which is exact for
// Crowd's semantics (UPDATED memberships replace the complete set).

// maxEventsPerRequest bounds one answer; the client comes back with the
// new token for the rest.
const maxEventsPerRequest = 5000

type nameRef struct {
	Name string `xml:"name,attr" json:"name"`
}

type groupRefs struct {
	Groups []nameRef `xml:"group" json:"groups"`
}

type userEventXML struct {
	XMLName   xml.Name    `xml:"userEvent"`
	Operation string      `xml:"operation"`
	User      *userXML    `xml:"user"`
	Stored    *eventAttrs `xml:"storedAttributes"`
	Deleted   *eventAttrs `xml:"deletedAttributes"`
}

type groupEventXML struct {
	XMLName   xml.Name    `xml:"groupEvent"`
	Operation string      `xml:"operation"`
	Group     *groupXML   `xml:"group"`
	Stored    *eventAttrs `xml:"storedAttributes"`
	Deleted   *eventAttrs `xml:"deletedAttributes"`
}

// eventAttrs is an event's attribute list (crowd-rest.md §7.1). Created
// and updated entities carry all their attributes as stored: the journal
// names what changed, not which attribute went away, so removed
// attributes are not listed as deleted and reach the client with its next
// full sync.
type eventAttrs struct {
	Attributes []eventAttr `xml:"attribute"`
}

type eventAttr struct {
	Name   string   `xml:"name,attr"`
	Values []string `xml:"values>value"`
}

func storedAttrs(attrs map[string][]string) *eventAttrs {
	l := &eventAttrs{}
	for _, k := range sortedAttrNames(attrs) {
		l.Attributes = append(l.Attributes, eventAttr{Name: k, Values: attrs[k]})
	}
	return l
}

type userMembershipEventXML struct {
	XMLName      xml.Name  `xml:"userMembershipEvent"`
	Operation    string    `xml:"operation"`
	ChildUser    nameRef   `xml:"childUser"`
	ParentGroups groupRefs `xml:"parentGroups"`
}

type groupMembershipEventXML struct {
	XMLName      xml.Name  `xml:"groupMembershipEvent"`
	Operation    string    `xml:"operation"`
	Group        nameRef   `xml:"group"`
	ParentGroups groupRefs `xml:"parentGroups"`
	ChildGroups  groupRefs `xml:"childGroups"`
}

// eventJSON is the JSON form (no known client reads events as JSON; this
// mirrors the XML element names).
type eventJSON struct {
	Type         string     `json:"type"`
	Operation    string     `json:"operation"`
	User         *userJSON  `json:"user,omitempty"`
	Group        *groupJSON `json:"group,omitempty"`
	ChildUser    *nameRef   `json:"childUser,omitempty"`
	GroupRef     *nameRef   `json:"groupName,omitempty"`
	ParentGroups *groupRefs `json:"parentGroups,omitempty"`
	ChildGroups  *groupRefs `json:"childGroups,omitempty"`
}

// eventList is <events newEventToken="…" [incrementalSynchronisationAvailable="true"]>.
type eventList struct {
	token       string
	incremental bool
	x           []any
	j           []eventJSON
}

func (l *eventList) MarshalXML(enc *xml.Encoder, start xml.StartElement) error {
	start.Name = xml.Name{Local: "events"}
	start.Attr = []xml.Attr{{Name: xml.Name{Local: "newEventToken"}, Value: l.token}}
	if l.incremental {
		start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Local: "incrementalSynchronisationAvailable"}, Value: "true"})
	}
	if err := enc.EncodeToken(start); err != nil {
		return err
	}
	for _, e := range l.x {
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	return enc.EncodeToken(start.End())
}

func (l *eventList) MarshalJSON() ([]byte, error) {
	type out struct {
		Token       string      `json:"newEventToken"`
		Incremental *bool       `json:"incrementalSynchronisationAvailable,omitempty"`
		Events      []eventJSON `json:"events"`
	}
	o := out{Token: l.token, Events: l.j}
	if o.Events == nil {
		o.Events = []eventJSON{}
	}
	if l.incremental {
		o.Incremental = boolp(true)
	}
	return json.Marshal(o)
}

func (l *eventList) xmlForm() any  { return l }
func (l *eventList) jsonForm() any { return l }

func (s *Server) eventHead(q *request) {
	q.reply(http.StatusOK, &eventList{token: s.store.Head().String(), incremental: true})
}

func (s *Server) eventsSince(q *request) {
	tok, err := cache.ParseToken(q.r.PathValue("token"))
	var evs []cache.Event
	var next cache.Token
	if err == nil {
		evs, next, err = s.store.EventsSince(tok, maxEventsPerRequest)
	}
	if err != nil {
		if errors.Is(err, cache.ErrTokenExpired) {
			q.fail(http.StatusGone, "EVENT_TOKEN_EXPIRED", "Event token has expired: "+err.Error())
			return
		}
		q.fail(http.StatusInternalServerError, "OPERATION_FAILED", "cannot read the change journal")
		return
	}
	q.reply(http.StatusOK, s.renderEvents(q, evs, next.String()))
}

// renderEvents turns journal entries into Crowd events for q's
// application: each entity once (its last mention), rendered as it is now;
// entity creations and updates first, then memberships (which may name
// them), then deletions.
func (s *Server) renderEvents(q *request, evs []cache.Event, token string) *eventList {
	type key struct {
		kind cache.EventKind
		name string
	}
	last := map[key]int{}
	for i, e := range evs {
		last[key{e.Kind, foldName(e.Name)}] = i
	}
	l := &eventList{token: token}
	var memberships, deletions []func()
	v := q.v
	for i, e := range evs {
		if last[key{e.Kind, foldName(e.Name)}] != i {
			continue
		}
		switch e.Kind {
		case cache.KindUser:
			if u, ok := s.store.User(e.Name); ok {
				op := "UPDATED"
				if e.Op == cache.OpCreated {
					op = "CREATED"
				}
				ue := v.user(u, false, false, false)
				l.x = append(l.x, &userEventXML{Operation: op, User: &ue.x, Stored: storedAttrs(u.Rec.Attributes), Deleted: &eventAttrs{}})
				l.j = append(l.j, eventJSON{Type: "userEvent", Operation: op, User: &ue.j})
			} else {
				name := v.out(e.Name)
				deletions = append(deletions, func() {
					l.x = append(l.x, &userEventXML{Operation: "DELETED", User: &userXML{Name: name}})
					l.j = append(l.j, eventJSON{Type: "userEvent", Operation: "DELETED", User: &userJSON{Name: name}})
				})
			}
		case cache.KindGroup:
			if g, ok := s.store.Group(e.Name); ok {
				op := "UPDATED"
				if e.Op == cache.OpCreated {
					op = "CREATED"
				}
				ge := v.group(g, false, false, false)
				l.x = append(l.x, &groupEventXML{Operation: op, Group: &ge.x, Stored: storedAttrs(g.Rec.Attributes), Deleted: &eventAttrs{}})
				l.j = append(l.j, eventJSON{Type: "groupEvent", Operation: op, Group: &ge.j})
			} else {
				name := v.out(e.Name)
				deletions = append(deletions, func() {
					l.x = append(l.x, &groupEventXML{Operation: "DELETED", Group: &groupXML{Name: name}})
					l.j = append(l.j, eventJSON{Type: "groupEvent", Operation: "DELETED", Group: &groupJSON{Name: name}})
				})
			}
		case cache.KindUserMembership:
			u, ok := s.store.User(e.Name)
			if !ok {
				continue
			}
			memberships = append(memberships, func() {
				parents := refs(v, s.store.UserGroups(u.Rec.Username, false, q.app.aggregate))
				child := nameRef{Name: v.out(u.Rec.Username)}
				l.x = append(l.x, &userMembershipEventXML{Operation: "UPDATED", ChildUser: child, ParentGroups: parents})
				l.j = append(l.j, eventJSON{Type: "userMembershipEvent", Operation: "UPDATED", ChildUser: &child, ParentGroups: &parents})
			})
		case cache.KindGroupMembership:
			g, ok := s.store.Group(e.Name)
			if !ok {
				continue
			}
			memberships = append(memberships, func() {
				parents := refs(v, s.store.GroupParents(g.Rec.Name, false))
				children := refs(v, s.store.GroupChildren(g.Rec.Name, false))
				ref := nameRef{Name: v.out(g.Rec.Name)}
				l.x = append(l.x, &groupMembershipEventXML{Operation: "UPDATED", Group: ref, ParentGroups: parents, ChildGroups: children})
				l.j = append(l.j, eventJSON{Type: "groupMembershipEvent", Operation: "UPDATED", GroupRef: &ref, ParentGroups: &parents, ChildGroups: &children})
			})
		}
	}
	for _, f := range memberships {
		f()
	}
	for _, f := range deletions {
		f()
	}
	return l
}

func refs(v *view, names []string) groupRefs {
	r := groupRefs{Groups: []nameRef{}}
	for _, n := range names {
		r.Groups = append(r.Groups, nameRef{Name: v.out(n)})
	}
	return r
}

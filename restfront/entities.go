package restfront

import (
	"encoding/json"
	"encoding/xml"
	"strconv"
	"time"
)

// The representations of Crowd's usermanagement API (crowd-rest.md §4):
// XML is JAXB's (attributes name/expand, hyphenated elements), JSON is
// Jackson-over-JAXB (the same names, null fields left out, dates as epoch
// milliseconds). Every type here has both forms; `active` is always
// present because the Java client reads it into a primitive.

type link struct {
	Href string `xml:"href,attr" json:"href"`
	Rel  string `xml:"rel,attr" json:"rel"`
}

// xmlTime is xsd:dateTime as JAXB writes java.util.Date.
type xmlTime time.Time

func (t xmlTime) MarshalText() ([]byte, error) {
	return []byte(time.Time(t).UTC().Format("2006-01-02T15:04:05.000Z07:00")), nil
}

// jsonTime is epoch milliseconds.
type jsonTime time.Time

func (t jsonTime) MarshalJSON() ([]byte, error) {
	return strconv.AppendInt(nil, time.Time(t).UnixMilli(), 10), nil
}

type passwordLink struct {
	Link link `xml:"link" json:"link"`
}

type attributeEntity struct {
	Name   string   `xml:"name,attr" json:"name"`
	Link   *link    `xml:"link,omitempty" json:"link,omitempty"`
	Values []string `xml:"values>value" json:"values"`
}

type attributeList struct {
	Link       *link             `xml:"link,omitempty" json:"link,omitempty"`
	Attributes []attributeEntity `xml:"attribute" json:"attributes"`
}

// attributesDoc is an attribute list as a whole response: root element
// <attributes> (crowd-rest.md §4.4); inside a user or group the same list
// takes its field's element name.
type attributesDoc struct{ l *attributeList }

func (d attributesDoc) xmlForm() any {
	return &struct {
		XMLName xml.Name `xml:"attributes"`
		*attributeList
	}{attributeList: d.l}
}

func (d attributesDoc) jsonForm() any { return d.l }

// userXML and userJSON are a user; minimal entries carry name and link only.
type userXML struct {
	XMLName     xml.Name       `xml:"user"`
	Name        string         `xml:"name,attr"`
	Expand      string         `xml:"expand,attr,omitempty"`
	Link        *link          `xml:"link"`
	FirstName   *string        `xml:"first-name"`
	LastName    *string        `xml:"last-name"`
	DisplayName *string        `xml:"display-name"`
	Email       *string        `xml:"email"`
	Password    *passwordLink  `xml:"password"`
	Key         string         `xml:"key,omitempty"`
	Active      *bool          `xml:"active"`
	Created     *xmlTime       `xml:"created-date"`
	Updated     *xmlTime       `xml:"updated-date"`
	Attributes  *attributeList `xml:"attributes"`
}

type userJSON struct {
	Expand      string         `json:"expand,omitempty"`
	Link        *link          `json:"link,omitempty"`
	Name        string         `json:"name"`
	FirstName   *string        `json:"first-name,omitempty"`
	LastName    *string        `json:"last-name,omitempty"`
	DisplayName *string        `json:"display-name,omitempty"`
	Email       *string        `json:"email,omitempty"`
	Password    *passwordLink  `json:"password,omitempty"`
	Key         string         `json:"key,omitempty"`
	Active      *bool          `json:"active,omitempty"`
	Created     *jsonTime      `json:"created-date,omitempty"`
	Updated     *jsonTime      `json:"updated-date,omitempty"`
	Attributes  *attributeList `json:"attributes,omitempty"`
}

type groupXML struct {
	XMLName     xml.Name       `xml:"group"`
	Name        string         `xml:"name,attr"`
	Expand      string         `xml:"expand,attr,omitempty"`
	Link        *link          `xml:"link"`
	Description *string        `xml:"description"`
	Type        string         `xml:"type,omitempty"`
	Active      *bool          `xml:"active"`
	Attributes  *attributeList `xml:"attributes"`
}

type groupJSON struct {
	Expand      string         `json:"expand,omitempty"`
	Link        *link          `json:"link,omitempty"`
	Name        string         `json:"name"`
	Description *string        `json:"description,omitempty"`
	Type        string         `json:"type,omitempty"`
	Active      *bool          `json:"active,omitempty"`
	Attributes  *attributeList `json:"attributes,omitempty"`
}

type userListXML struct {
	XMLName xml.Name  `xml:"users"`
	Expand  string    `xml:"expand,attr"`
	Users   []userXML `xml:"user"`
}

type userListJSON struct {
	Expand string     `json:"expand"`
	Users  []userJSON `json:"users"`
}

type groupListXML struct {
	XMLName xml.Name   `xml:"groups"`
	Expand  string     `xml:"expand,attr"`
	Groups  []groupXML `xml:"group"`
}

type groupListJSON struct {
	Expand string      `json:"expand"`
	Groups []groupJSON `json:"groups"`
}

type errorEntity struct {
	XMLName xml.Name `xml:"error" json:"-"`
	Reason  string   `xml:"reason" json:"reason"`
	Message string   `xml:"message" json:"message"`
}

type cookieConfig struct {
	XMLName xml.Name `xml:"cookie-config" json:"-"`
	Domain  string   `xml:"domain" json:"domain"`
	Secure  bool     `xml:"secure" json:"secure"`
	Name    string   `xml:"name" json:"name"`
}

type sessionXML struct {
	XMLName   xml.Name `xml:"session"`
	Expand    string   `xml:"expand,attr"`
	Token     string   `xml:"token"`
	User      *userXML `xml:"user"`
	Link      *link    `xml:"link"`
	Created   xmlTime  `xml:"created-date"`
	Expiry    xmlTime  `xml:"expiry-date"`
	Unaliased string   `xml:"unaliased-username,omitempty"`
}

type sessionJSON struct {
	Expand  string    `json:"expand"`
	Token   string    `json:"token"`
	User    *userJSON `json:"user,omitempty"`
	Link    *link     `json:"link,omitempty"`
	Created jsonTime  `json:"created-date"`
	Expiry  jsonTime  `json:"expiry-date"`
}

// encoder writes an entity in the negotiated format.
type entity interface {
	xmlForm() any
	jsonForm() any
}

func marshal(e entity, asJSON bool) ([]byte, error) {
	if asJSON {
		return json.Marshal(e.jsonForm())
	}
	b, err := xml.Marshal(e.xmlForm())
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), b...), nil
}

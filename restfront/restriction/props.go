package restriction

import "strings"

// The built-in property names of Crowd's UserTermKeys and GroupTermKeys,
// as they appear in restrictions. Any other name is a custom attribute.
const (
	KeyName        = "name"        // user, group: STRING
	KeyEmail       = "email"       // user: STRING
	KeyFirstName   = "firstName"   // user: STRING
	KeyLastName    = "lastName"    // user: STRING
	KeyDisplayName = "displayName" // user: STRING
	KeyDescription = "description" // group: STRING
	KeyActive      = "active"      // user, group: BOOLEAN
	KeyLocal       = "local"       // group: BOOLEAN
	KeyExternalID  = "externalId"  // user, group: STRING
	KeyCreatedDate = "createdDate" // user, group: DATE
	KeyUpdatedDate = "updatedDate" // user, group: DATE
)

type propInfo struct {
	name        string
	typ         PropType
	user, group bool
}

var props = []propInfo{
	{KeyName, TypeString, true, true},
	{KeyEmail, TypeString, true, false},
	{KeyFirstName, TypeString, true, false},
	{KeyLastName, TypeString, true, false},
	{KeyDisplayName, TypeString, true, false},
	{KeyDescription, TypeString, false, true},
	{KeyActive, TypeBoolean, true, true},
	{KeyLocal, TypeBoolean, false, true},
	{KeyExternalID, TypeString, true, true},
	{KeyCreatedDate, TypeDate, true, true},
	{KeyUpdatedDate, TypeDate, true, true},
}

func lookupProp(name string) (propInfo, bool) {
	for _, p := range props {
		if strings.EqualFold(p.name, name) {
			return p, true
		}
	}
	return propInfo{}, false
}

// Canonical returns the spelling of a built-in property name ("firstname"
// and "FIRSTNAME" are "firstName"), or name itself for a custom attribute.
// Parsers canonicalise every property name with it, so an Entity sees
// built-in names in one spelling. (A custom attribute whose name differs
// from a built-in one only in case cannot be searched.)
func Canonical(name string) string {
	if p, ok := lookupProp(name); ok {
		return p.name
	}
	return name
}

// UserProperty reports whether name (in any case) is a built-in user
// property, and its type.
func UserProperty(name string) (PropType, bool) {
	p, ok := lookupProp(name)
	if !ok || !p.user {
		return 0, false
	}
	return p.typ, true
}

// GroupProperty reports whether name (in any case) is a built-in group
// property, and its type.
func GroupProperty(name string) (PropType, bool) {
	p, ok := lookupProp(name)
	if !ok || !p.group {
		return 0, false
	}
	return p.typ, true
}

// inferType is the type CQL gives a property, which it names without one:
// the type of the built-in user or group property of that name (the two
// sets agree where they overlap), TypeString for custom attributes.
func inferType(name string) PropType {
	if p, ok := lookupProp(name); ok {
		return p.typ
	}
	return TypeString
}

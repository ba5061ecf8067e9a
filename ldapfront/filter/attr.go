package filter

import (
	"strconv"
	"strings"
)

// Syntax is how the values of an attribute compare: which matching rules
// (equality, ordering, substrings) apply and how values are normalised.
// Each syntax offers the operations its standard matching rules define; an
// operation a syntax lacks makes a filter item Undefined:
//
//	syntax            equality            ordering  substrings
//	CaseIgnoreString  caseIgnoreMatch     yes       yes
//	CaseExactString   caseExactMatch      yes       yes
//	DN                distinguishedName   -         -
//	Integer           integerMatch        numeric   -
//	GeneralizedTime   generalizedTime     by time   -
//	OctetString       octetStringMatch    -         -
//	ObjectClass       objectIdentifier    -         -
//
// Presence works for every syntax, and approximate match (~=) is equality.
type Syntax uint8

const (
	// CaseIgnoreString is a directory string compared without case and
	// with insignificant spaces removed. The default for attributes the
	// table does not know.
	CaseIgnoreString Syntax = iota
	// CaseExactString is a directory string compared with case, with
	// insignificant spaces removed.
	CaseExactString
	// DN holds distinguished names, compared in normalised form (see
	// NormalizeDN).
	DN
	// Integer holds base-10 integers of any size, ordered numerically.
	Integer
	// GeneralizedTime holds RFC 4517 GeneralizedTime values, ordered by
	// the instant they name.
	GeneralizedTime
	// OctetString holds opaque bytes: equality is byte equality; ordering
	// and substrings are Undefined.
	OctetString
	// ObjectClass holds object class names (case-ignore), with the OIDs
	// of common classes accepted as aliases of their names.
	ObjectClass
)

var syntaxNames = [...]string{
	CaseIgnoreString: "CaseIgnoreString",
	CaseExactString:  "CaseExactString",
	DN:               "DN",
	Integer:          "Integer",
	GeneralizedTime:  "GeneralizedTime",
	OctetString:      "OctetString",
	ObjectClass:      "ObjectClass",
}

func (s Syntax) String() string {
	if int(s) < len(syntaxNames) {
		return syntaxNames[s]
	}
	return "Syntax(" + strconv.Itoa(int(s)) + ")"
}

// hasOrdering reports whether the syntax has an ordering rule (>=, <=).
func (s Syntax) hasOrdering() bool {
	switch s {
	case CaseIgnoreString, CaseExactString, Integer, GeneralizedTime:
		return true
	}
	return false
}

// hasSubstrings reports whether the syntax has a substrings rule.
func (s Syntax) hasSubstrings() bool {
	return s == CaseIgnoreString || s == CaseExactString
}

// names maps every known lower-case attribute name, alias and OID to its
// canonical name. Canonical names map to themselves, so that a lookup also
// interns the string (Canonical then allocates nothing for known names).
var names = map[string]string{}

// syntaxes maps canonical attribute names to their syntax. Names not in the
// map are CaseIgnoreString.
var syntaxes = map[string]Syntax{}

// attribute describes one known attribute: its canonical name, syntax and
// aliases (other names and OIDs, lower-case).
type attribute struct {
	name    string
	syntax  Syntax
	aliases []string
}

// knownAttributes is the built-in schema: the attributes of our tree
// (ARCHITECTURE.md "LDAP tree"), the rest of the common person, group and
// POSIX schema that clients put in filters, and a few Active Directory
// names clients send out of habit.
var knownAttributes = []attribute{
	// RFC 4512 / 4519 / 4524 core and cosine.
	{"objectclass", ObjectClass, []string{"2.5.4.0"}},
	{"cn", CaseIgnoreString, []string{"commonname", "2.5.4.3"}},
	{"sn", CaseIgnoreString, []string{"surname", "2.5.4.4"}},
	{"givenname", CaseIgnoreString, []string{"gn", "2.5.4.42"}},
	{"uid", CaseIgnoreString, []string{"userid", "0.9.2342.19200300.100.1.1"}},
	{"mail", CaseIgnoreString, []string{"rfc822mailbox", "0.9.2342.19200300.100.1.3"}},
	{"dc", CaseIgnoreString, []string{"domaincomponent", "0.9.2342.19200300.100.1.25"}},
	{"o", CaseIgnoreString, []string{"organizationname", "2.5.4.10"}},
	{"ou", CaseIgnoreString, []string{"organizationalunitname", "2.5.4.11"}},
	{"l", CaseIgnoreString, []string{"localityname", "2.5.4.7"}},
	{"st", CaseIgnoreString, []string{"stateorprovincename", "2.5.4.8"}},
	{"c", CaseIgnoreString, []string{"countryname", "2.5.4.6"}},
	{"street", CaseIgnoreString, []string{"streetaddress", "2.5.4.9"}},
	{"title", CaseIgnoreString, []string{"2.5.4.12"}},
	{"description", CaseIgnoreString, []string{"2.5.4.13"}},
	{"telephonenumber", CaseIgnoreString, []string{"2.5.4.20"}},
	{"initials", CaseIgnoreString, []string{"2.5.4.43"}},
	{"member", DN, []string{"2.5.4.31"}},
	{"owner", DN, []string{"2.5.4.32"}},
	{"roleoccupant", DN, []string{"2.5.4.33"}},
	{"seealso", DN, []string{"2.5.4.34"}},
	{"userpassword", OctetString, []string{"2.5.4.35"}},
	{"usercertificate", OctetString, []string{"2.5.4.36"}},
	{"cacertificate", OctetString, []string{"2.5.4.37"}},
	{"distinguishedname", DN, []string{"2.5.4.49"}},
	{"uniquemember", DN, []string{"2.5.4.50"}},
	{"manager", DN, []string{"0.9.2342.19200300.100.1.10"}},
	{"secretary", DN, []string{"0.9.2342.19200300.100.1.21"}},
	{"jpegphoto", OctetString, []string{"0.9.2342.19200300.100.1.60"}},
	// RFC 2798 inetOrgPerson.
	{"displayname", CaseIgnoreString, []string{"2.16.840.1.113730.3.1.241"}},
	{"employeenumber", CaseIgnoreString, []string{"2.16.840.1.113730.3.1.3"}},
	{"employeetype", CaseIgnoreString, []string{"2.16.840.1.113730.3.1.4"}},
	{"departmentnumber", CaseIgnoreString, []string{"2.16.840.1.113730.3.1.2"}},
	{"preferredlanguage", CaseIgnoreString, []string{"2.16.840.1.113730.3.1.39"}},
	// RFC 4530 and RFC 4512 operational attributes.
	{"entryuuid", CaseIgnoreString, []string{"1.3.6.1.1.16.4"}},
	{"entrydn", DN, []string{"1.3.6.1.1.20"}},
	{"createtimestamp", GeneralizedTime, []string{"2.5.18.1"}},
	{"modifytimestamp", GeneralizedTime, []string{"2.5.18.2"}},
	{"creatorsname", DN, []string{"2.5.18.3"}},
	{"modifiersname", DN, []string{"2.5.18.4"}},
	{"subschemasubentry", DN, []string{"2.5.18.10"}},
	{"hassubordinates", CaseIgnoreString, []string{"2.5.18.9"}},
	// memberOf (the name AD and the OpenLDAP overlay use).
	{"memberof", DN, []string{"1.2.840.113556.1.2.102"}},
	// RFC 2307 POSIX.
	{"uidnumber", Integer, []string{"1.3.6.1.1.1.1.0"}},
	{"gidnumber", Integer, []string{"1.3.6.1.1.1.1.1"}},
	{"gecos", CaseIgnoreString, []string{"1.3.6.1.1.1.1.2"}},
	{"homedirectory", CaseExactString, []string{"1.3.6.1.1.1.1.3"}},
	{"loginshell", CaseExactString, []string{"1.3.6.1.1.1.1.4"}},
	{"memberuid", CaseExactString, []string{"1.3.6.1.1.1.1.12"}},
	// Active Directory names clients send: the bit rules work on these.
	{"useraccountcontrol", Integer, []string{"1.2.840.113556.1.4.8"}},
	{"grouptype", Integer, []string{"1.2.840.113556.1.4.750"}},
	{"samaccounttype", Integer, []string{"1.2.840.113556.1.4.302"}},
	{"objectguid", OctetString, []string{"1.2.840.113556.1.4.2"}},
	{"objectsid", OctetString, []string{"1.2.840.113556.1.4.146"}},
	{"whencreated", GeneralizedTime, []string{"1.2.840.113556.1.2.2"}},
	{"whenchanged", GeneralizedTime, []string{"1.2.840.113556.1.2.3"}},
}

// objectClasses maps the lower-case names of common object classes to
// themselves and their OIDs to their names, so that (objectClass=2.5.6.6)
// matches person, and so that lookups intern the prepared name.
var objectClasses = map[string]string{}

var knownObjectClasses = []struct{ name, oid string }{
	{"top", "2.5.6.0"},
	{"alias", "2.5.6.1"},
	{"country", "2.5.6.2"},
	{"locality", "2.5.6.3"},
	{"organization", "2.5.6.4"},
	{"organizationalunit", "2.5.6.5"},
	{"person", "2.5.6.6"},
	{"organizationalperson", "2.5.6.7"},
	{"organizationalrole", "2.5.6.8"},
	{"groupofnames", "2.5.6.9"},
	{"residentialperson", "2.5.6.10"},
	{"applicationprocess", "2.5.6.11"},
	{"device", "2.5.6.14"},
	{"groupofuniquenames", "2.5.6.17"},
	{"inetorgperson", "2.16.840.1.113730.3.2.2"},
	{"dcobject", "1.3.6.1.4.1.1466.344"},
	{"domain", "0.9.2342.19200300.100.4.13"},
	{"simplesecurityobject", "0.9.2342.19200300.100.4.19"},
	{"extensibleobject", "1.3.6.1.4.1.1466.101.120.111"},
	{"posixaccount", "1.3.6.1.1.1.2.0"},
	{"shadowaccount", "1.3.6.1.1.1.2.1"},
	{"posixgroup", "1.3.6.1.1.1.2.2"},
	{"groupofurls", "2.16.840.1.113730.3.2.33"},
	{"user", "1.2.840.113556.1.5.9"},
	{"group", "1.2.840.113556.1.5.8"},
	{"computer", "1.2.840.113556.1.3.30"},
}

func init() {
	for _, c := range knownObjectClasses {
		objectClasses[c.name] = c.name
		objectClasses[c.oid] = c.name
	}
	for _, a := range knownAttributes {
		names[a.name] = a.name
		for _, alias := range a.aliases {
			names[alias] = a.name
		}
		if a.syntax != CaseIgnoreString {
			syntaxes[a.name] = a.syntax
		}
	}
}

// Canonical returns the canonical name of the attribute type in an
// attribute description: options (";lang-de", ";binary") are dropped, the
// name is lower-cased, and known aliases and OIDs are resolved
// ("commonName" and "2.5.4.3" are "cn", "1.2.840.113556.1.2.102" is
// "memberof"). Canonical names are all lower-case. Names it does not know
// are returned lower-cased. It allocates only for unknown names that are
// not already lower-case.
func Canonical(attr string) string {
	if i := strings.IndexByte(attr, ';'); i >= 0 {
		attr = attr[:i]
	}
	return canonicalType(attr)
}

// canonicalType is Canonical for an attribute type without options (in a
// DN, a ';' in a type is an escaped character, not an option).
func canonicalType(attr string) string {
	var buf [64]byte
	if len(attr) <= len(buf) {
		b, lower := buf[:len(attr)], true
		for i := 0; i < len(attr); i++ {
			c := attr[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
				lower = false
			} else if c >= 0x80 {
				return canonicalSlow(attr)
			}
			b[i] = c
		}
		if n, ok := names[string(b)]; ok { // does not allocate
			return n
		}
		if lower {
			return attr
		}
		return string(b)
	}
	return canonicalSlow(attr)
}

func canonicalSlow(attr string) string {
	l := strings.ToLower(attr)
	if n, ok := names[l]; ok {
		return n
	}
	return l
}

// SyntaxOf returns the syntax of an attribute (any name Canonical accepts);
// CaseIgnoreString for attributes it does not know.
func SyntaxOf(attr string) Syntax {
	return syntaxes[Canonical(attr)]
}

// Register sets the syntax of an attribute, known or not, for filters parsed
// afterwards (a parsed Filter keeps the syntax it was parsed with). Call it
// while setting up, before serving: it is not safe to call concurrently
// with Parse, SyntaxOf or Canonical.
func Register(attr string, s Syntax) {
	c := Canonical(attr)
	names[c] = c
	if s == CaseIgnoreString {
		delete(syntaxes, c)
		return
	}
	syntaxes[c] = s
}

// splitOptions splits an attribute description into the type and its
// lower-cased options ("cn;Lang-DE" is "cn", ["lang-de"]). It allocates
// only when there are options.
func splitOptions(desc string) (typ string, opts []string) {
	i := strings.IndexByte(desc, ';')
	if i < 0 {
		return desc, nil
	}
	typ, rest := desc[:i], desc[i+1:]
	opts = strings.Split(rest, ";")
	for j, o := range opts {
		opts[j] = strings.ToLower(o)
	}
	return typ, opts
}

// ignorableOptions reports whether the options leave the attribute as it
// is. Entries never hold subtyped values (language tags and the like), so
// an attribute description with any option other than the transfer option
// "binary" (RFC 4522) names values no entry has.
func ignorableOptions(opts []string) bool {
	for _, o := range opts {
		if o != "binary" {
			return false
		}
	}
	return true
}

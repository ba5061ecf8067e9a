package ldapfront

import (
	"github.com/dirgate/dirgate/internal/version"
)

// subschemaDN is where the schema is published (normalised).
const subschemaDN = "cn=subschema"

// rootDSE is the entry at the empty DN (RFC 4512 §5.1). As OpenLDAP does,
// everything but objectClass is operational: `ldapsearch -b "" -s base +`
// shows it all.
func (s *Server) rootDSE() *Entry {
	e := &Entry{DN: ""}
	e.add("objectClass", "top", "extensibleObject")
	e.add("namingContexts", s.cfg.Tree.BaseDN)
	e.add("supportedLDAPVersion", "3")
	e.add("supportedControl", "1.2.840.113556.1.4.319") // paged results
	if s.cfg.TLS != nil {
		e.add("supportedExtension", "1.3.6.1.4.1.1466.20037") // StartTLS
	}
	e.add("supportedFeatures",
		"1.3.6.1.4.1.4203.1.5.1", // all operational attributes: "+" (RFC 3673)
		"1.3.6.1.4.1.4203.1.5.3", // absolute true and false filters (RFC 4526)
	)
	e.add("subschemaSubentry", "cn=Subschema")
	e.add("vendorName", "dirgate")
	e.add("vendorVersion", version.String())
	return e
}

// operational attributes of the fixed entries.
var fixedOperational = map[string]bool{
	"namingcontexts": true, "supportedldapversion": true, "supportedcontrol": true, "supportedextension": true,
	"supportedfeatures": true, "supportedsaslmechanisms": true, "subschemasubentry": true, "vendorname": true,
	"vendorversion": true, "createtimestamp": true, "modifytimestamp": true,
}

func isOperational(e *Entry, lower string) bool {
	if e.DN == "" || e.DN == "cn=Subschema" {
		return fixedOperational[lower] || lower == "attributetypes" || lower == "objectclasses" ||
			lower == "ldapsyntaxes" || lower == "matchingrules"
	}
	return false
}

// subschemaEntry publishes the schema of what dirgate serves, enough for
// clients that discover attributes (Apache Directory Studio, sssd,
// `ldapsearch -b cn=Subschema -s base +`).
func subschemaEntry() *Entry {
	e := &Entry{DN: "cn=Subschema"}
	e.add("objectClass", "top", "subentry", "subschema", "extensibleObject")
	e.add("cn", "Subschema")
	e.add("ldapSyntaxes",
		"( 1.3.6.1.4.1.1466.115.121.1.12 DESC 'Distinguished Name' )",
		"( 1.3.6.1.4.1.1466.115.121.1.15 DESC 'Directory String' )",
		"( 1.3.6.1.4.1.1466.115.121.1.24 DESC 'Generalized Time' )",
		"( 1.3.6.1.4.1.1466.115.121.1.26 DESC 'IA5 String' )",
		"( 1.3.6.1.4.1.1466.115.121.1.27 DESC 'Integer' )",
		"( 1.3.6.1.4.1.1466.115.121.1.38 DESC 'OID' )",
		"( 1.3.6.1.1.16.1 DESC 'UUID' )",
	)
	e.add("matchingRules",
		"( 2.5.13.0 NAME 'objectIdentifierMatch' SYNTAX 1.3.6.1.4.1.1466.115.121.1.38 )",
		"( 2.5.13.1 NAME 'distinguishedNameMatch' SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )",
		"( 2.5.13.2 NAME 'caseIgnoreMatch' SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
		"( 2.5.13.3 NAME 'caseIgnoreOrderingMatch' SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
		"( 2.5.13.4 NAME 'caseIgnoreSubstringsMatch' SYNTAX 1.3.6.1.4.1.1466.115.121.1.58 )",
		"( 2.5.13.5 NAME 'caseExactMatch' SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
		"( 2.5.13.27 NAME 'generalizedTimeMatch' SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 )",
		"( 2.5.13.28 NAME 'generalizedTimeOrderingMatch' SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 )",
		"( 1.3.6.1.4.1.1466.109.114.2 NAME 'caseIgnoreIA5Match' SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
		"( 1.3.6.1.1.16.2 NAME 'UUIDMatch' SYNTAX 1.3.6.1.1.16.1 )",
		"( 1.2.840.113556.1.4.1941 NAME 'inChainMatch' SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )",
	)
	e.add("attributeTypes",
		"( 2.5.4.0 NAME 'objectClass' EQUALITY objectIdentifierMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.38 )",
		"( 2.5.4.41 NAME 'name' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{32768} )",
		"( 2.5.4.3 NAME ( 'cn' 'commonName' ) SUP name )",
		"( 2.5.4.4 NAME ( 'sn' 'surname' ) SUP name )",
		"( 2.5.4.42 NAME ( 'givenName' 'gn' ) SUP name )",
		"( 2.5.4.10 NAME ( 'o' 'organizationName' ) SUP name )",
		"( 2.5.4.11 NAME ( 'ou' 'organizationalUnitName' ) SUP name )",
		"( 2.5.4.13 NAME 'description' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{1024} )",
		"( 2.16.840.1.113730.3.1.241 NAME 'displayName' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )",
		"( 0.9.2342.19200300.100.1.1 NAME ( 'uid' 'userid' ) EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} )",
		"( 0.9.2342.19200300.100.1.3 NAME ( 'mail' 'rfc822Mailbox' ) EQUALITY caseIgnoreIA5Match SUBSTR caseIgnoreIA5SubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{256} )",
		"( 0.9.2342.19200300.100.1.25 NAME ( 'dc' 'domainComponent' ) EQUALITY caseIgnoreIA5Match SUBSTR caseIgnoreIA5SubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )",
		"( 2.5.4.31 NAME 'member' SUP distinguishedName )",
		"( 2.5.4.49 NAME 'distinguishedName' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )",
		"( 1.2.840.113556.1.2.102 NAME 'memberOf' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )",
		"( 1.3.6.1.1.16.4 NAME 'entryUUID' EQUALITY UUIDMatch SYNTAX 1.3.6.1.1.16.1 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
		"( 2.5.18.1 NAME 'createTimestamp' EQUALITY generalizedTimeMatch ORDERING generalizedTimeOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
		"( 2.5.18.2 NAME 'modifyTimestamp' EQUALITY generalizedTimeMatch ORDERING generalizedTimeOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
		"( 2.5.18.10 NAME 'subschemaSubentry' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
	)
	e.add("objectClasses",
		"( 2.5.6.0 NAME 'top' ABSTRACT MUST objectClass )",
		"( 2.5.6.6 NAME 'person' SUP top STRUCTURAL MUST ( sn $ cn ) MAY ( description ) )",
		"( 2.5.6.7 NAME 'organizationalPerson' SUP person STRUCTURAL )",
		"( 2.16.840.1.113730.3.2.2 NAME 'inetOrgPerson' SUP organizationalPerson STRUCTURAL MAY ( displayName $ givenName $ mail $ uid $ memberOf ) )",
		"( 2.5.6.9 NAME 'groupOfNames' SUP top STRUCTURAL MUST cn MAY ( member $ description $ memberOf ) )",
		"( 2.5.6.5 NAME 'organizationalUnit' SUP top STRUCTURAL MUST ou MAY description )",
		"( 2.5.6.4 NAME 'organization' SUP top STRUCTURAL MUST o MAY description )",
		"( 1.3.6.1.4.1.1466.344 NAME 'dcObject' SUP top AUXILIARY MUST dc )",
		"( 2.5.6.11 NAME 'applicationProcess' SUP top STRUCTURAL MUST cn MAY description )",
		"( 0.9.2342.19200300.100.4.19 NAME 'simpleSecurityObject' SUP top AUXILIARY )",
		"( 2.5.20.1 NAME 'subschema' AUXILIARY MAY ( attributeTypes $ objectClasses $ ldapSyntaxes $ matchingRules ) )",
		"( 1.3.6.1.4.1.1466.101.120.111 NAME 'extensibleObject' SUP top AUXILIARY )",
	)
	return e
}

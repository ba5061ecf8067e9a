// Package filter parses and evaluates LDAP search filters for the LDAP
// frontend.
//
// gldap hands a search handler the filter as a string: go-ldap's
// DecompileFilter output, in RFC 4515 form with every byte >= 0x80 and
// ( ) * \ NUL hex-escaped, attribute names in the client's case. Parse
// reads that string (or any string goldap.CompileFilter accepts, read the
// same way) into a tree of Nodes without going through BER, within Limits
// on length, depth and size, and prepares each item for its attribute's
// syntax once: assertion values normalised, integers and times parsed,
// items that can never be decided marked Undefined.
//
// The search path's planner inspects that tree — Root, Node.Op, Node.Attr
// (canonical names: "CN" and "2.5.4.3" are both "cn"), Node.Key (the
// normalised assertion) — to pick candidate entries from its indexes. Eval
// then decides each candidate. An Entry supplies values by canonical name
// and, for the in-chain rule, the transitive closure; an entry implementing
// EqualityMatcher answers equality items from its own index first.
// NormalizeDN is the one DN normal form shared by the evaluator and the
// server (membership indexes, base DN comparison, bind names).
//
// # Evaluation
//
// RFC 4511 §4.5.1.7 three-valued logic: an item is True, False or
// Undefined; And is False if any child is False, else Undefined if any is;
// Or is True if any child is True, else Undefined if any is; Not swaps True
// and False and keeps Undefined. (&) is True and (|) False (RFC 4526).
//
//   - An attribute the entry lacks makes equality, substrings, ordering and
//     presence False. Attributes the schema table does not know are
//     case-ignore strings.
//   - Items are Undefined when the attribute's Syntax lacks the operation
//     (ordering on a DN, substrings on an integer), when the assertion value
//     is invalid for it ((uidNumber>=abc), a malformed DN or time), and for
//     matching rules the evaluator does not know. A stored value that is
//     invalid for its syntax just does not match.
//   - Strings compare after RFC 4518 preparation, simplified: white space
//     trimmed and runs of it collapsed to one space, case folded for
//     case-ignore syntaxes. ~= is equality.
//   - Attribute options: entries hold no subtyped values, so an item whose
//     attribute has an option other than ";binary" is False.
//   - Extensible match (RFC 4511 §4.5.1.7.7): with a type and no rule, the
//     type's equality; with a type and a rule, the rule applied to that
//     attribute's values whatever its syntax; with a rule and no type, the
//     rule applied to every attribute it suits (which needs an entry that
//     implements AttributeRanger, otherwise only :dn: can make it True and
//     it is else Undefined); neither is Undefined. :dn: adds the attribute
//     value assertions of the entry's DN. Rules: caseIgnoreMatch,
//     caseExactMatch (and their IA5 forms), distinguishedNameMatch,
//     integerMatch, octetStringMatch, numericStringMatch,
//     generalizedTimeMatch, objectIdentifierMatch, AD's in-chain rule
//     1.2.840.113556.1.4.1941 (the assertion DN among Entry.Chain(attr);
//     :dn: ignored) and bit rules 1.2.840.113556.1.4.803 (all bits) and
//     .804 (any bit), by OID or by name.
package filter

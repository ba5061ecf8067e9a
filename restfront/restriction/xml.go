package restriction

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ParseXML reads a POST /search body in XML, the form Jira, Confluence,
// Bitbucket (JAXB) and python-crowd send:
//
//	<null-search-restriction/>
//	<property-search-restriction>
//	  <property><name>email</name><type>STRING</type></property>
//	  <match-mode>EXACTLY_MATCHES</match-mode><value>bob@example.net</value>
//	</property-search-restriction>
//	<boolean-search-restriction boolean-logic="and">
//	  <restrictions>…restrictions…</restrictions>
//	</boolean-search-restriction>
//
// Lenient where clients differ: enum values in any case (and '-' for '_');
// element and attribute names also in camelCase or snake_case
// ("matchMode"); a missing <type> is the property's own type (STRING for
// custom attributes); boolean-logic also as a child element; restrictions
// of a Boolean also without the <restrictions> wrapper; unknown elements
// are skipped, except inside <restrictions>, where an unknown restriction
// kind is an error rather than silently widening an And; namespaces are
// ignored; a blank body is Null (the spec is silent on it and Crowd
// answers 400; we follow its rule for a blank CQL string — see readBody).
//
// Strict about everything else: one root element, nothing after it but
// white space and comments; no DTD (<!DOCTYPE …>) or other declaration, no
// processing instruction but the XML declaration, no entities beyond the
// predefined ones, no text where elements belong, no element inside a
// value, no duplicate field; a property needs a name, a match mode, a
// value unless the mode is NULL, and a value that parses for its type; the
// limits MaxBodyBytes, MaxDepth and MaxRestrictions. Errors wrap
// ErrInvalid, except those from reading r.
func ParseXML(r io.Reader) (Restriction, error) {
	data, blank, err := readBody(r, "xml")
	if err != nil {
		return nil, err
	}
	if blank {
		return Null{}, nil
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	p := &xmlParser{d: d}

	var root xml.StartElement
	first := true // no token but white space yet
prolog:
	for {
		tok, err := p.token("")
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			root = t
			break prolog
		case xml.ProcInst:
			if t.Target != "xml" || !first {
				return nil, p.errorf("", "processing instruction <?%s?> is not allowed", clean(t.Target))
			}
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return nil, p.errorf("", "text before the root element")
			}
			continue
		}
		first = false
	}
	res, err := p.restriction(root, root.Name.Local, 1)
	if err != nil {
		return nil, err
	}
	for {
		tok, err := p.d.Token()
		if err == io.EOF {
			return res, nil
		}
		if err != nil {
			return nil, p.errorf("", "trailing data after the root element")
		}
		switch t := tok.(type) {
		case xml.Comment:
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return nil, p.errorf("", "trailing data after the root element")
			}
		case xml.Directive:
			return nil, p.errorf("", "<!%s> is not allowed: no DTDs or other declarations", firstWord(t))
		default:
			return nil, p.errorf("", "trailing data after the root element")
		}
	}
}

// maxXMLDepth bounds the nesting of elements, skipped ones included: a
// Boolean level takes two elements, a Property three, and a little room is
// left for unknown wrappers.
const maxXMLDepth = 2*MaxDepth + 8

type xmlParser struct {
	d     *xml.Decoder
	depth int // of elements
	count counter
}

func (p *xmlParser) errorf(path, format string, args ...any) error {
	return &Error{Syntax: "xml", Path: cleanPath(path), Msg: fmt.Sprintf(format, args...)}
}

// token returns the next token, refusing declarations, processing
// instructions after the prolog and nesting beyond maxXMLDepth.
func (p *xmlParser) token(path string) (xml.Token, error) {
	tok, err := p.d.Token()
	if err != nil {
		if err == io.EOF {
			if p.depth == 0 {
				return nil, p.errorf(path, "no root element")
			}
			return nil, p.errorf(path, "unexpected end of body")
		}
		var se *xml.SyntaxError
		if errors.As(err, &se) {
			return nil, p.errorf(path, "malformed XML at line %d: %s", se.Line, clean(se.Msg))
		}
		return nil, p.errorf(path, "malformed XML: %s", clean(err.Error()))
	}
	switch t := tok.(type) {
	case xml.StartElement:
		p.depth++
		if p.depth > maxXMLDepth {
			return nil, p.errorf(path, "elements nested deeper than %d", maxXMLDepth)
		}
	case xml.EndElement:
		p.depth--
	case xml.Directive:
		return nil, p.errorf(path, "<!%s> is not allowed: no DTDs or other declarations", firstWord(t))
	case xml.ProcInst:
		if p.depth > 0 {
			return nil, p.errorf(path, "processing instruction <?%s?> is not allowed", clean(t.Target))
		}
	}
	return tok, nil
}

// firstWord is the keyword of a declaration ("DOCTYPE"), for messages.
func firstWord(d xml.Directive) string {
	n := 0
	for n < len(d) && n < 16 && ('A' <= d[n] && d[n] <= 'Z' || 'a' <= d[n] && d[n] <= 'z') {
		n++
	}
	if n == 0 {
		return "…"
	}
	return string(d[:n])
}

// restriction reads the restriction element start (already consumed) at
// the given tree depth.
func (p *xmlParser) restriction(start xml.StartElement, path string, depth int) (Restriction, error) {
	kind := normKey(start.Name.Local)
	if !isKind(kind) {
		return nil, p.errorf(path, "unknown restriction element <%s>: %s", clean(start.Name.Local), wantKinds)
	}
	if msg := p.count.add(depth); msg != "" {
		return nil, p.errorf(path, "%s", msg)
	}
	switch kind {
	case kindNull:
		return Null{}, p.skip(path)
	case kindProperty:
		return p.property(path)
	}
	return p.boolean(start, path, depth)
}

// children calls f for each child element of the current element until
// its end tag, refusing text other than white space.
func (p *xmlParser) children(path string, f func(xml.StartElement) error) error {
	for {
		tok, err := p.token(path)
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if err := f(t); err != nil {
				return err
			}
		case xml.EndElement:
			return nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return p.errorf(path, "unexpected text %s", quote(string(bytes.TrimSpace(t))))
			}
		}
	}
}

// skip consumes the rest of the current element, whatever it holds.
func (p *xmlParser) skip(path string) error {
	for level := 1; level > 0; {
		tok, err := p.token(path)
		if err != nil {
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			level++
		case xml.EndElement:
			level--
		}
	}
	return nil
}

// text reads the character data of the current element until its end tag.
func (p *xmlParser) text(path string) (string, error) {
	var b strings.Builder
	for {
		tok, err := p.token(path)
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.CharData:
			b.Write(t)
		case xml.StartElement:
			return "", p.errorf(path, "unexpected element <%s> in a value", clean(t.Name.Local))
		case xml.EndElement:
			return b.String(), nil
		}
	}
}

// field reads a text element once, refusing a second occurrence.
func (p *xmlParser) field(path, name string, seen *bool, dst *string) error {
	if *seen {
		return p.errorf(path, "duplicate <%s>", clean(name))
	}
	*seen = true
	s, err := p.text(path)
	*dst = s
	return err
}

func (p *xmlParser) property(path string) (Restriction, error) {
	var rp rawProperty
	err := p.children(path, func(c xml.StartElement) error {
		cpath := path + "/" + c.Name.Local
		switch normKey(c.Name.Local) {
		case "property":
			if rp.hasProp {
				return p.errorf(cpath, "duplicate <property>")
			}
			rp.hasProp = true
			return p.children(cpath, func(g xml.StartElement) error {
				gpath := cpath + "/" + g.Name.Local
				switch normKey(g.Name.Local) {
				case "name":
					return p.field(gpath, g.Name.Local, &rp.hasName, &rp.name)
				case "type":
					return p.field(gpath, g.Name.Local, &rp.hasType, &rp.typ)
				}
				return p.skip(gpath)
			})
		case "matchmode":
			return p.field(cpath, c.Name.Local, &rp.hasMode, &rp.mode)
		case "value":
			return p.field(cpath, c.Name.Local, &rp.hasValue, &rp.value)
		}
		return p.skip(cpath)
	})
	if err != nil {
		return nil, err
	}
	prop, msg, at := rp.build()
	if msg != "" {
		if at != "" {
			path += "/" + at
		}
		return nil, p.errorf(path, "%s", msg)
	}
	return prop, nil
}

func (p *xmlParser) boolean(start xml.StartElement, path string, depth int) (Restriction, error) {
	var logic string
	hasLogic := false
	for _, a := range start.Attr {
		if normKey(a.Name.Local) == "booleanlogic" {
			if hasLogic {
				return nil, p.errorf(path, "duplicate boolean-logic")
			}
			logic, hasLogic = a.Value, true
		}
	}
	var list []Restriction
	hasList := false
	add := func(c xml.StartElement, cpath string) error {
		r, err := p.restriction(c, cpath+"["+strconv.Itoa(len(list)+1)+"]", depth+1)
		if err != nil {
			return err
		}
		list = append(list, r)
		return nil
	}
	err := p.children(path, func(c xml.StartElement) error {
		cpath := path + "/" + c.Name.Local
		switch k := normKey(c.Name.Local); {
		case k == "booleanlogic":
			return p.field(cpath, c.Name.Local, &hasLogic, &logic)
		case k == "restrictions":
			if hasList {
				return p.errorf(cpath, "duplicate <restrictions>")
			}
			hasList = true
			return p.children(cpath, func(g xml.StartElement) error {
				return add(g, cpath+"/"+g.Name.Local)
			})
		case isKind(k):
			return add(c, cpath)
		}
		return p.skip(cpath)
	})
	if err != nil {
		return nil, err
	}
	if !hasLogic {
		return nil, p.errorf(path, "missing boolean-logic: want AND or OR")
	}
	l, ok := parseLogic(logic)
	if !ok {
		return nil, p.errorf(path, "unknown boolean-logic %s: want AND or OR", quote(logic))
	}
	return Boolean{Logic: l, Restrictions: list}, nil
}

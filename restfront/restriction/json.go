package restriction

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
)

// ParseJSON reads a POST /search body in JSON, as Crowd's Jackson binding
// writes it (JAXB names, "restriction-type" discriminator):
//
//	{"restriction-type":"null-search-restriction"}
//	{"restriction-type":"property-search-restriction",
//	 "property":{"name":"email","type":"STRING"},
//	 "match-mode":"EXACTLY_MATCHES","value":"bob@example.net"}
//	{"restriction-type":"boolean-search-restriction","boolean-logic":"and",
//	 "restrictions":[…]}
//
// Lenient where clients differ: keys and enum values as in ParseXML (any
// case, camelCase "matchMode"/"booleanLogic"/"restrictionType" or
// snake_case); a missing discriminator is inferred from the fields present
// ("property" → property, "restrictions" or "boolean-logic" → boolean),
// and Jackson's wrapper-object form {"property-search-restriction":{…}} is
// accepted; a value may be a JSON string, number or boolean (null means
// absent); a missing property type is the property's own type; unknown
// keys are ignored; a blank body is Null (as in ParseXML).
//
// Strict about everything else: one JSON object and nothing after it; no
// key given twice in different spellings; the property rules and limits
// of ParseXML. Errors wrap ErrInvalid, except those from reading r.
func ParseJSON(r io.Reader) (Restriction, error) {
	data, blank, err := readBody(r, "json")
	if err != nil {
		return nil, err
	}
	if blank {
		return Null{}, nil
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, &Error{Syntax: "json", Msg: fmt.Sprintf("malformed JSON at byte %d: %s", se.Offset, clean(se.Error()))}
		}
		return nil, &Error{Syntax: "json", Msg: "malformed JSON: " + clean(err.Error())}
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, &Error{Syntax: "json", Msg: "trailing data after the JSON object"}
	}
	var p jsonParser
	return p.restriction(v, "", 1)
}

type jsonParser struct{ count counter }

func (p *jsonParser) errorf(path, format string, args ...any) error {
	return &Error{Syntax: "json", Path: cleanPath(path), Msg: fmt.Sprintf(format, args...)}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

type jsonField struct {
	key string // as sent
	val any
}

// fields indexes an object by normalised key, refusing a key given twice
// in different spellings.
func (p *jsonParser) fields(obj map[string]any, path string) (map[string]jsonField, error) {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic errors
	m := make(map[string]jsonField, len(obj))
	for _, k := range keys {
		n := normKey(k)
		if prev, ok := m[n]; ok {
			return nil, p.errorf(path, "both %s and %s given", quote(prev.key), quote(k))
		}
		m[n] = jsonField{k, obj[k]}
	}
	return m, nil
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	}
	return "an object"
}

// str reads an optional string field.
func (p *jsonParser) str(f map[string]jsonField, key, path string) (s string, ok bool, err error) {
	fv, ok := f[key]
	if !ok || fv.val == nil {
		return "", false, nil
	}
	s, isStr := fv.val.(string)
	if !isStr {
		return "", false, p.errorf(join(path, fv.key), "want a string, got %s", kindOf(fv.val))
	}
	return s, true, nil
}

func (p *jsonParser) restriction(v any, path string, depth int) (Restriction, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, p.errorf(path, "want a restriction object, got %s", kindOf(v))
	}
	f, err := p.fields(obj, path)
	if err != nil {
		return nil, err
	}
	kind, hasKind, err := p.str(f, "restrictiontype", path)
	if err != nil {
		return nil, err
	}
	switch {
	case hasKind:
		kind = normKey(kind)
		if !isKind(kind) {
			return nil, p.errorf(join(path, f["restrictiontype"].key), "unknown restriction-type %s: %s", quote(f["restrictiontype"].val.(string)), wantKinds)
		}
	case len(f) == 1:
		for k, fv := range f {
			if inner, isObj := fv.val.(map[string]any); isObj && isKind(k) {
				// Jackson's WRAPPER_OBJECT form.
				return p.kind(k, inner, join(path, fv.key), depth)
			}
		}
		fallthrough
	default:
		_, hasProp := f["property"]
		_, hasList := f["restrictions"]
		_, hasLogic := f["booleanlogic"]
		switch {
		case hasProp && !hasList && !hasLogic:
			kind = kindProperty
		case (hasList || hasLogic) && !hasProp:
			kind = kindBoolean
		default:
			return nil, p.errorf(path, "missing restriction-type: %s", wantKinds)
		}
	}
	return p.kind(kind, obj, path, depth)
}

// kind reads a restriction of a known kind from its object.
func (p *jsonParser) kind(kind string, obj map[string]any, path string, depth int) (Restriction, error) {
	if msg := p.count.add(depth); msg != "" {
		return nil, p.errorf(path, "%s", msg)
	}
	f, err := p.fields(obj, path)
	if err != nil {
		return nil, err
	}
	switch kind {
	case kindNull:
		return Null{}, nil
	case kindProperty:
		return p.property(f, path)
	}
	return p.boolean(f, path, depth)
}

func (p *jsonParser) property(f map[string]jsonField, path string) (Restriction, error) {
	var rp rawProperty
	if pf, ok := f["property"]; ok && pf.val != nil {
		ppath := join(path, pf.key)
		pobj, isObj := pf.val.(map[string]any)
		if !isObj {
			return nil, p.errorf(ppath, "want a property object {name, type}, got %s", kindOf(pf.val))
		}
		pfields, err := p.fields(pobj, ppath)
		if err != nil {
			return nil, err
		}
		rp.hasProp = true
		if rp.name, rp.hasName, err = p.str(pfields, "name", ppath); err != nil {
			return nil, err
		}
		if rp.typ, rp.hasType, err = p.str(pfields, "type", ppath); err != nil {
			return nil, err
		}
	}
	var err error
	if rp.mode, rp.hasMode, err = p.str(f, "matchmode", path); err != nil {
		return nil, err
	}
	if vf, ok := f["value"]; ok {
		switch v := vf.val.(type) {
		case nil:
		case string:
			rp.value, rp.hasValue = v, true
		case json.Number:
			rp.value, rp.hasValue = v.String(), true
		case bool:
			rp.value, rp.hasValue = strconv.FormatBool(v), true
		default:
			return nil, p.errorf(join(path, vf.key), "want a string, number or boolean value, got %s", kindOf(v))
		}
	}
	prop, msg, at := rp.build()
	if msg != "" {
		if at != "" {
			path = join(path, at)
		}
		return nil, p.errorf(path, "%s", msg)
	}
	return prop, nil
}

func (p *jsonParser) boolean(f map[string]jsonField, path string, depth int) (Restriction, error) {
	logic, hasLogic, err := p.str(f, "booleanlogic", path)
	if err != nil {
		return nil, err
	}
	if !hasLogic {
		return nil, p.errorf(path, "missing boolean-logic: want AND or OR")
	}
	l, ok := parseLogic(logic)
	if !ok {
		return nil, p.errorf(join(path, f["booleanlogic"].key), "unknown boolean-logic %s: want AND or OR", quote(logic))
	}
	var list []Restriction
	if lf, ok := f["restrictions"]; ok && lf.val != nil {
		lpath := join(path, lf.key)
		arr, isArr := lf.val.([]any)
		if !isArr {
			return nil, p.errorf(lpath, "want an array of restrictions, got %s", kindOf(lf.val))
		}
		list = make([]Restriction, 0, len(arr))
		for i, c := range arr {
			r, err := p.restriction(c, lpath+"["+strconv.Itoa(i)+"]", depth+1)
			if err != nil {
				return nil, err
			}
			list = append(list, r)
		}
	}
	return Boolean{Logic: l, Restrictions: list}, nil
}

package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/dirgate/dirgate/internal/secret"
)

// The decoder is our own walk over yaml.Node rather than yaml.Unmarshal with
// KnownFields: it reports every problem instead of the first, names each one
// by its key path, expands ${VAR}, reads *_file secrets, and decodes the
// polymorphic upstreams[] entries into the Config type of their upstream
// package.
//
// It is driven by the destination type: a YAML node is only looked at when
// a Go field asks for it, so the depth of the walk is bounded by the depth
// of the Config type, whatever the document looks like.

// YAML tags, in the short form yaml.Node.ShortTag returns.
const (
	strTag       = "!!str"
	intTag       = "!!int"
	floatTag     = "!!float"
	boolTag      = "!!bool"
	nullTag      = "!!null"
	timestampTag = "!!timestamp"
	mergeTag     = "!!merge"
)

// Limits that keep a hostile document from costing unbounded time or
// memory. Aliases let a small document name the same large subtree many
// times, so the budget counts nodes visited, not nodes in the file.
const (
	maxVisits      = 250_000
	maxProblems    = 500
	maxMergeDepth  = 16
	maxSecretBytes = 64 << 10
)

var (
	durationType = reflect.TypeFor[time.Duration]()
	secretType   = reflect.TypeFor[secret.String]()
	upstreamType = reflect.TypeFor[Upstream]()
)

// decoder holds the state of one Parse.
type decoder struct {
	lookupEnv func(string) (string, bool)
	// dir resolves relative *_file paths ("" leaves them relative to the
	// working directory).
	dir      string
	problems []Problem
	// failed holds the paths whose value could not be decoded. Validation
	// stays quiet about them (and everything below them), so that one
	// mistake is reported once.
	failed map[string]bool
	// lines maps key paths to the line of their value, for the problems
	// validation finds later.
	lines  map[string]int
	visits int
	// stopped is the problem that ended the walk when a limit was hit;
	// it comes after every other problem.
	stopped *Problem
}

func newDecoder(lookupEnv func(string) (string, bool), dir string) *decoder {
	return &decoder{
		lookupEnv: lookupEnv,
		dir:       dir,
		failed:    make(map[string]bool),
		lines:     make(map[string]int),
	}
}

// addf records a problem with the value at path.
func (d *decoder) addf(path string, line int, format string, args ...any) {
	if d.stopped != nil {
		return
	}
	d.failed[path] = true
	d.notef(path, line, format, args...)
}

// notef records a problem at path that does not concern its value (a key
// that is not a string, found in the mapping at path): validation of the
// value still runs.
func (d *decoder) notef(path string, line int, format string, args ...any) {
	if d.stopped != nil {
		return
	}
	if len(d.problems) >= maxProblems {
		d.stop(line, "too many problems; stopping here")
		return
	}
	d.problems = append(d.problems, Problem{Path: path, Line: line, Message: fmt.Sprintf(format, args...)})
}

// stop abandons the decoding with a final problem.
func (d *decoder) stop(line int, msg string) {
	if d.stopped == nil {
		d.stopped = &Problem{Line: line, Message: msg}
	}
}

// visit counts n nodes against the budget and reports whether the walk may
// go on.
func (d *decoder) visit(n int, line int) bool {
	if d.stopped != nil {
		return false
	}
	d.visits += n
	if d.visits > maxVisits {
		d.stop(line, "the document is too large or its aliases expand too far")
		return false
	}
	return true
}

// decodeDocument decodes the document node doc (nil for an empty file) into c.
func (d *decoder) decodeDocument(doc *yaml.Node, c *Config) {
	n := doc
	if n != nil && n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		n = n.Content[0]
	}
	n = resolveAlias(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.addf("", n.Line, "expected a mapping of settings at the top level")
		return
	}
	d.decode(n, reflect.ValueOf(c).Elem(), "")
}

// decode stores the value of n in v, which is addressable. On a problem v
// keeps its zero value.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	n = resolveAlias(n)
	if !d.visit(1, n.Line) {
		return
	}
	if _, ok := d.lines[path]; !ok && path != "" {
		d.lines[path] = n.Line
	}
	if isNull(n) {
		// "key:" or "key: null" leaves the zero value: nil for pointers
		// (so the default applies), empty for everything else.
		return
	}
	switch v.Type() {
	case durationType:
		d.decodeDuration(n, v, path)
		return
	case upstreamType:
		d.decodeUpstream(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		before := len(d.problems)
		p := reflect.New(v.Type().Elem())
		d.decode(n, p.Elem(), path)
		if len(d.problems) == before {
			v.Set(p)
		}
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.addf(path, n.Line, "expected a mapping")
			return
		}
		pairs := d.pairs(n, path)
		rest := d.decodeFields(pairs, v, path)
		d.unknownKeys(pairs, rest, path, fieldsOf(v.Type()).keys, "")
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.addf(path, n.Line, "expected a list")
			return
		}
		// Check the budget before allocating: an alias may name a long list.
		if !d.visit(len(n.Content), n.Line) {
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, e := range n.Content {
			d.decode(e, s.Index(i), indexPath(path, i))
		}
		v.Set(s)
	case reflect.Map:
		// No Config type has a map today; string-keyed ones are supported
		// so that an upstream type may add one.
		if v.Type().Key().Kind() != reflect.String {
			d.addf(path, n.Line, "internal error: cannot decode a %s", v.Type())
			return
		}
		if n.Kind != yaml.MappingNode {
			d.addf(path, n.Line, "expected a mapping")
			return
		}
		pairs := d.pairs(n, path)
		m := reflect.MakeMapWithSize(v.Type(), len(pairs))
		for _, p := range pairs {
			e := reflect.New(v.Type().Elem()).Elem()
			d.decode(p.value, e, joinKey(path, displayKey(p.key)))
			m.SetMapIndex(reflect.ValueOf(p.key).Convert(v.Type().Key()), e)
		}
		v.Set(m)
	case reflect.String:
		if s, ok := d.str(n, path); ok {
			v.SetString(s)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		d.decodeInt(n, v, path)
	case reflect.Bool:
		text, ok := d.typed(n, path, boolTag, "expected true or false")
		if !ok {
			return
		}
		switch strings.ToLower(text) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			d.addf(path, n.Line, "expected true or false")
		}
	default:
		// A field type this loader was not taught; a programming error
		// in a Config type, reported rather than panicking.
		d.addf(path, n.Line, "internal error: cannot decode a %s", v.Type())
	}
}

// str returns the text of a scalar for a string destination, with ${VAR}
// expanded. Numbers, booleans and dates are taken as written, so that
// `org_id: 1234` or `api_key_expires: 2027-06-30` need no quotes.
func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.addf(path, n.Line, "expected a string")
		return "", false
	}
	switch tag := n.ShortTag(); tag {
	case strTag:
		s, err := expand(n.Value, d.lookupEnv)
		if err != nil {
			d.addf(path, n.Line, "%v", err)
			return "", false
		}
		return s, true
	case intTag, floatTag, boolTag, timestampTag:
		return n.Value, true
	default:
		d.addf(path, n.Line, "unsupported tag %s", truncate(tag, 40))
		return "", false
	}
}

// typed returns the text of a scalar that should have the YAML tag want.
// A string that contains ${VAR} is accepted too, and expanded: this is how
// `page_size: ${PAGE_SIZE}` works. Anything else is the problem msg.
func (d *decoder) typed(n *yaml.Node, path, want, msg string) (string, bool) {
	if n.Kind == yaml.ScalarNode {
		switch tag := n.ShortTag(); {
		case tag == want:
			return n.Value, true
		case tag == strTag && strings.Contains(n.Value, "${"):
			s, err := expand(n.Value, d.lookupEnv)
			if err != nil {
				d.addf(path, n.Line, "%v", err)
				return "", false
			}
			return strings.TrimSpace(s), true
		}
	}
	d.addf(path, n.Line, "%s", msg)
	return "", false
}

func (d *decoder) decodeInt(n *yaml.Node, v reflect.Value, path string) {
	const msg = "expected an integer"
	text, ok := d.typed(n, path, intTag, msg)
	if !ok {
		return
	}
	i, err := parseInt(text)
	switch {
	case errors.Is(err, strconv.ErrRange) || (err == nil && v.OverflowInt(i)):
		d.addf(path, n.Line, "integer out of range")
	case err != nil:
		d.addf(path, n.Line, msg)
	default:
		v.SetInt(i)
	}
}

// parseInt reads a YAML 1.2 integer: decimal, or 0x, 0o or 0b prefixed, with
// optional '_' separators. "017" is seventeen, not an octal fifteen.
func parseInt(s string) (int64, error) {
	s = strings.ReplaceAll(s, "_", "")
	digits := strings.TrimLeft(s, "+-")
	if len(digits) > 1 && digits[0] == '0' && strings.ContainsRune("xXoObB", rune(digits[1])) {
		return strconv.ParseInt(s, 0, 64)
	}
	return strconv.ParseInt(s, 10, 64)
}

func (d *decoder) decodeDuration(n *yaml.Node, v reflect.Value, path string) {
	const msg = "expected a duration such as 90s, 10m or 24h"
	if n.Kind != yaml.ScalarNode {
		d.addf(path, n.Line, msg)
		return
	}
	text := n.Value
	switch n.ShortTag() {
	case strTag:
		s, err := expand(text, d.lookupEnv)
		if err != nil {
			d.addf(path, n.Line, "%v", err)
			return
		}
		text = strings.TrimSpace(s)
	case intTag: // only "0" parses: every other number lacks a unit
	default:
		d.addf(path, n.Line, msg)
		return
	}
	dur, err := time.ParseDuration(text)
	switch {
	case err != nil:
		d.addf(path, n.Line, msg)
	case dur < 0:
		d.addf(path, n.Line, "must not be negative")
	default:
		v.SetInt(int64(dur))
	}
}

// pair is one key of a mapping with its value.
type pair struct {
	key     string
	keyNode *yaml.Node
	value   *yaml.Node
}

// pairs returns the entries of mapping n in document order. Duplicate keys
// are problems. YAML merge keys (`<<: *defaults`, or a list of aliases) are
// applied: keys written in n win over merged ones, and an earlier merged
// mapping wins over a later one.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	if !d.visit(len(n.Content)/2, n.Line) {
		return nil
	}
	seen := make(map[string]bool, len(n.Content)/2)
	var out []pair
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolveAlias(n.Content[i])
		if k.Kind != yaml.ScalarNode {
			d.notef(path, k.Line, "mapping keys must be strings")
			continue
		}
		if k.ShortTag() == mergeTag {
			merges = append(merges, n.Content[i+1])
			continue
		}
		if seen[k.Value] {
			d.addf(joinKey(path, displayKey(k.Value)), k.Line, "duplicate key")
			continue
		}
		seen[k.Value] = true
		out = append(out, pair{key: k.Value, keyNode: k, value: n.Content[i+1]})
	}
	if len(merges) > 0 {
		// done guards against merging a mapping twice, which also breaks
		// cycles: an anchored mapping may merge an alias of itself.
		done := map[*yaml.Node]bool{n: true}
		for _, m := range merges {
			out = d.mergeValue(m, out, seen, path, done, 0)
		}
	}
	return out
}

// mergeValue applies the value of one "<<" key: a mapping or a list of them.
func (d *decoder) mergeValue(m *yaml.Node, out []pair, seen map[string]bool, path string, done map[*yaml.Node]bool, depth int) []pair {
	m = resolveAlias(m)
	switch m.Kind {
	case yaml.MappingNode:
		return d.mergeMapping(m, out, seen, path, done, depth)
	case yaml.SequenceNode:
		for _, e := range m.Content {
			e = resolveAlias(e)
			if e.Kind != yaml.MappingNode {
				d.addf(joinKey(path, "<<"), e.Line, "expected a mapping or a list of mappings to merge")
				continue
			}
			out = d.mergeMapping(e, out, seen, path, done, depth)
		}
		return out
	default:
		d.addf(joinKey(path, "<<"), m.Line, "expected a mapping or a list of mappings to merge")
		return out
	}
}

func (d *decoder) mergeMapping(m *yaml.Node, out []pair, seen map[string]bool, path string, done map[*yaml.Node]bool, depth int) []pair {
	if done[m] {
		return out
	}
	done[m] = true
	if depth >= maxMergeDepth {
		d.addf(joinKey(path, "<<"), m.Line, "merge keys nested too deeply")
		return out
	}
	if !d.visit(len(m.Content)/2, m.Line) {
		return out
	}
	var nested []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := resolveAlias(m.Content[i])
		switch {
		case k.Kind != yaml.ScalarNode:
			d.notef(path, k.Line, "mapping keys must be strings")
		case k.ShortTag() == mergeTag:
			nested = append(nested, m.Content[i+1])
		case !seen[k.Value]:
			seen[k.Value] = true
			out = append(out, pair{key: k.Value, keyNode: k, value: m.Content[i+1]})
		}
	}
	for _, n := range nested {
		out = d.mergeValue(n, out, seen, path, done, depth+1)
	}
	return out
}

// decodeFields decodes the pairs that name fields of the struct v, and the
// *_file twins of its secret.String fields, and returns the pairs that
// belong to neither.
func (d *decoder) decodeFields(pairs []pair, v reflect.Value, path string) (rest []pair) {
	info := fieldsOf(v.Type())
	present := make(map[string]bool, len(pairs))
	for _, p := range pairs {
		present[p.key] = true
	}
	for _, p := range pairs {
		if d.stopped != nil {
			return nil
		}
		if f, ok := info.byName[p.key]; ok {
			d.decode(p.value, v.FieldByIndex(f.index), joinKey(path, p.key))
			continue
		}
		if base, ok := strings.CutSuffix(p.key, "_file"); ok {
			if f, ok := info.byName[base]; ok && f.secret {
				d.decodeSecretFile(p, v.FieldByIndex(f.index), path, base, present[base])
				continue
			}
		}
		rest = append(rest, p)
	}
	return rest
}

// decodeSecretFile handles `X_file: path` for the secret.String field X:
// the secret is the content of the file, without trailing white space.
func (d *decoder) decodeSecretFile(p pair, dst reflect.Value, parent, base string, conflict bool) {
	keyPath, basePath := joinKey(parent, p.key), joinKey(parent, base)
	n := resolveAlias(p.value)
	if !d.visit(1, n.Line) {
		return
	}
	d.lines[keyPath] = n.Line
	if _, ok := d.lines[basePath]; !ok {
		// Problems validation finds with the secret point at this line.
		d.lines[basePath] = n.Line
	}
	fail := func(format string, args ...any) {
		d.addf(keyPath, n.Line, format, args...)
		d.failed[basePath] = true
	}
	if conflict {
		fail("cannot be combined with %s: set one of them", base)
		return
	}
	if isNull(n) {
		fail("expected a file name")
		return
	}
	name, ok := d.str(n, keyPath)
	switch {
	case !ok:
		d.failed[basePath] = true
		return
	case name == "":
		fail("expected a file name")
		return
	}
	file := resolvePath(d.dir, name)
	s, err := readSecretFile(file)
	if err != nil {
		fail("cannot read %s: %v", file, err)
		return
	}
	dst.SetString(strings.TrimRightFunc(s, unicode.IsSpace))
}

// readSecretFile reads a small regular file. Devices and pipes are refused
// so that a mistaken path cannot block or feed us forever. Errors describe
// the failure without repeating the path, and never hold content.
func readSecretFile(name string) (string, error) {
	// Stat before opening: opening a FIFO would block until a writer came.
	fi, err := os.Stat(name)
	if err != nil {
		return "", pathErrText(err)
	}
	if !fi.Mode().IsRegular() {
		return "", errors.New("not a regular file")
	}
	f, err := os.Open(name)
	if err != nil {
		return "", pathErrText(err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretBytes+1))
	if err != nil {
		return "", pathErrText(err)
	}
	if len(b) > maxSecretBytes {
		return "", fmt.Errorf("larger than %d KiB", maxSecretBytes>>10)
	}
	return string(b), nil
}

// pathErrText drops the path and operation of an *fs.PathError, which the
// caller names itself.
func pathErrText(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// decodeUpstream decodes one upstreams[] entry: the common keys into the
// Upstream, the rest into a fresh Config of its type.
func (d *decoder) decodeUpstream(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.addf(path, n.Line, "expected a mapping")
		return
	}
	u := v.Addr().Interface().(*Upstream)
	pairs := d.pairs(n, path)
	rest := d.decodeFields(pairs, v, path)
	if d.stopped != nil {
		return
	}
	// A missing or unknown type is reported by validation.
	t, known := upstreamTypes[u.Type]
	if !known {
		// Without a type the other keys cannot be checked against one:
		// report only those that no type knows.
		all := allUpstreamKeys()
		var unknown []pair
		for _, p := range rest {
			if !all.has[p.key] {
				unknown = append(unknown, p)
			}
		}
		d.unknownKeys(pairs, unknown, path, all.keys, "")
		return
	}
	cfg := t.newConfig(u)
	rest = d.decodeFields(rest, cfg, path)
	candidates := append(slices.Clone(fieldsOf(upstreamType).keys), fieldsOf(cfg.Type()).keys...)
	d.unknownKeys(pairs, rest, path, candidates, " for type "+u.Type)
}

// unknownKeys reports every pair in rest as an unknown key, suggesting the
// closest of candidates. all is every pair of the mapping: when the
// suggested key is absent from it, the unknown key is taken for its typo and
// validation does not add that the suggested key is missing.
func (d *decoder) unknownKeys(all, rest []pair, path string, candidates []string, forType string) {
	for _, p := range rest {
		msg := "unknown key" + forType
		if s := suggest(p.key, candidates); s != "" {
			msg += " (did you mean " + s + "?)"
			if !slices.ContainsFunc(all, func(q pair) bool { return q.key == s }) {
				d.failed[joinKey(path, s)] = true
			}
		}
		d.addf(joinKey(path, displayKey(p.key)), p.keyNode.Line, "%s", msg)
	}
}

// resolveAlias follows an alias to the node it names. yaml.v3 never makes
// an alias of an alias, but the loop is bounded anyway.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; i < 8 && n != nil && n.Kind == yaml.AliasNode; i++ {
		n = n.Alias
	}
	if n == nil || n.Kind == yaml.AliasNode {
		return &yaml.Node{} // treated as null
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == nullTag)
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func indexPath(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// displayKey makes a key from the document safe to print in a path: plain
// keys as they are, anything else quoted and shortened.
func displayKey(k string) string {
	if k != "" && len(k) <= 64 && strings.IndexFunc(k, func(r rune) bool {
		return !(r == '_' || r == '-' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
	}) < 0 {
		return k
	}
	return strconv.Quote(truncate(k, 64))
}

// field describes one settable field of a Config struct.
type field struct {
	index  []int
	secret bool // a secret.String: name_file is accepted as well
}

// structInfo is what the decoder knows about a struct type.
type structInfo struct {
	byName map[string]field
	// keys lists every accepted key in field order, *_file twins included;
	// suggestions for unknown keys are drawn from it.
	keys []string
	has  map[string]bool
}

var structInfos sync.Map // reflect.Type → *structInfo

// fieldsOf returns the keys of struct type t: the yaml tag names of its
// exported fields (the lower-cased field name when untagged, as yaml.v3
// does), without those tagged "-". Embedded structs tagged ",inline" have
// their fields merged in.
func fieldsOf(t reflect.Type) *structInfo {
	if si, ok := structInfos.Load(t); ok {
		return si.(*structInfo)
	}
	si := &structInfo{byName: make(map[string]field), has: make(map[string]bool)}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("yaml")
			if tag == "-" || !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			index := append(append([]int(nil), prefix...), i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct && strings.Contains(","+opts+",", ",inline,") {
				walk(f.Type, index)
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			isSecret := f.Type == secretType
			si.byName[name] = field{index: index, secret: isSecret}
			si.keys = append(si.keys, name)
			if isSecret {
				si.keys = append(si.keys, name+"_file")
			}
		}
	}
	walk(t, nil)
	for _, k := range si.keys {
		si.has[k] = true
	}
	actual, _ := structInfos.LoadOrStore(t, si)
	return actual.(*structInfo)
}

// allUpstreamKeys returns the keys of Upstream and of every upstream type.
func allUpstreamKeys() *structInfo {
	all := &structInfo{has: make(map[string]bool)}
	add := func(keys []string) {
		for _, k := range keys {
			if !all.has[k] {
				all.has[k] = true
				all.keys = append(all.keys, k)
			}
		}
	}
	add(fieldsOf(upstreamType).keys)
	for _, name := range Types {
		if t, ok := upstreamTypes[name]; ok {
			add(fieldsOf(t.configType).keys)
		}
	}
	return all
}

// suggest returns the candidate closest to key, if it is close enough to be
// a likely typo, or "".
func suggest(key string, candidates []string) string {
	if len(key) > 64 {
		return ""
	}
	// Allow one edit for very short keys, two for most, three for long ones.
	limit := 1
	if len(key) > 2 {
		limit = min(3, max(2, len(key)/3))
	}
	best, bestDist := "", limit+1
	lk := strings.ToLower(key)
	for _, c := range candidates {
		if dist := editDistance(lk, c); dist < bestDist {
			best, bestDist = c, dist
		}
	}
	if best == "" {
		// A key without its suffix (org for org_id), when only one fits.
		var fits []string
		for _, c := range candidates {
			if strings.HasPrefix(c, lk+"_") {
				fits = append(fits, c)
			}
		}
		if len(fits) == 1 {
			best = fits[0]
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

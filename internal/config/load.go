package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds the configuration file Load reads.
const MaxFileSize = 4 << 20

// Load reads, decodes, completes and validates the configuration file at
// path, expanding ${VAR} from the process environment. A file that cannot be
// read is an error naming path (test it with errors.Is against fs.ErrNotExist
// and the like); a configuration with problems is an *Error listing all of
// them, which wraps ErrInvalid.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err) // names path
	}
	if len(data) > MaxFileSize {
		return nil, &Error{File: path, Problems: []Problem{{Message: fmt.Sprintf("file is larger than %d MiB", MaxFileSize>>20)}}}
	}
	return Parse(data, path, os.LookupEnv)
}

// Parse is Load for a configuration already in memory. path is where data
// came from: relative paths in it, *_file secrets included, are resolved
// against its directory, and it is named in messages; "" leaves relative
// paths relative to the working directory. lookupEnv resolves ${VAR}; nil
// means that no variable is set.
//
// The steps are: strict decoding (unknown keys, wrong types and duplicate
// keys are problems), defaults, then validation. Problems from every step
// are reported together, except that validation says nothing more about a
// value that could not be decoded.
func Parse(data []byte, path string, lookupEnv func(string) (string, bool)) (*Config, error) {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	doc, perr := parseYAML(data)
	if perr != nil {
		return nil, &Error{File: path, Problems: []Problem{*perr}}
	}

	c := &Config{Path: path}
	d := newDecoder(lookupEnv, configDir(path))
	d.decodeDocument(doc, c)
	problems := d.problems
	if d.stopped == nil && !d.failed[""] {
		c.applyDefaults()
		for _, p := range c.validate() {
			if d.suppressed(p.Path) {
				continue
			}
			p.Line = d.lineOf(p.Path)
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 || d.stopped != nil {
		// Document order; problems without a line (required top-level keys
		// that are absent) come first.
		slices.SortStableFunc(problems, func(a, b Problem) int { return a.Line - b.Line })
		if d.stopped != nil {
			problems = append(problems, *d.stopped)
		}
		return nil, &Error{File: path, Problems: problems}
	}
	return c, nil
}

// parseYAML parses data into a node tree: nil for an empty document. More
// than one document is refused rather than silently ignored.
func parseYAML(data []byte) (*yaml.Node, *Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, yamlProblem(err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
		return &doc, nil
	case err != nil:
		return nil, yamlProblem(err)
	default:
		return nil, &Problem{Line: next.Line, Message: "only one YAML document is allowed"}
	}
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

// yamlProblem turns a yaml.v3 syntax error into a Problem with its line.
func yamlProblem(err error) *Problem {
	msg := err.Error()
	p := &Problem{}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	p.Message = "invalid YAML: " + msg
	return p
}

// suppressed reports whether path, or a path above it, is a value that
// could not be decoded and has been reported already.
func (d *decoder) suppressed(path string) bool {
	for {
		if d.failed[path] {
			return true
		}
		if path == "" {
			return false
		}
		path = parentPath(path)
	}
}

// lineOf returns the line of the value at path, or failing that of the
// nearest value above it that has one: a missing key is reported at the
// mapping that lacks it. The top-level mapping does not count: a missing
// top-level key has no line.
func (d *decoder) lineOf(path string) int {
	for path != "" {
		if line, ok := d.lines[path]; ok {
			return line
		}
		path = parentPath(path)
	}
	return 0
}

// parentPath strips the last key or index: "a.b[2]" → "a.b" → "a" → "".
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

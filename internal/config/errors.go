package config

import (
	"errors"
	"strconv"
	"strings"
)

// ErrInvalid is wrapped by every *Error: errors.Is(err, ErrInvalid) tells a
// configuration that was read but is wrong from a file that could not be
// read at all.
var ErrInvalid = errors.New("invalid configuration")

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Path is the key path of the offending value, e.g.
	// "upstreams[1].user_base" ("" for problems with the file as a whole,
	// such as a YAML syntax error).
	Path string
	// Line is the 1-based line of the value in the file, 0 when unknown
	// (a required key that is absent at the top level, for example).
	Line int
	// Message says what is wrong. It never contains a secret or the value
	// of an environment variable.
	Message string
}

// String formats p as "LINE: PATH: MESSAGE", leaving out the parts that are
// unknown.
func (p Problem) String() string {
	var b strings.Builder
	p.write(&b, "")
	return b.String()
}

func (p Problem) write(b *strings.Builder, file string) {
	if file != "" {
		b.WriteString(file)
		b.WriteString(":")
	}
	if p.Line > 0 {
		b.WriteString(strconv.Itoa(p.Line))
		b.WriteString(":")
	}
	if file != "" || p.Line > 0 {
		b.WriteString(" ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
}

// Error is what Load and Parse return for a configuration with problems:
// all of them, in document order.
type Error struct {
	// File is the path the configuration was read from ("" if none).
	File     string
	Problems []Problem
}

// Error prints one problem per line as "FILE:LINE: PATH: MESSAGE".
func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		p.write(&b, e.File)
	}
	if len(e.Problems) == 0 {
		b.WriteString(ErrInvalid.Error())
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *Error) Unwrap() error { return ErrInvalid }

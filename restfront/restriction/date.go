package restriction

import (
	"errors"
	"time"
)

var errDate = errors.New("restriction: invalid date")

// ParseDate reads a DATE value. It accepts the ISO 8601 "date, optionally
// followed by a time" forms that cover both inputs Crowd takes:
//
//   - POSTed restrictions: yyyy-MM-dd'T'HH:mm:ss.SSSZ, e.g.
//     2020-01-02T03:04:05.000+0000 (SearchRestrictionEntityTranslator);
//   - CQL: Joda's dateOptionalTimeParser, e.g. 2020, 2020-01-02,
//     2020-01-02T03:04, 2020-01-02T03:04:05.5Z;
//
// and RFC 3339 (2020-01-02T03:04:05Z, 2020-01-02 03:04:05.123456+01:00).
//
// Grammar: yyyy[-MM[-dd]] then optionally 'T' (or 't' or a space, RFC
// 3339) and HH[:mm[:ss[(.|,)fraction]]] (1 to 9 fraction digits) and an
// offset Z, ±HH, ±HHmm or ±HH:mm. Missing parts are the start of their
// period; a time without an offset is UTC (Crowd would use the server's
// zone; dirgate has no meaningful one). The result is in UTC. Week and
// ordinal dates are not accepted.
func ParseDate(s string) (time.Time, error) {
	p := dateParser{s: s}
	year, ok := p.digits(4)
	if !ok {
		return time.Time{}, errDate
	}
	month, day := 1, 1
	var hour, minute, sec, nsec, offset int
	if p.eat('-') {
		if month, ok = p.digits(2); !ok {
			return time.Time{}, errDate
		}
		if p.eat('-') {
			if day, ok = p.digits(2); !ok {
				return time.Time{}, errDate
			}
		}
	}
	if p.eat('T') || p.eat('t') || (p.peek(' ') && p.i+1 < len(s) && isDigit(s[p.i+1]) && p.eat(' ')) {
		if p.i < len(s) && isDigit(s[p.i]) {
			if hour, ok = p.digits(2); !ok {
				return time.Time{}, errDate
			}
			if p.eat(':') {
				if minute, ok = p.digits(2); !ok {
					return time.Time{}, errDate
				}
				if p.eat(':') {
					if sec, ok = p.digits(2); !ok {
						return time.Time{}, errDate
					}
					if p.eat('.') || p.eat(',') {
						if nsec, ok = p.fraction(); !ok {
							return time.Time{}, errDate
						}
					}
				}
			}
		}
		if offset, ok = p.offset(); !ok {
			return time.Time{}, errDate
		}
	}
	if p.i != len(s) {
		return time.Time{}, errDate
	}
	if month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, errDate
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // 2021-02-30
		return time.Time{}, errDate
	}
	return t.Add(-time.Duration(offset) * time.Second), nil
}

type dateParser struct {
	s string
	i int
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func (p *dateParser) peek(c byte) bool { return p.i < len(p.s) && p.s[p.i] == c }

func (p *dateParser) eat(c byte) bool {
	if p.peek(c) {
		p.i++
		return true
	}
	return false
}

// digits reads exactly n decimal digits.
func (p *dateParser) digits(n int) (int, bool) {
	if p.i+n > len(p.s) {
		return 0, false
	}
	v := 0
	for _, c := range []byte(p.s[p.i : p.i+n]) {
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	p.i += n
	return v, true
}

// fraction reads 1 to 9 digits of a second as nanoseconds.
func (p *dateParser) fraction() (int, bool) {
	start := p.i
	v := 0
	for p.i < len(p.s) && isDigit(p.s[p.i]) {
		if p.i-start == 9 {
			return 0, false
		}
		v = v*10 + int(p.s[p.i]-'0')
		p.i++
	}
	n := p.i - start
	if n == 0 {
		return 0, false
	}
	for ; n < 9; n++ {
		v *= 10
	}
	return v, true
}

// offset reads an optional zone offset and returns it in seconds east of
// UTC.
func (p *dateParser) offset() (int, bool) {
	if p.eat('Z') || p.eat('z') {
		return 0, true
	}
	sign := 1
	switch {
	case p.eat('+'):
	case p.eat('-'):
		sign = -1
	default:
		return 0, true // none: UTC
	}
	h, ok := p.digits(2)
	if !ok {
		return 0, false
	}
	m := 0
	if p.eat(':') {
		if m, ok = p.digits(2); !ok {
			return 0, false
		}
	} else if p.i < len(p.s) {
		if m, ok = p.digits(2); !ok {
			return 0, false
		}
	}
	if h > 23 || m > 59 {
		return 0, false
	}
	return sign * (h*3600 + m*60), true
}

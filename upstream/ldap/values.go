package ldap

import (
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// parseGeneralizedTime parses an LDAP GeneralizedTime (RFC 4517 3.3.13):
// YYYYMMDDHH[MM[SS]][(.|,)fraction](Z|+hhmm|-hhmm), as OpenLDAP
// ("20261122063812Z") and Active Directory ("20261122063812.0Z") write it.
// The fraction applies to the last unit given.
func parseGeneralizedTime(s string) (time.Time, error) {
	bad := errors.New("invalid GeneralizedTime " + strconv.Quote(s))
	digits := func(i, n int) (int, bool) {
		if i+n > len(s) {
			return 0, false
		}
		v := 0
		for _, c := range []byte(s[i : i+n]) {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	year, ok1 := digits(0, 4)
	month, ok2 := digits(4, 2)
	day, ok3 := digits(6, 2)
	hour, ok4 := digits(8, 2)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return time.Time{}, bad
	}
	i := 10
	var minute, sec int
	unit := time.Hour
	if v, ok := digits(i, 2); ok {
		minute, i, unit = v, i+2, time.Minute
		if v, ok := digits(i, 2); ok {
			sec, i, unit = v, i+2, time.Second
		}
	}
	var frac time.Duration
	if i < len(s) && (s[i] == '.' || s[i] == ',') {
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i+1 || j-i-1 > 18 {
			return time.Time{}, bad
		}
		f, err := strconv.ParseFloat("0."+s[i+1:j], 64)
		if err != nil {
			return time.Time{}, bad
		}
		frac = time.Duration(f * float64(unit))
		i = j
	}
	var loc *time.Location
	switch {
	case i == len(s)-1 && s[i] == 'Z':
		loc = time.UTC
	case i+5 == len(s) && (s[i] == '+' || s[i] == '-'):
		hh, ok1 := digits(i+1, 2)
		mm, ok2 := digits(i+3, 2)
		if !ok1 || !ok2 || hh > 23 || mm > 59 {
			return time.Time{}, bad
		}
		off := hh*3600 + mm*60
		if s[i] == '-' {
			off = -off
		}
		loc = time.FixedZone("", off)
	default:
		return time.Time{}, bad
	}
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, bad
	}
	t := time.Date(year, time.Month(month), day, hour, minute, min(sec, 59), 0, loc)
	if t.Day() != day || t.Month() != time.Month(month) { // February 30th and the like
		return time.Time{}, bad
	}
	if sec == 60 { // a leap second
		t = t.Add(time.Second)
	}
	return t.Add(frac).UTC(), nil
}

// timestampLayout is how cursors write a GeneralizedTime: UTC, seconds.
const timestampLayout = "20060102150405Z"

// formatGUID formats the 16 bytes of an Active Directory objectGUID as its
// canonical string: the first three groups are little-endian.
func formatGUID(b []byte) (string, bool) {
	if len(b) != 16 {
		return "", false
	}
	le := []byte{b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6]}
	h := hex.EncodeToString(append(le, b[8:]...))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32], true
}

// parseRange splits an attribute description with a range option, as
// Active Directory returns big multi-valued attributes
// ("member;range=0-1499", the last chunk "member;range=1500-*"). ok is false
// for a name without a range option.
func parseRange(name string) (base string, low, high int, last bool, ok bool) {
	parts := strings.Split(name, ";")
	for i, p := range parts {
		v, found := strings.CutPrefix(strings.ToLower(p), "range=")
		if !found || i == 0 {
			continue
		}
		lo, hi, found := strings.Cut(v, "-")
		if !found {
			return "", 0, 0, false, false
		}
		l, err := strconv.Atoi(lo)
		if err != nil || l < 0 {
			return "", 0, 0, false, false
		}
		rest := append(append([]string{}, parts[:i]...), parts[i+1:]...)
		base = strings.Join(rest, ";")
		if hi == "*" {
			return base, l, 0, true, true
		}
		h, err := strconv.Atoi(hi)
		if err != nil || h < l {
			return "", 0, 0, false, false
		}
		return base, l, h, false, true
	}
	return "", 0, 0, false, false
}

package filter

import (
	"errors"
	"testing"
)

func addSeeds(f *testing.F) {
	for _, s := range trickyFilters {
		f.Add(s)
	}
	for _, c := range evalGolden {
		f.Add(c.filter)
	}
}

// depthAndCount returns the depth of a tree and its number of nodes.
func depthAndCount(n *Node) (depth, count int) {
	count = 1
	for _, c := range n.Children {
		d, k := depthAndCount(c)
		depth = max(depth, d)
		count += k
	}
	return depth + 1, count
}

// FuzzParse: Parse never panics, stays within its limits, agrees with
// goldap.CompileFilter, and String() re-parses to the same String().
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, s string) {
		lim := Limits{}.withDefaults()
		flt, err := Parse(s, Limits{})
		if err != nil {
			var se *SyntaxError
			var le *LimitError
			switch {
			case errors.As(err, &se):
				if !errors.Is(err, ErrSyntax) || se.Pos < 0 || se.Pos > len(s) {
					t.Fatalf("%q: bad syntax error %v", s, err)
				}
			case errors.As(err, &le):
				if !errors.Is(err, ErrLimit) {
					t.Fatalf("%q: bad limit error %v", s, err)
				}
				return // go-ldap has no limits to compare with
			default:
				t.Fatalf("%q: error of type %T: %v", s, err, err)
			}
		} else {
			depth, count := depthAndCount(flt.Root())
			if len(s) > lim.MaxLength || depth > lim.MaxDepth || count > lim.MaxNodes {
				t.Fatalf("%q: beyond the limits: %d bytes, depth %d, %d nodes", s, len(s), depth, count)
			}
			out := flt.String()
			again, err := Parse(out, noLimits)
			if err != nil {
				t.Fatalf("%q: String() %q does not parse: %v", s, out, err)
			}
			if again.String() != out {
				t.Fatalf("%q: String() %q re-parses to %q", s, out, again.String())
			}
		}
		checkAgainstGoldap(t, s)
	})
}

// FuzzEval: evaluating any filter against the test entries never panics,
// gives one of the three results, negates under Not, and evaluates the same
// after a round trip through String().
func FuzzEval(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := Parse(s, Limits{})
		if err != nil {
			return
		}
		neg, err := Parse("(!"+flt.String()+")", noLimits)
		if err != nil {
			t.Fatalf("%q: negation does not parse: %v", s, err)
		}
		again, _ := Parse(flt.String(), noLimits)
		for _, e := range testEntries {
			for _, e := range []Entry{e, plainEntry{e}} {
				r := flt.Eval(e)
				if r != True && r != False && r != Undefined {
					t.Fatalf("%q: result %d", s, r)
				}
				want := map[Result]Result{True: False, False: True, Undefined: Undefined}[r]
				if got := neg.Eval(e); got != want {
					t.Fatalf("%q on %s: %v, negated %v", s, e.DN(), r, got)
				}
				if got := again.Eval(e); got != r {
					t.Fatalf("%q on %s: %v, after String() %v", s, e.DN(), r, got)
				}
			}
		}
	})
}

// FuzzNormalizeDN: never panics; the result is idempotent and agrees with
// the slow path.
func FuzzNormalizeDN(f *testing.F) {
	for _, s := range []string{"uid=alice,ou=users,dc=example,dc=com", "CN=A+SN=B, O=x", `cn=a\,b`, "cn=#04024869",
		"", "cn=José", `cn=\ a\ `, "2.5.4.3=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := NormalizeDN(s)
		slow, sok := normalizeDNSlow(s)
		if ok != sok || n != slow {
			t.Fatalf("%q: fast path %q %v, slow %q %v", s, n, ok, slow, sok)
		}
		if !ok {
			return
		}
		again, ok := NormalizeDN(n)
		if !ok || again != n {
			t.Fatalf("%q: %q re-normalises to %q %v", s, n, again, ok)
		}
		if !dnEqual(s, n) {
			t.Fatalf("%q: not dnEqual to its normal form %q", s, n)
		}
	})
}

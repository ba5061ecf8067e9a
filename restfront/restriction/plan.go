package restriction

// Exact is a planner hint: it reports a value that the string property key
// (a canonical name such as KeyName or KeyEmail) of every entity matching r
// must equal, ignoring case, so a search can look the candidates up in an
// index instead of scanning, and then run Match on them.
//
// It finds `key EXACTLY_MATCHES value` (TypeString) as r itself, as a
// member of an And (at any depth of nested Ands) or as the only member of
// an Or. It answers ok=false for anything else, which is always safe: the
// caller scans. The hint is a necessary condition only for single-valued
// properties, which the built-in ones are; do not use it for custom
// attributes.
func Exact(r Restriction, key string) (value string, ok bool) {
	switch r := r.(type) {
	case Property:
		if r.Name == key && r.Type == TypeString && r.Mode == ExactlyMatches {
			return r.Value, true
		}
	case *Property:
		if r != nil {
			return Exact(*r, key)
		}
	case Boolean:
		switch {
		case r.Logic == And:
			for _, c := range r.Restrictions {
				if v, ok := Exact(c, key); ok {
					return v, true
				}
			}
		case r.Logic == Or && len(r.Restrictions) == 1:
			return Exact(r.Restrictions[0], key)
		}
	case *Boolean:
		if r != nil {
			return Exact(*r, key)
		}
	}
	return "", false
}

package ldapload

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
)

// MemberOfFilters reads an LDIF made by slapdtest.GenerateLDIF (with
// memberOf values) and returns, for every user uids[i], the filter
// (&(uid=X)(memberOf=G)) with G one of the user's groups, direct or through
// one level of nesting, drawn from a fixed seed; nestedOnly counts the Gs
// the user reaches only through nesting.
func MemberOfFilters(ldif string, uids []string) (filters []string, nestedOnly int, err error) {
	f, err := os.Open(ldif)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	direct := make([][]string, len(uids))
	parent := map[string]string{}
	user := -1
	var dn string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ": ")
		switch {
		case !ok:
		case k == "dn":
			dn, user = v, -1
			if rest, ok := strings.CutPrefix(v, "uid=user"); ok {
				if n, err := strconv.Atoi(rest[:max(strings.IndexByte(rest, ','), 0)]); err == nil && n < len(uids) {
					user = n
				}
			}
		case k == "memberOf" && user >= 0:
			direct[user] = append(direct[user], v)
		case k == "memberOf":
			parent[dn] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, 0, err
	}
	r := rand.New(rand.NewPCG(3, 4))
	filters = make([]string, len(uids))
	for i, groups := range direct {
		all := groups
		for _, g := range groups {
			if p, ok := parent[g]; ok {
				all = append(all, p)
			}
		}
		if len(all) == 0 {
			return nil, 0, fmt.Errorf("user %d is in no group", i)
		}
		j := r.IntN(len(all))
		if j >= len(groups) {
			nestedOnly++
		}
		filters[i] = "(&(uid=" + uids[i] + ")(memberOf=" + all[j] + "))"
	}
	return filters, nestedOnly, nil
}

package slapdtest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
)

// DataSpec describes a generated directory.
//
// The shape, for Users=N, Groups=M, Memberships=K and NestEvery=E:
//
//   - The suffix entry, ou=people and ou=groups.
//   - N users uid=GenUID(i),ou=people,<suffix> (i = 0..N-1): objectClass
//     inetOrgPerson; uid, cn "<givenName> <sn> <i>", sn and givenName from
//     short fixed lists, displayName = cn, mail <uid>@<domain of the
//     suffix's dc= parts>, and userPassword = Password when it is set.
//   - M groups cn=GenGroupCN(g),ou=groups,<suffix>: objectClass
//     groupOfNames; cn, description, member.
//   - K user memberships in total (at least M: every group has at least one
//     user member; at most N*M). Group g gets K/M of them (the first K%M
//     groups one more), taken from a fixed pseudo-random permutation of the
//     users in consecutive runs, so every user is in about K/N groups and
//     the same user is never twice in one group. With 100,000 users,
//     10,000 groups and 500,000 memberships every group has 50 members and
//     every user is in 5 groups.
//   - With E >= 2, nesting one level deep: every group g with g%E == E-1 is
//     also a member of group g-(E-1) (g%E == 0). No group is both parent
//     and child, so there are no chains and no cycles.
//   - With MemberOf, users and child groups carry the direct memberOf the
//     memberof overlay would maintain (load it with WithMemberOf).
//
// The output is deterministic and streamed: memory does not grow with N, M
// or K.
type DataSpec struct {
	Suffix      string // default dc=example,dc=com
	Users       int
	Groups      int
	Memberships int
	NestEvery   int    // 0 or 1: no nesting
	Password    string // userPassword of every user; "" for none
	MemberOf    bool
}

// GenUID is the uid of generated user i.
func GenUID(i int) string { return fmt.Sprintf("user%06d", i) }

// GenGroupCN is the cn of generated group g.
func GenGroupCN(g int) string { return fmt.Sprintf("group%05d", g) }

var (
	givenNames  = []string{"Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter", "Zoe"}
	familyNames = []string{"Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson", "Clarke"}
)

// generator holds the derived numbers of a DataSpec.
type generator struct {
	spec              DataSpec
	n, m, k           uint64
	q, r              uint64 // memberships per group: q, the first r groups q+1
	a, aInv, b        uint64 // the permutation x -> (a*x+b) mod n
	peopleDN, groupDN string
	domain            string
}

func newGenerator(spec DataSpec) (*generator, error) {
	if spec.Suffix == "" {
		spec.Suffix = DefaultSuffix
	}
	dn, err := goldap.ParseDN(spec.Suffix)
	if err != nil || len(dn.RDNs) == 0 {
		return nil, fmt.Errorf("slapdtest: suffix %q is not a DN", spec.Suffix)
	}
	if spec.Users < 0 || spec.Groups < 0 || spec.Memberships < 0 {
		return nil, errors.New("slapdtest: negative counts")
	}
	if spec.Groups > 0 && spec.Users == 0 {
		return nil, errors.New("slapdtest: groups need at least one user")
	}
	g := &generator{
		spec:     spec,
		n:        uint64(spec.Users),
		m:        uint64(spec.Groups),
		k:        uint64(spec.Memberships),
		peopleDN: "ou=people," + spec.Suffix,
		groupDN:  "ou=groups," + spec.Suffix,
	}
	if g.m > 0 {
		g.k = max(g.k, g.m)
		if hi, lo := bits.Mul64(g.n, g.m); hi == 0 {
			g.k = min(g.k, lo)
		}
		g.q, g.r = g.k/g.m, g.k%g.m
	} else {
		g.k = 0
	}
	var dcs []string
	for _, rdn := range dn.RDNs {
		for _, a := range rdn.Attributes {
			if strings.EqualFold(a.Type, "dc") {
				dcs = append(dcs, strings.ToLower(a.Value))
			}
		}
	}
	g.domain = "example.com"
	if len(dcs) > 0 {
		g.domain = strings.Join(dcs, ".")
	}
	if g.n > 0 {
		g.a = 7919 % g.n
		for gcd(g.a, g.n) != 1 {
			g.a = (g.a + 1) % g.n
		}
		g.aInv = modInverse(g.a, g.n)
		g.b = g.n / 3
	}
	return g, nil
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// modInverse returns x with a*x = 1 (mod n), for gcd(a, n) = 1.
func modInverse(a, n uint64) uint64 {
	if n == 1 {
		return 0
	}
	t, newT := int64(0), int64(1)
	r, newR := int64(n), int64(a)
	for newR != 0 {
		q := r / newR
		t, newT = newT, t-q*newT
		r, newR = newR, r-q*newR
	}
	if t < 0 {
		t += int64(n)
	}
	return uint64(t)
}

func mulmod(a, b, n uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return bits.Rem64(hi, lo, n)
}

// userAt is the user at membership position p.
func (g *generator) userAt(p uint64) uint64 { return (mulmod(g.a, p%g.n, g.n) + g.b) % g.n }

// position is the first membership position of user u.
func (g *generator) position(u uint64) uint64 { return mulmod((u+g.n-g.b)%g.n, g.aInv, g.n) }

// groupStart is the first membership position of group gr.
func (g *generator) groupStart(gr uint64) uint64 { return gr*g.q + min(gr, g.r) }

// groupOf is the group holding membership position p.
func (g *generator) groupOf(p uint64) uint64 {
	if big := g.r * (g.q + 1); p < big {
		return p / (g.q + 1)
	} else {
		return g.r + (p-big)/g.q
	}
}

func (g *generator) userDN(u uint64) string     { return "uid=" + GenUID(int(u)) + "," + g.peopleDN }
func (g *generator) groupDNOf(gr uint64) string { return "cn=" + GenGroupCN(int(gr)) + "," + g.groupDN }

// parentOf returns the group gr is nested into.
func (g *generator) parentOf(gr uint64) (uint64, bool) {
	e := uint64(g.spec.NestEvery)
	if g.spec.NestEvery < 2 || gr%e != e-1 {
		return 0, false
	}
	return gr - (e - 1), true
}

// childOf returns the group nested into gr.
func (g *generator) childOf(gr uint64) (uint64, bool) {
	e := uint64(g.spec.NestEvery)
	if g.spec.NestEvery < 2 || gr%e != 0 || gr+e-1 >= g.m {
		return 0, false
	}
	return gr + e - 1, true
}

// GenerateLDIF writes the directory spec describes as LDIF to w, base
// entries included (load it with WithLDIFFile and WithLDIFIncludesBase).
func GenerateLDIF(w io.Writer, spec DataSpec) error {
	g, err := newGenerator(spec)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	var base strings.Builder
	writeBaseEntries(&base, g.spec.Suffix)
	bw.WriteString(base.String())

	for u := uint64(0); u < g.n; u++ {
		uid := GenUID(int(u))
		given := givenNames[u%uint64(len(givenNames))]
		family := familyNames[(u/uint64(len(givenNames)))%uint64(len(familyNames))]
		cn := fmt.Sprintf("%s %s %d", given, family, u)
		fmt.Fprintf(bw, "dn: %s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\ngivenName: %s\ndisplayName: %s\nmail: %s@%s\n",
			g.userDN(u), uid, cn, family, given, cn, uid, g.domain)
		if g.spec.Password != "" {
			fmt.Fprintf(bw, "userPassword: %s\n", g.spec.Password)
		}
		if g.spec.MemberOf {
			for p := g.position(u); p < g.k; p += g.n {
				fmt.Fprintf(bw, "memberOf: %s\n", g.groupDNOf(g.groupOf(p)))
			}
		}
		bw.WriteString("\n")
	}

	for gr := uint64(0); gr < g.m; gr++ {
		cn := GenGroupCN(int(gr))
		fmt.Fprintf(bw, "dn: %s\nobjectClass: groupOfNames\ncn: %s\ndescription: Generated group %d\n", g.groupDNOf(gr), cn, gr)
		start := g.groupStart(gr)
		count := g.q
		if gr < g.r {
			count++
		}
		for p := start; p < start+count; p++ {
			fmt.Fprintf(bw, "member: %s\n", g.userDN(g.userAt(p)))
		}
		if child, ok := g.childOf(gr); ok {
			fmt.Fprintf(bw, "member: %s\n", g.groupDNOf(child))
		}
		if parent, ok := g.parentOf(gr); ok && g.spec.MemberOf {
			fmt.Fprintf(bw, "memberOf: %s\n", g.groupDNOf(parent))
		}
		if _, err := bw.WriteString("\n"); err != nil {
			return err
		}
	}
	return bw.Flush()
}

package secret

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	gohash "hash"
	"sync"
	"time"
)

// Verifier checks passwords against argon2id hashes and remembers, for a
// while, the ones it found right. argon2id costs tens of milliseconds by
// design; a client that authenticates on every request (a Crowd
// application's Basic auth, an LDAP service account binding on every
// connection) would otherwise pay that each time. What is remembered is an
// HMAC of the password under a key that exists only in this process's
// memory, per account and hash, so a changed hash invalidates it.
type Verifier struct {
	key  []byte
	ttl  time.Duration
	max  int
	macs sync.Pool // *macState: HMAC-SHA256 under key, reset before use

	mu       sync.Mutex
	verified map[string]verified
}

// macState is a reusable HMAC computation: the hash state, the message
// buffer (cleared after use: it held a password) and the sum.
type macState struct {
	h   gohash.Hash
	buf []byte
	sum [sha256.Size]byte
}

type verified struct {
	mac     []byte
	expires time.Time
}

// NewVerifier remembers verified passwords for ttl, for at most max accounts.
func NewVerifier(ttl time.Duration, max int) *Verifier {
	v := &Verifier{key: make([]byte, 32), ttl: ttl, max: max, verified: map[string]verified{}}
	if _, err := rand.Read(v.key); err != nil {
		panic("secret: no randomness: " + err.Error())
	}
	return v
}

// Check reports whether password matches hash; account names the entry
// to remember. An empty hash is never matched, but costs the same time.
func (v *Verifier) Check(account, hash, password string) bool {
	if hash == "" {
		_, _ = Verify(dummyHash(), password)
		return false
	}
	st, _ := v.macs.Get().(*macState)
	if st == nil {
		st = &macState{h: hmac.New(sha256.New, v.key)}
	}
	st.h.Reset()
	st.buf = append(append(append(append(append(st.buf[:0], account...), 0), hash...), 0), password...)
	st.h.Write(st.buf)
	clear(st.buf)
	var mac [sha256.Size]byte
	copy(mac[:], st.h.Sum(st.sum[:0]))
	v.macs.Put(st)
	v.mu.Lock()
	e, ok := v.verified[account]
	v.mu.Unlock()
	if ok && time.Now().Before(e.expires) && hmac.Equal(e.mac, mac[:]) {
		return true
	}
	good, err := Verify(hash, password)
	if err != nil || !good {
		return false
	}
	v.mu.Lock()
	if len(v.verified) >= v.max {
		for k, x := range v.verified { // drop expired entries, or any one
			if time.Now().After(x.expires) || len(v.verified) >= v.max {
				delete(v.verified, k)
			}
			if len(v.verified) < v.max/2 {
				break
			}
		}
	}
	v.verified[account] = verified{mac: append([]byte(nil), mac[:]...), expires: time.Now().Add(v.ttl)}
	v.mu.Unlock()
	return true
}

var (
	dummyOnce sync.Once
	dummy     string
)

// dummyHash is a hash with the default costs, for spending the time of a
// check when there is nothing to check against.
func dummyHash() string {
	dummyOnce.Do(func() { dummy, _ = Hash("dirgate-dummy") })
	return dummy
}

package secret

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Parameters of new hashes: the OWASP recommendation for argon2id
// (19 MiB, two passes, one lane). Verification reads the parameters from the
// hash, so hashes made with other parameters keep working.
const (
	DefaultMemoryKiB = 19 * 1024
	DefaultTime      = 2
	DefaultThreads   = 1
	saltLen          = 16
	keyLen           = 32
)

// Bounds on the parameters of a hash we are asked to verify: a hash comes
// from a config file or the store, and a hostile one must not make a single
// login take gigabytes or minutes.
const (
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 16
	maxThreads   = 64
	maxKeyLen    = 128
)

// ErrInvalidHash is returned for a string that is not a PHC-format argon2id
// hash within our bounds.
var ErrInvalidHash = errors.New("not an argon2id hash")

// Hash returns a PHC-format argon2id hash of password:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>.
func Hash(password string) (string, error) {
	return HashParams(password, DefaultMemoryKiB, DefaultTime)
}

// HashParams hashes with other costs. Production code uses Hash; tests use
// cheap parameters so that thousands of logins stay fast.
func HashParams(password string, memoryKiB, time uint32) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, time, memoryKiB, DefaultThreads, keyLen)
	return format(memoryKiB, time, DefaultThreads, salt, key), nil
}

func format(m uint32, t uint32, p uint8, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, m, t, p, b64.EncodeToString(salt), b64.EncodeToString(key))
}

type params struct {
	m    uint32
	t    uint32
	p    uint8
	salt []byte
	key  []byte
}

func parse(hash string) (params, error) {
	var pr params
	parts := strings.Split(hash, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return pr, ErrInvalidHash
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return pr, fmt.Errorf("%w: unsupported version %q", ErrInvalidHash, parts[2])
	}
	seen := 0
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return pr, fmt.Errorf("%w: bad parameter %q", ErrInvalidHash, kv)
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return pr, fmt.Errorf("%w: bad parameter %q", ErrInvalidHash, kv)
		}
		switch k {
		case "m":
			if n < 8 || n > maxMemoryKiB {
				return pr, fmt.Errorf("%w: memory %d KiB out of range", ErrInvalidHash, n)
			}
			pr.m = uint32(n)
			seen |= 1
		case "t":
			if n < 1 || n > maxTime {
				return pr, fmt.Errorf("%w: time %d out of range", ErrInvalidHash, n)
			}
			pr.t = uint32(n)
			seen |= 2
		case "p":
			if n < 1 || n > maxThreads {
				return pr, fmt.Errorf("%w: threads %d out of range", ErrInvalidHash, n)
			}
			pr.p = uint8(n)
			seen |= 4
		default:
			return pr, fmt.Errorf("%w: unknown parameter %q", ErrInvalidHash, k)
		}
	}
	if seen != 7 {
		return pr, fmt.Errorf("%w: missing parameter", ErrInvalidHash)
	}
	b64 := base64.RawStdEncoding
	var err error
	if pr.salt, err = b64.DecodeString(parts[4]); err != nil || len(pr.salt) < 8 {
		return pr, fmt.Errorf("%w: bad salt", ErrInvalidHash)
	}
	if pr.key, err = b64.DecodeString(parts[5]); err != nil || len(pr.key) < 16 || len(pr.key) > maxKeyLen {
		return pr, fmt.Errorf("%w: bad key", ErrInvalidHash)
	}
	return pr, nil
}

// CheckHash reports whether hash is a well-formed argon2id hash that Verify
// accepts. The config validator uses it.
func CheckHash(hash string) error {
	_, err := parse(hash)
	return err
}

// Verify reports whether password matches hash. A malformed hash is an error,
// a wrong password is false with a nil error. The comparison is constant-time.
func Verify(hash, password string) (bool, error) {
	pr, err := parse(hash)
	if err != nil {
		return false, err
	}
	verifySlots <- struct{}{}
	defer func() { <-verifySlots }()
	if verifyHook != nil {
		verifyHook()
	}
	key := argon2.IDKey([]byte(password), pr.salt, pr.t, pr.m, pr.p, uint32(len(pr.key)))
	return subtle.ConstantTimeCompare(key, pr.key) == 1, nil
}

// verifySlots bounds the argon2id computations running at once to the
// number of CPUs: each holds its memory parameter (19 MiB by default) for
// its whole run, and more of them at once than there are CPUs only share
// the CPUs more slowly while holding more memory. 64 logins arriving
// together would otherwise take 1.2 GiB; queued, they take a CPU's worth
// of memory each and finish in arrival order.
var verifySlots = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))

// ConcurrentVerifies is how many argon2id computations may run at once:
// what a burst of logins holds is that many times a hash's memory.
func ConcurrentVerifies() int { return cap(verifySlots) }

// verifyHook, when set (tests), runs inside a slot.
var verifyHook func()

package secret

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestStringNeverPrints(t *testing.T) {
	s := String("hunter2")
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %s %#v", s, s, s), mustJSON(t, struct{ P String }{s})} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("secret leaked: %s", out)
		}
	}
	if s.Reveal() != "hunter2" {
		t.Fatal("Reveal lost the value")
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHashVerify(t *testing.T) {
	h, err := Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("unexpected format %q", h)
	}
	ok, err := Verify(h, "correct horse")
	if err != nil || !ok {
		t.Fatalf("Verify(right) = %v, %v", ok, err)
	}
	ok, err = Verify(h, "wrong")
	if err != nil || ok {
		t.Fatalf("Verify(wrong) = %v, %v", ok, err)
	}
	h2, _ := Hash("correct horse")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
}

func TestVerifyRejectsMalformedAndHostileHashes(t *testing.T) {
	for _, h := range []string{
		"",
		"plain",
		"$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=16$m=19456,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=19456,t=1000,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=19456,t=2$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=19456,t=2,p=1$!!$a2V5a2V5a2V5a2V5a2V5a2V5",
	} {
		if _, err := Verify(h, "x"); !errors.Is(err, ErrInvalidHash) {
			t.Errorf("Verify(%q) err = %v, want ErrInvalidHash", h, err)
		}
	}
}

func FuzzParseHash(f *testing.F) {
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5")
	f.Add("$argon2id$v=19$m=8,t=1,p=1$$")
	f.Fuzz(func(t *testing.T, h string) {
		pr, err := parse(h)
		if err != nil {
			return
		}
		if pr.m > 4096 || pr.t > 2 {
			return // keep each iteration cheap; the bounds are tested above
		}
		if _, err := Verify(h, "pw"); err != nil {
			t.Fatalf("parse accepted %q but Verify failed: %v", h, err)
		}
	})
}

func TestVerifierRemembersOnlyRightPasswords(t *testing.T) {
	h, _ := HashParams("right", 64, 1)
	v := NewVerifier(time.Minute, 10)
	if v.Check("app", h, "wrong") || !v.Check("app", h, "right") || !v.Check("app", h, "right") || v.Check("app", h, "wrong") {
		t.Fatal("wrong answers")
	}
	h2, _ := HashParams("other", 64, 1)
	if v.Check("app", h2, "right") {
		t.Fatal("a remembered password survived a new hash")
	}
	if v.Check("x", "", "") {
		t.Fatal("an empty hash matched")
	}
}

// At most GOMAXPROCS argon2id computations run at once, however many
// logins arrive together.
func TestVerifyConcurrencyBounded(t *testing.T) {
	h, err := HashParams("pw", 64, 1)
	if err != nil {
		t.Fatal(err)
	}
	var cur, peak atomic.Int32
	verifyHook = func() {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		runtime.Gosched()
		cur.Add(-1)
	}
	defer func() { verifyHook = nil }()
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := Verify(h, "pw"); !ok || err != nil {
				t.Error("verify failed", err)
			}
		}()
	}
	wg.Wait()
	if p := int(peak.Load()); p < 1 || p > cap(verifySlots) {
		t.Fatalf("peak %d concurrent verifications, slots %d", p, cap(verifySlots))
	}
}

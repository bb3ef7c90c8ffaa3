package password

import (
	"errors"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
)

var cheap = Params{Time: 1, Memory: 64, Threads: 1}

func TestHashVerify(t *testing.T) {
	h, err := Hash([]byte("Kanzlei-Passwort-2026"), cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q not in PHC argon2id form", h)
	}
	if err := Verify([]byte("Kanzlei-Passwort-2026"), h); err != nil {
		t.Fatalf("Verify(right) = %v", err)
	}
	if err := Verify([]byte("kanzlei-passwort-2026"), h); !errors.Is(err, ErrMismatch) {
		t.Fatalf("Verify(wrong) = %v, want ErrMismatch", err)
	}
	h2, _ := Hash([]byte("Kanzlei-Passwort-2026"), cheap)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
}

func TestVerifyMalformed(t *testing.T) {
	for _, s := range []string{"", "$argon2id$", "$argon2i$v=19$m=64,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=99999999,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=64,t=1,p=1$!!$AAAAAAAAAAAAAAAAAAAAAA"} {
		if err := Verify([]byte("x"), s); !errors.Is(err, ErrMalformed) {
			t.Errorf("Verify(%q) = %v, want ErrMalformed", s, err)
		}
	}
}

func FuzzVerify(f *testing.F) {
	h, _ := Hash([]byte("pw"), cheap)
	f.Add(h)
	f.Add("$argon2id$v=19$m=64,t=1,p=1$$")
	f.Fuzz(func(t *testing.T, s string) {
		err := Verify([]byte("pw"), s)
		if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrMismatch) {
			t.Fatalf("Verify(%q) = %v: neither malformed nor mismatch", s, err)
		}
	})
}

// Checks sent at once run a few at a time, so that their memory stays
// bounded: 16 concurrent checks of a 16 MiB hash took 256 MiB at once
// before (the heap grew by 239 MiB); now at most a slot per processor (two
// to four) hold theirs. The bound leaves room for memory the collector has
// not yet taken back between checks (80 MiB were seen with two slots
// while other packages' tests ran), and is still half of all at once.
func TestConcurrentChecksBoundMemory(t *testing.T) {
	p := Params{Time: 1, Memory: 16 << 10, Threads: 1}
	phc, err := Hash([]byte("secret"), p)
	if err != nil {
		t.Fatal(err)
	}
	// A prompt collector, so that a finished check's memory is reused.
	defer debug.SetGCPercent(debug.SetGCPercent(20))
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if err := Verify([]byte("wrong"), phc); !errors.Is(err, ErrMismatch) {
				t.Errorf("Verify = %v, want ErrMismatch", err)
			}
		})
	}
	wg.Wait()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapSys) - int64(before.HeapSys)
	if limit := int64(8) * 16 << 20; grown > limit {
		t.Errorf("16 concurrent checks grew the heap by %d MiB, want at most %d MiB (%d slots)", grown>>20, limit>>20, cap(slots))
	}
}

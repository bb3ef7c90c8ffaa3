package identity

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"tresor/appliance/audit"
	"tresor/appliance/password"
	"tresor/appliance/tenant"
	"tresor/storage"
)

const (
	annaPW = "Akte-Schwarz-2025!"
	benPW  = "Bleistift-Kaffee-77"
	carlPW = "Pruefung-Datenschutz-9"
)

func TestAccountsLifecycle(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	e.tenant("kanzlei", "Anna", annaPW, false)
	anna := e.mustLogin("kanzlei", "anna", annaPW) // name folded
	if a := anna.Account(); a.Name != "anna" || a.Role != RoleAdmin || a.ID == "" {
		t.Fatalf("first admin = %+v", a)
	}
	if _, err := e.acc.Bootstrap(ctx, e.open1("kanzlei"), applAdmin, NewAccount{Name: "eve", Password: []byte("Ganz-neues-Passwort-1")}); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("second Bootstrap = %v, want ErrNotEmpty", err)
	}
	if _, err := e.create("kanzlei", anna, "ben", benPW, RoleUser); err != nil {
		t.Fatal(err)
	}
	if _, err := e.create("kanzlei", anna, "carla.pruef", carlPW, RoleAuditor); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, pw string
		role     Role
		want     error
	}{
		{"Ben", "Noch-ein-Passwort-1", RoleUser, ErrExists},
		{"-ben", "Noch-ein-Passwort-1", RoleUser, ErrBadName},
		{"bén", "Noch-ein-Passwort-1", RoleUser, ErrBadName},
		{"dora", "kurz", RoleUser, ErrWeakPassword},
		{"dora", "Passwort123", RoleUser, ErrWeakPassword},
		{"dora", "password123", RoleUser, ErrWeakPassword},
		{"dora", "ich-bin-dora-2025", RoleUser, ErrWeakPassword},
		{"dora", "Noch-ein-Passwort-1", "root", ErrBadRole},
	} {
		t.Run(fmt.Sprintf("create %s %s", c.name, c.role), func(t *testing.T) {
			if _, err := e.create("kanzlei", anna, c.name, c.pw, c.role); !errors.Is(err, c.want) {
				t.Fatalf("Create = %v, want %v", err, c.want)
			}
		})
	}
	ben := e.mustLogin("kanzlei", "ben", benPW)
	carla := e.mustLogin("kanzlei", "carla.pruef", carlPW)

	// Who may do what.
	for _, c := range []struct {
		who              string
		p                *Principal
		list, createDisa bool
	}{{"admin", anna, true, true}, {"user", ben, false, false}, {"auditor", carla, true, false}} {
		t.Run(c.who, func(t *testing.T) {
			list, err := e.acc.List(e.open1("kanzlei"), c.p)
			if c.list != (err == nil) || (err != nil && !errors.Is(err, ErrForbidden)) {
				t.Fatalf("List = %v, want allowed=%v", err, c.list)
			}
			if c.list {
				var names []string
				for _, a := range list {
					names = append(names, a.Name+":"+string(a.Role))
				}
				if strings.Join(names, " ") != "anna:admin ben:user carla.pruef:auditor" {
					t.Fatalf("List = %v", names)
				}
			}
			if c.createDisa {
				return
			}
			if _, err := e.create("kanzlei", c.p, "mallory", "Mallorys-Passwort-1", RoleAdmin); !errors.Is(err, ErrForbidden) {
				t.Fatalf("Create = %v, want ErrForbidden", err)
			}
			if _, err := e.acc.Disable(ctx, e.open1("kanzlei"), c.p, "anna"); !errors.Is(err, ErrForbidden) {
				t.Fatalf("Disable = %v, want ErrForbidden", err)
			}
		})
	}

	// Disable: effective at once, also for a principal already signed in.
	if _, err := e.acc.Disable(ctx, e.open1("kanzlei"), anna, "anna"); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("Disable(last admin) = %v, want ErrLastAdmin", err)
	}
	if _, err := e.acc.Disable(ctx, e.open1("kanzlei"), anna, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Disable(nobody) = %v, want ErrNotFound", err)
	}
	if a, err := e.acc.Disable(ctx, e.open1("kanzlei"), anna, "carla.pruef"); err != nil || !a.Disabled {
		t.Fatalf("Disable(carla) = %+v, %v", a, err)
	}
	if _, err := e.acc.List(e.open1("kanzlei"), carla); !errors.Is(err, ErrForbidden) {
		t.Fatalf("List by a principal disabled since = %v, want ErrForbidden", err)
	}
	if _, err := e.login("kanzlei", "carla.pruef", carlPW); !errors.Is(err, ErrDisabled) {
		t.Fatalf("sign-in of a disabled account = %v, want ErrDisabled", err)
	}

	// The tenant's log tells the story, with the acting account.
	var got []string
	for _, en := range logOf(t, e.open1("kanzlei")) {
		got = append(got, fmt.Sprintf("%s/%s/%s", en.Action, en.Actor.Name, en.Outcome))
	}
	want := []string{
		"tenant.create/root/success", "user.create/root/success", "login/anna/success",
		"user.create/anna/success", "user.create/anna/success", "login/ben/success", "login/carla.pruef/success",
		"user.create/ben/denied", "user.disable/ben/denied",
		"user.create/carla.pruef/denied", "user.disable/carla.pruef/denied",
		"user.disable/anna/success", "login.failed/carla.pruef/failure",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("tenant log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestSameNameTwoTenants: "anna" of one tenant is not "anna" of another.
func TestSameNameTwoTenants(t *testing.T) {
	e := newEnv(t, Options{})
	e.tenant("kanzlei", "anna", annaPW, false)
	e.tenant("notariat", "anna", benPW, false)
	a := e.mustLogin("kanzlei", "anna", annaPW)
	b := e.mustLogin("notariat", "anna", benPW)
	if a.Account().ID == b.Account().ID {
		t.Fatal("one account ID in two tenants")
	}
	if _, err := e.login("kanzlei", "anna", benPW); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("kanzlei's anna with notariat's password = %v", err)
	}
	if _, err := e.login("notariat", "anna", annaPW); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("notariat's anna with kanzlei's password = %v", err)
	}
	// A principal works only with the tenant handle it signed in to.
	ctx := context.Background()
	nt := e.open1("notariat")
	if _, err := e.acc.List(nt, a); !errors.Is(err, ErrForbidden) {
		t.Fatalf("List in notariat as kanzlei's anna = %v, want ErrForbidden", err)
	}
	if _, err := e.acc.Create(ctx, nt, a, NewAccount{Name: "x", Password: []byte("Irgendein-Passwort-1"), Role: RoleUser}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("Create in notariat as kanzlei's anna = %v, want ErrForbidden", err)
	}
	if _, err := e.acc.Disable(ctx, nt, a, "anna"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("Disable in notariat as kanzlei's anna = %v, want ErrForbidden", err)
	}
	if _, err := e.acc.List(&tenant.Tenant{}, a); err == nil {
		t.Fatal("List on a zero Tenant succeeded")
	}
	if _, err := e.acc.List(e.open1("kanzlei"), nil); !errors.Is(err, ErrForbidden) {
		t.Fatalf("List without a principal = %v", err)
	}
	// Nothing of kanzlei's attempts reached notariat's log.
	for _, en := range logOf(t, nt) {
		if en.Tenant != "notariat" || en.Actor.ID == a.Account().ID {
			t.Fatalf("notariat's log has %+v", en)
		}
	}
}

// TestNoEnumeration: an unknown name answers like a wrong password, in
// error, log and time.
func TestNoEnumeration(t *testing.T) {
	// Costly enough that a skipped hash would stand out from the noise.
	e := newEnv(t, Options{Params: password.Params{Time: 1, Memory: 16 * 1024, Threads: 1},
		Account: Backoff{Free: 1000, Base: time.Second, Max: time.Second, Forget: time.Hour},
		Source:  Backoff{Free: 1000, Base: time.Second, Max: time.Second, Forget: time.Hour}})
	e.tenant("kanzlei", "anna", annaPW, false)
	_, errKnown := e.login("kanzlei", "anna", "falsch-falsch-falsch")
	_, errUnknown := e.login("kanzlei", "zacharias", "falsch-falsch-falsch")
	_, errBad := e.login("kanzlei", "../etc/passwd", "falsch-falsch-falsch")
	if !errors.Is(errKnown, ErrAuthFailed) || errKnown.Error() != errUnknown.Error() || errKnown.Error() != errBad.Error() {
		t.Fatalf("errors differ: known %v, unknown %v, bad name %v", errKnown, errUnknown, errBad)
	}
	median := func(name string) time.Duration {
		var ds []time.Duration
		for range 7 {
			start := time.Now()
			e.login("kanzlei", name, "falsch-falsch-falsch")
			ds = append(ds, time.Since(start))
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds[len(ds)/2]
	}
	known, unknown := median("anna"), median("zacharias")
	t.Logf("median sign-in time: known name %v, unknown name %v", known, unknown)
	if r := float64(unknown) / float64(known); r < 0.5 || r > 2 {
		t.Fatalf("unknown names take %v, known ones %v: timing tells them apart", unknown, known)
	}
}

func TestLockout(t *testing.T) {
	e := newEnv(t, Options{Source: Backoff{Free: 8, Base: 10 * time.Second, Max: time.Minute, Forget: time.Hour}})
	e.tenant("kanzlei", "anna", annaPW, false)
	ctx := context.Background()
	n := 0
	// from signs in from a new source each time, so that only the name's
	// count matters.
	from := func(name, pw string) error {
		n++
		_, err := e.acc.Authenticate(ctx, e.open1("kanzlei"), Credentials{Name: name, Password: []byte(pw), Source: fmt.Sprintf("192.0.2.%d", n)})
		return err
	}
	for i := range AccountBackoff().Free + 1 {
		if err := from("anna", "falsch"); !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("failure %d = %v, want ErrAuthFailed", i+1, err)
		}
	}
	// Locked now: even the right password is refused.
	if err := from("anna", annaPW); !errors.Is(err, ErrLocked) {
		t.Fatalf("right password while locked = %v, want ErrLocked", err)
	}
	// The lock is persisted.
	e.reopen()
	if err := from("anna", annaPW); !errors.Is(err, ErrLocked) {
		t.Fatalf("after a restart = %v, want ErrLocked", err)
	}
	e.clock.add(31 * time.Second)
	// One more failure doubles the lock.
	if err := from("anna", "falsch"); !errors.Is(err, ErrAuthFailed) {
		t.Fatal(err)
	}
	e.clock.add(31 * time.Second)
	if err := from("anna", annaPW); !errors.Is(err, ErrLocked) {
		t.Fatalf("31s into a 60s lock = %v, want ErrLocked", err)
	}
	e.clock.add(30 * time.Second)
	if err := from("anna", annaPW); err != nil {
		t.Fatalf("after the lock = %v", err)
	}
	// A success starts the name afresh.
	if err := from("anna", "falsch"); !errors.Is(err, ErrAuthFailed) {
		t.Fatal(err)
	}
	if err := from("anna", annaPW); err != nil {
		t.Fatal(err)
	}

	// Unknown names lock alike, so a lock reveals nothing.
	for range AccountBackoff().Free + 1 {
		from("niemand", "falsch")
	}
	if err := from("niemand", "falsch"); !errors.Is(err, ErrLocked) {
		t.Fatalf("unknown name after failures = %v, want ErrLocked", err)
	}

	// A source is locked after its free failures, for every name, while
	// other sources still sign in. Successes do not count against it.
	e.clock.add(25 * time.Hour)
	const src = "203.0.113.9"
	for i := range 9 {
		if _, err := e.acc.Authenticate(ctx, e.open1("kanzlei"), Credentials{Name: "anna", Password: []byte(annaPW), Source: src}); err != nil {
			t.Fatalf("success %d from %s: %v", i, src, err)
		}
		if _, err := e.acc.Authenticate(ctx, e.open1("kanzlei"), Credentials{Name: fmt.Sprintf("rater%d", i), Password: []byte("x"), Source: src}); !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("failure %d from %s: %v", i, src, err)
		}
	}
	if _, err := e.acc.Authenticate(ctx, e.open1("kanzlei"), Credentials{Name: "anna", Password: []byte(annaPW), Source: src}); !errors.Is(err, ErrLocked) {
		t.Fatalf("locked source = %v, want ErrLocked", err)
	}
	if err := from("anna", annaPW); err != nil {
		t.Fatalf("other source = %v", err)
	}
	var locked int
	for _, en := range logOf(t, e.open1("kanzlei")) {
		if en.Action == audit.ActionLoginFailed && en.Outcome == audit.OutcomeDenied {
			locked++
		}
	}
	if locked != 5 {
		t.Fatalf("%d refusals while locked logged, want 5", locked)
	}
}

// TestLockoutParallel: parallel guesses cannot slip past the lock; each
// attempt is counted before its password is checked.
func TestLockoutParallel(t *testing.T) {
	e := newEnv(t, Options{})
	e.tenant("kanzlei", "anna", annaPW, false)
	var wg sync.WaitGroup
	var mu sync.Mutex
	checked := 0
	for range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.login("kanzlei", "anna", "falsch"); errors.Is(err, ErrAuthFailed) {
				mu.Lock()
				checked++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if max := AccountBackoff().Free + 1; checked > max {
		t.Fatalf("%d of 30 parallel guesses were checked, want at most %d", checked, max)
	}
}

func TestTwoFactorRequired(t *testing.T) {
	e := newEnv(t, Options{})
	e.tenant("kanzlei", "anna", annaPW, true)
	if _, err := e.login("kanzlei", "anna", annaPW); !errors.Is(err, ErrEnrolmentRequired) {
		t.Fatalf("sign-in without an enrolled second factor = %v, want ErrEnrolmentRequired", err)
	}
	// A wrong password still says only that.
	if _, err := e.login("kanzlei", "anna", "falsch"); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("wrong password = %v, want ErrAuthFailed", err)
	}
	log := logOf(t, e.open1("kanzlei"))
	if en := log[len(log)-2]; en.Action != audit.ActionLoginFailed || !strings.Contains(en.Details["reason"], "second factor") {
		t.Fatalf("log entry %+v", en)
	}
	// The per-account flag alone is enough, under a tenant that does not
	// require a second factor.
	e.tenant("notariat", "anna", annaPW, false)
	nt := e.open1("notariat")
	anna := e.mustLogin("notariat", "anna", annaPW)
	if _, err := e.acc.Create(context.Background(), nt, anna, NewAccount{Name: "ben", Password: []byte(benPW), Role: RoleUser, RequireTwoFactor: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.login("notariat", "ben", benPW); !errors.Is(err, ErrEnrolmentRequired) {
		t.Fatalf("ben = %v, want ErrEnrolmentRequired", err)
	}
}

// TestNothingPlainOnDisk: login names are sealed in the identity buckets,
// and no password or hash is on any disk in the clear. (The audit log, a
// separate package, names its actors.)
func TestNothingPlainOnDisk(t *testing.T) {
	e := newEnv(t, Options{})
	e.tenant("kanzlei", "anna.geheimname", annaPW, false)
	p := e.mustLogin("kanzlei", "anna.geheimname", annaPW)
	if _, err := e.create("kanzlei", p, "berthold.vertraulich", benPW, RoleUser); err != nil {
		t.Fatal(err)
	}
	secrets := []string{"geheimname", "berthold", "$argon2id", annaPW, benPW}
	seen := 0
	if err := e.open1("kanzlei").View(func(tx *storage.Tx) error {
		for _, b := range [][]string{bucketMeta, bucketAccounts, bucketNames, bucketThrottle} {
			bk := tx.Bucket(b...)
			if bk == nil {
				continue
			}
			bk.ForEach(func(k, v []byte) error {
				seen++
				for _, s := range secrets {
					if bytes.Contains(k, []byte(s)) || bytes.Contains(v, []byte(s)) {
						t.Errorf("bucket %v holds %q in the clear", b, s)
					}
				}
				return nil
			})
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if seen < 5 { // index key, two accounts, two names
		t.Fatalf("looked at only %d values", seen)
	}
	e.reg.Close()
	e.pool.Close()
	for _, d := range e.paths {
		filepath.Walk(d, func(path string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() {
				return err
			}
			b, _ := os.ReadFile(path)
			for _, s := range secrets[2:] {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("%s holds %q in the clear", path, s)
				}
			}
			return nil
		})
	}
	e.reopen()
}

func TestNormalizeName(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"anna", "anna"}, {" Anna.Meier@Kanzlei-M ", "anna.meier@kanzlei-m"}, {"a_b", "a_b"}, {"7", "7"},
		{"", ""}, {"-a", ""}, {".a", ""}, {"a b", ""}, {"ännä", ""}, {"\u212aanzlei", ""}, {strings.Repeat("a", 65), ""},
	} {
		got, err := NormalizeName(c.in)
		if got != c.want || (err == nil) != (c.want != "") {
			t.Errorf("NormalizeName(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

// FuzzNormalizeName: normal forms are fixed points of a-z0-9._@- only.
func FuzzNormalizeName(f *testing.F) {
	for _, s := range []string{"Anna", " x ", "\u212a", "a@b.c", "-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizeName(s)
		if err != nil {
			return
		}
		again, err := NormalizeName(n)
		if err != nil || again != n {
			t.Fatalf("NormalizeName(%q) = %q, then %q, %v", s, n, again, err)
		}
		if strings.Trim(n, "abcdefghijklmnopqrstuvwxyz0123456789._@-") != "" || len(n) > MaxNameLen {
			t.Fatalf("NormalizeName(%q) = %q", s, n)
		}
	})
}

// BenchmarkAuthenticate is the cost of one sign-in with the production
// argon2id parameters (the database commits do not fsync here).
func BenchmarkAuthenticate(b *testing.B) {
	e := newEnv(b, Options{Params: password.Default})
	e.tenant("kanzlei", "anna", annaPW, false)
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.login("kanzlei", "anna", annaPW); err != nil {
			b.Fatal(err)
		}
	}
}

// An IPv6 source counts as its /64: a line to an office or a home gets a
// whole /64, and counting each address would give a guesser a fresh
// source for every attempt. Another /64 is another source.
func TestSourceLockoutIPv6Block(t *testing.T) {
	e := newEnv(t, Options{Source: Backoff{Free: 8, Base: 10 * time.Second, Max: time.Minute, Forget: time.Hour}})
	e.tenant("kanzlei", "anna", annaPW, false)
	ctx := context.Background()
	try := func(name, pw, src string) error {
		_, err := e.acc.Authenticate(ctx, e.open1("kanzlei"), Credentials{Name: name, Password: []byte(pw), Source: src})
		return err
	}
	// A new name and a new address of the /64 for every guess.
	for i := range 9 {
		if err := try(fmt.Sprintf("rater%d", i), "x", fmt.Sprintf("2001:db8:1:2::%x", i+1)); !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("guess %d = %v, want ErrAuthFailed", i, err)
		}
	}
	if err := try("anna", annaPW, "2001:db8:1:2:ffff::1"); !errors.Is(err, ErrLocked) {
		t.Fatalf("another address of the /64 = %v, want ErrLocked", err)
	}
	if err := try("anna", annaPW, "2001:db8:1:3::1"); err != nil {
		t.Fatalf("another /64 = %v", err)
	}
	if err := try("anna", annaPW, "192.0.2.7"); err != nil {
		t.Fatalf("an IPv4 address = %v", err)
	}
	for _, c := range []struct{ in, want string }{
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "::ffff:192.0.2.7"},
		{"socket", "socket"},
	} {
		if got := SourceBlock(c.in); got != c.want {
			t.Errorf("SourceBlock(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// A source's failures count across tenants: a guesser who spreads a
// password spray over the appliance's tenants (web sign-in, WebDAV with
// an app password) gets one source budget, not one per tenant.
func TestSourceLockoutAcrossTenants(t *testing.T) {
	e := newEnv(t, Options{Source: Backoff{Free: 8, Base: 10 * time.Second, Max: time.Minute, Forget: time.Hour}})
	slugs := []string{"kanzlei", "praxis", "notariat"}
	for _, s := range slugs {
		e.tenant(s, "anna", annaPW, false)
	}
	e.tenant("steuer", "anna", annaPW, false)
	ctx := context.Background()
	const src = "198.51.100.7"
	for i := range 9 {
		_, err := e.acc.Authenticate(ctx, e.open1(slugs[i%3]), Credentials{Name: fmt.Sprintf("rater%d", i), Password: []byte("x"), Source: src})
		if !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("guess %d = %v, want ErrAuthFailed", i, err)
		}
	}
	if _, err := e.acc.Authenticate(ctx, e.open1("steuer"), Credentials{Name: "anna", Password: []byte(annaPW), Source: src}); !errors.Is(err, ErrLocked) {
		t.Fatalf("sign-in in a fourth tenant from the spraying source = %v, want ErrLocked", err)
	}
	if _, err := e.acc.AuthenticateAppPassword(ctx, e.open1("steuer"), "anna", AppPasswordPrefix+"0000000000000000_x", src); !errors.Is(err, ErrLocked) {
		t.Fatalf("app password from the spraying source = %v, want ErrLocked", err)
	}
	if _, err := e.acc.Authenticate(ctx, e.open1("steuer"), Credentials{Name: "anna", Password: []byte(annaPW), Source: "198.51.100.8"}); err != nil {
		t.Fatalf("another source = %v", err)
	}
	e.clock.add(11 * time.Second)
	if _, err := e.acc.Authenticate(ctx, e.open1("steuer"), Credentials{Name: "anna", Password: []byte(annaPW), Source: src}); err != nil {
		t.Fatalf("after the lock = %v", err)
	}
}

// The control socket's sign-ins (source "socket", root's on the box) are
// counted per tenant only: scripted work that fails across tenants must
// not lock the socket out of every tenant.
func TestSocketNotCountedAcrossTenants(t *testing.T) {
	e := newEnv(t, Options{Source: Backoff{Free: 3, Base: time.Minute, Max: time.Minute, Forget: time.Hour}})
	for _, s := range []string{"kanzlei", "praxis", "notariat"} {
		e.tenant(s, "anna", annaPW, false)
	}
	ctx := context.Background()
	for i := range 6 {
		e.acc.Authenticate(ctx, e.open1([]string{"kanzlei", "praxis"}[i%2]), Credentials{Name: fmt.Sprintf("rater%d", i), Password: []byte("x"), Source: "socket"})
	}
	if _, err := e.acc.Authenticate(ctx, e.open1("notariat"), Credentials{Name: "anna", Password: []byte(annaPW), Source: "socket"}); err != nil {
		t.Fatalf("socket sign-in in a third tenant = %v", err)
	}
}

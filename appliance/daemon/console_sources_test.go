package daemon

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"tresor/appliance/adminauth"
	"tresor/appliance/identity"
	"tresor/appliance/password"
	"tresor/appliance/setup"
)

// TestConsoleSharesSourceCount: failed sign-ins from one source count
// once across the tenants and the console, so a guesser who spreads over
// both does not get the console's budget on top of the tenants'.
func TestConsoleSharesSourceCount(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	ctx := context.Background()
	cheap := password.Params{Time: 1, Memory: 1024, Threads: 1}
	acc, err := identity.New(identity.Options{Params: cheap,
		Source: identity.Backoff{Free: 3, Base: time.Minute, Max: time.Minute, Forget: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	ta.st.tenants.accounts = acc
	const rootPW = "ein langes Admin-Passwort 7"
	hash, _ := password.Hash([]byte(rootPW), cheap)
	if err := setup.SaveAdmin(ctx, ta.st.pool, setup.Admin{Name: "root", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	const src = "198.51.100.7"
	for i := range 4 {
		tn, err := ta.st.tenants.reg.Open(ctx, []string{"kanzlei", "notariat"}[i%2])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := acc.Authenticate(ctx, tn, identity.Credentials{Name: fmt.Sprintf("rater%d", i), Password: []byte("x"), Source: src}); !errors.Is(err, identity.ErrAuthFailed) {
			t.Fatalf("guess %d = %v", i, err)
		}
	}
	auth, err := ta.a.ConsoleAuth()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.SignIn(ctx, "root", rootPW, "", src); !errors.Is(err, adminauth.ErrLocked) {
		t.Fatalf("console sign-in from the guessing source = %v, want ErrLocked", err)
	}
	if p, err := auth.SignIn(ctx, "root", rootPW, "", "198.51.100.8"); err != nil || !p.Enrolling {
		t.Fatalf("console sign-in from another source = %+v, %v", p, err)
	}
}

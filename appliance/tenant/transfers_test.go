package tenant

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestTransferRecords: the registry's transfer records: receivers that
// cannot receive, visibility to the two sides only, the state machine
// with its lease (a crashed accept is taken over once the lease ran out),
// the peer opened from the record, and persistence.
func TestTransferRecords(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	e.reg.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	for _, s := range []string{"kanzlei", "notariat", "praxis", "schlaf"} {
		e.create(s)
	}
	if _, err := e.reg.Suspend(ctx, admin, "schlaf"); err != nil {
		t.Fatal(err)
	}
	a, b, c := e.open1("kanzlei"), e.open1("notariat"), e.open1("praxis")

	for _, tc := range []struct {
		to   string
		want error
	}{
		{"nosuch", ErrNotFound},
		{"../kanzlei", ErrNotFound},
		{"schlaf", ErrNotFound}, // suspended: answered as unknown
		{"kanzlei", ErrTransferSelf},
	} {
		if _, err := e.reg.AddTransfer(ctx, a, tc.to, 1, 1); !errors.Is(err, tc.want) {
			t.Errorf("AddTransfer to %q = %v, want %v", tc.to, err, tc.want)
		}
	}
	if _, err := e.reg.AddTransfer(ctx, &Tenant{}, "notariat", 1, 1); !errors.Is(err, ErrNotOpened) {
		t.Errorf("AddTransfer from a zero Tenant = %v", err)
	}
	rec, err := e.reg.AddTransfer(ctx, a, "notariat", 1234, 3)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != TransferPending || len(rec.ID) != 32 || rec.From != "kanzlei" || rec.To != "notariat" {
		t.Fatalf("AddTransfer = %+v", rec)
	}

	// Visible to both sides, to nobody else; IDs that are not IDs read
	// like unknown ones.
	for _, tn := range []*Tenant{a, b} {
		if list, err := e.reg.Transfers(tn); err != nil || len(list) != 1 || list[0].ID != rec.ID {
			t.Errorf("Transfers(%s) = %v, %v", tn.Slug(), list, err)
		}
	}
	if list, err := e.reg.Transfers(c); err != nil || len(list) != 0 {
		t.Errorf("Transfers(praxis) = %v, %v", list, err)
	}
	for _, id := range []string{rec.ID, strings.ToUpper(rec.ID), "x", strings.Repeat("0", 32)} {
		if _, err := e.reg.Transfer(c, id); !errors.Is(err, ErrTransferNotFound) {
			t.Errorf("Transfer(praxis, %q) = %v", id, err)
		}
		if _, _, err := e.reg.OpenTransferPeer(ctx, c, id); !errors.Is(err, ErrTransferNotFound) {
			t.Errorf("OpenTransferPeer(praxis, %q) = %v", id, err)
		}
		if _, err := e.reg.ClaimTransfer(ctx, c, id, now.Add(time.Minute)); !errors.Is(err, ErrTransferNotFound) {
			t.Errorf("ClaimTransfer(praxis, %q) = %v", id, err)
		}
	}
	if peer, _, err := e.reg.OpenTransferPeer(ctx, b, rec.ID); err != nil || peer.Slug() != "kanzlei" {
		t.Fatalf("OpenTransferPeer(notariat) = %v, %v", peer.Slug(), err)
	}

	// The state machine. claim is the one the last successful claim made.
	var claim string
	claimed := func(r TransferRecord, err error) (TransferRecord, error) {
		if err == nil {
			claim = r.Claim
		}
		return r, err
	}
	steps := []struct {
		name string
		do   func() (TransferRecord, error)
		want error
		st   TransferState
	}{
		{"sender claims", func() (TransferRecord, error) { return e.reg.ClaimTransfer(ctx, a, rec.ID, now.Add(time.Minute)) }, ErrTransferState, ""},
		{"receiver claims", func() (TransferRecord, error) {
			return claimed(e.reg.ClaimTransfer(ctx, b, rec.ID, now.Add(time.Minute)))
		}, nil, TransferAccepting},
		{"second claim", func() (TransferRecord, error) { return e.reg.ClaimTransfer(ctx, b, rec.ID, now.Add(time.Minute)) }, ErrTransferBusy, ""},
		{"reject while accepting", func() (TransferRecord, error) { return e.reg.RejectTransfer(ctx, b, rec.ID) }, ErrTransferBusy, ""},
		{"renew", func() (TransferRecord, error) {
			return e.reg.RenewTransfer(ctx, b, rec.ID, claim, now.Add(2*time.Minute))
		}, nil, TransferAccepting},
		{"lease runs out: taken over", func() (TransferRecord, error) {
			advance(3 * time.Minute)
			return claimed(e.reg.ClaimTransfer(ctx, b, rec.ID, now.Add(time.Minute)))
		}, nil, TransferAccepting},
		{"release", func() (TransferRecord, error) { return e.reg.ReleaseTransfer(ctx, b, rec.ID, claim) }, nil, TransferPending},
		{"complete while pending", func() (TransferRecord, error) { return e.reg.CompleteTransfer(ctx, b, rec.ID, claim) }, ErrTransferState, ""},
		{"sender rejects", func() (TransferRecord, error) { return e.reg.RejectTransfer(ctx, a, rec.ID) }, ErrTransferState, ""},
		{"receiver rejects", func() (TransferRecord, error) { return e.reg.RejectTransfer(ctx, b, rec.ID) }, nil, TransferRejected},
		{"claim after reject", func() (TransferRecord, error) { return e.reg.ClaimTransfer(ctx, b, rec.ID, now.Add(time.Minute)) }, ErrTransferState, ""},
		{"drop after reject", func() (TransferRecord, error) { return TransferRecord{}, e.reg.DropTransfer(ctx, a, rec.ID) }, ErrTransferState, ""},
	}
	for _, s := range steps {
		got, err := s.do()
		if !errors.Is(err, s.want) || err == nil && got.State != s.st {
			t.Fatalf("%s = %+v, %v; want state %q, error %v", s.name, got, err, s.st, s.want)
		}
	}

	// A second transfer completes and survives a restart; a pending one
	// the sender drops is gone.
	r2, err := e.reg.AddTransfer(ctx, b, "kanzlei", 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	c2rec, err := e.reg.ClaimTransfer(ctx, a, r2.ID, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := e.reg.CompleteTransfer(ctx, a, r2.ID, c2rec.Claim); err != nil || got.State != TransferCompleted {
		t.Fatalf("CompleteTransfer = %+v, %v", got, err)
	}
	r3, err := e.reg.AddTransfer(ctx, a, "praxis", 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.reg.DropTransfer(ctx, a, r3.ID); err != nil {
		t.Fatal(err)
	}
	e.reopen()
	a = e.open1("kanzlei")
	list, err := e.reg.Transfers(a)
	if err != nil || len(list) != 2 {
		t.Fatalf("after reopen: %v, %v", list, err)
	}
	states := map[string]TransferState{}
	for _, r := range list {
		states[r.ID] = r.State
	}
	if states[rec.ID] != TransferRejected || states[r2.ID] != TransferCompleted {
		t.Fatalf("after reopen: %v", states)
	}
	// The sender suspended: the receiver's side cannot open it.
	if _, err := e.reg.Suspend(ctx, admin, "notariat"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.reg.OpenTransferPeer(ctx, a, r2.ID); !errors.Is(err, ErrSuspended) {
		t.Fatalf("OpenTransferPeer to a suspended tenant = %v", err)
	}

	// A transfer to a tenant that is deleted does not pass to a new tenant
	// that gets the slug.
	r4, err := e.reg.AddTransfer(ctx, a, "praxis", 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.reg.Delete(ctx, admin, "praxis"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond) // a later creation time
	e.create("praxis")
	c2 := e.open1("praxis")
	if list, err := e.reg.Transfers(c2); err != nil || len(list) != 0 {
		t.Fatalf("the new praxis sees %v, %v", list, err)
	}
	if _, err := e.reg.ClaimTransfer(ctx, c2, r4.ID, time.Now().Add(time.Minute)); !errors.Is(err, ErrTransferNotFound) {
		t.Fatalf("the new praxis claims the old one's transfer: %v", err)
	}
	if _, _, err := e.reg.OpenTransferPeer(ctx, a, r4.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("OpenTransferPeer to a deleted receiver whose slug was reused = %v", err)
	}
}

// TestTransferOfferLimit: a sender cannot flood other tenants with
// offers (each lands in the receiver's list and log, and every tenant's
// transfer listing reads the one bucket): at most MaxPendingTransfers of
// its offers wait for an answer at a time. An answer frees a place;
// another sender is not limited by it.
func TestTransferOfferLimit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, s := range []string{"kanzlei", "notariat", "praxis"} {
		e.create(s)
	}
	a, b, c := e.open1("kanzlei"), e.open1("notariat"), e.open1("praxis")
	var first TransferRecord
	for i := range MaxPendingTransfers {
		rec, err := e.reg.AddTransfer(ctx, a, "notariat", 1, 1)
		if err != nil {
			t.Fatalf("offer %d: %v", i+1, err)
		}
		if i == 0 {
			first = rec
		}
	}
	if _, err := e.reg.AddTransfer(ctx, a, "praxis", 1, 1); !errors.Is(err, ErrTransferLimit) {
		t.Fatalf("offer %d = %v, want ErrTransferLimit", MaxPendingTransfers+1, err)
	}
	if _, err := e.reg.AddTransfer(ctx, c, "notariat", 1, 1); err != nil {
		t.Fatalf("another sender's offer = %v", err)
	}
	if _, err := e.reg.RejectTransfer(ctx, b, first.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.AddTransfer(ctx, a, "praxis", 1, 1); err != nil {
		t.Fatalf("offer after one was answered = %v", err)
	}
}

// TestTransferOfferLimitDeletedReceiver: offers to a tenant that was
// deleted since can never be answered; they do not use up the sender's
// places, also once a new tenant has the deleted one's slug.
func TestTransferOfferLimitDeletedReceiver(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, s := range []string{"kanzlei", "notariat", "praxis"} {
		e.create(s)
	}
	a := e.open1("kanzlei")
	for i := range MaxPendingTransfers {
		if _, err := e.reg.AddTransfer(ctx, a, "notariat", 1, 1); err != nil {
			t.Fatalf("offer %d: %v", i+1, err)
		}
	}
	if err := e.reg.Delete(ctx, admin, "notariat"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.AddTransfer(ctx, a, "praxis", 1, 1); err != nil {
		t.Fatalf("offer after the receiver of the others was deleted = %v", err)
	}
	e.create("notariat")
	if _, err := e.reg.AddTransfer(ctx, a, "notariat", 1, 1); err != nil {
		t.Fatalf("offer to the new tenant of that slug = %v", err)
	}
}

// TestTransferClaimTakenOver: an accept whose lease ran out (its process
// stalled) and was taken over by a second accept can no longer complete,
// renew or release the transfer: only the copy that holds the claim does.
// Before, the stalled accept could mark the transfer completed (and then
// rename its staging node) while the second copy was still being written.
func TestTransferClaimTakenOver(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	e.reg.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e.create("kanzlei")
	e.create("notariat")
	a, b := e.open1("kanzlei"), e.open1("notariat")
	rec, err := e.reg.AddTransfer(ctx, a, "notariat", 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	first, err := e.reg.ClaimTransfer(ctx, b, rec.ID, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	second, err := e.reg.ClaimTransfer(ctx, b, rec.ID, now.Add(time.Minute))
	if err != nil {
		t.Fatalf("taking over an expired claim = %v", err)
	}
	if first.Claim == "" || first.Claim == second.Claim {
		t.Fatalf("claims %q and %q: want two different ones", first.Claim, second.Claim)
	}
	if _, err := e.reg.RenewTransfer(ctx, b, rec.ID, first.Claim, now.Add(time.Minute)); !errors.Is(err, ErrTransferBusy) {
		t.Errorf("the stalled accept renews = %v, want ErrTransferBusy", err)
	}
	if _, err := e.reg.CompleteTransfer(ctx, b, rec.ID, first.Claim); !errors.Is(err, ErrTransferBusy) {
		t.Errorf("the stalled accept completes = %v, want ErrTransferBusy", err)
	}
	if _, err := e.reg.ReleaseTransfer(ctx, b, rec.ID, first.Claim); !errors.Is(err, ErrTransferBusy) {
		t.Errorf("the stalled accept releases = %v, want ErrTransferBusy", err)
	}
	if got, err := e.reg.CompleteTransfer(ctx, b, rec.ID, second.Claim); err != nil || got.State != TransferCompleted {
		t.Fatalf("the accept holding the claim completes = %+v, %v", got, err)
	}
}

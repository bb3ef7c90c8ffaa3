package tenant

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"tresor/storage"
)

// Transfer records (Übermittlung). A transfer of files from one tenant to
// another is the one path by which data crosses tenants; the package
// appliance/transfer runs it. The registry keeps only its appliance-level
// record, in the system database under ("appliance", "transfers"), keyed
// by the transfer ID:
//
//	{"from": "kanzlei", "to": "notariat", "state": "pending", "size": 1234, "files": 3,
//	 "created": "…", "updated": "…", "from_created": "…", "to_created": "…"}
//
// from_created and to_created bind the record to the two tenants as they
// were, not to their slugs alone: a tenant that gets the slug of a
// deleted one sees none of its transfers.
// Metadata only: no file names and no note (those are personal data; the
// transfer package keeps them sealed in the sending tenant's database).
//
// Every method takes the *Tenant of the side that acts and answers only
// about transfers that tenant is a side of: a transfer between two other
// tenants reads exactly like one that does not exist
// ([ErrTransferNotFound]). The other side is never named by the caller
// after creation: [Registry.OpenTransferPeer] opens it from the record.
//
// States: pending (offered) → accepting (the receiver's copy runs, held by
// a claim with a lease so a crashed copy can be taken over; a copy whose
// claim was taken over can no longer change the transfer) → completed; or
// pending → rejected. An accepting transfer whose copy failed goes back to
// pending.

// Errors of transfer records (test with errors.Is).
var (
	// ErrTransferNotFound: no transfer with that ID of which the tenant is
	// a side.
	ErrTransferNotFound = errors.New("no such transfer")
	// ErrTransferState: the transfer's state does not allow the change
	// (accepting a rejected transfer, rejecting a completed one).
	ErrTransferState = errors.New("transfer state does not allow this")
	// ErrTransferBusy: the transfer is being accepted right now.
	ErrTransferBusy = errors.New("transfer is being accepted")
	// ErrTransferSelf: a transfer from a tenant to itself.
	ErrTransferSelf = errors.New("a transfer needs two different tenants")
	// ErrTransferLimit: the sender has MaxPendingTransfers offers that
	// are not answered yet.
	ErrTransferLimit = errors.New("too many transfers offered and not yet answered")
)

// MaxPendingTransfers bounds the offers of one tenant that wait for an
// answer (pending or being accepted). Offers land in the receivers' lists
// and logs, and every tenant's listing reads the one bucket of records:
// without a bound one tenant could flood the others.
const MaxPendingTransfers = 100

// bucketTransfers holds the transfer records in the system database.
var bucketTransfers = []string{"appliance", "transfers"}

// TransferState is where a transfer is in its life.
type TransferState string

// Transfer states.
const (
	TransferPending   TransferState = "pending"
	TransferAccepting TransferState = "accepting"
	TransferCompleted TransferState = "completed"
	TransferRejected  TransferState = "rejected"
)

// TransferRecord is the appliance-level record of a transfer.
type TransferRecord struct {
	ID      string        `json:"-"`
	From    string        `json:"from"`
	To      string        `json:"to"`
	State   TransferState `json:"state"`
	Size    int64         `json:"size"`  // bytes of content
	Files   int           `json:"files"` // files (folders not counted)
	Created time.Time     `json:"created"`
	Updated time.Time     `json:"updated"`
	// Lease is how long the running copy of an accepting transfer holds
	// it; a copy that crashed is taken over after it.
	Lease time.Time `json:"lease,omitzero"`
	// Claim names the accept that holds an accepting transfer (random,
	// made by ClaimTransfer): a copy whose lease ran out and was taken
	// over can no longer renew, release or complete it.
	Claim string `json:"claim,omitempty"`
	// FromCreated and ToCreated are the two tenants' creation times: a
	// slug can be given to a new tenant after the old one was deleted,
	// and the new one must not inherit the old one's transfers.
	FromCreated time.Time `json:"from_created"`
	ToCreated   time.Time `json:"to_created"`
}

// side reports whether t is the sender or the receiver of rec (the same
// slug and the same tenant, not a later one that reused the slug).
func (r TransferRecord) side(t *Tenant) (from, to bool) {
	from = r.From == t.Slug() && r.FromCreated.Equal(t.info.Created)
	to = r.To == t.Slug() && r.ToCreated.Equal(t.info.Created)
	return from, to
}

func parseTransfer(id string, b []byte) (TransferRecord, error) {
	var r TransferRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return TransferRecord{}, fmt.Errorf("transfer %s: record: %w", id, err)
	}
	switch r.State {
	case TransferPending, TransferAccepting, TransferCompleted, TransferRejected:
	default:
		return TransferRecord{}, fmt.Errorf("transfer %s: record: unknown state %q", id, r.State)
	}
	r.ID = id
	return r, nil
}

func (r TransferRecord) marshal() []byte {
	b, _ := json.Marshal(r) // fixed-type fields only: cannot fail
	return b
}

// checkTransferID accepts the IDs AddTransfer makes: 32 lowercase hex
// digits.
func checkTransferID(id string) error {
	if len(id) != 32 {
		return fmt.Errorf("transfer %q: %w", clip(id), ErrTransferNotFound)
	}
	for _, c := range id {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("transfer %q: %w", clip(id), ErrTransferNotFound)
		}
	}
	return nil
}

// AddTransfer records a new pending transfer from the tenant from to the
// tenant named to (the one time a slug from the sender's request names the
// receiver). The receiver must exist and be active: ErrNotFound, the same
// answer, for a tenant that does not exist and for one that is suspended
// or being created or deleted.
func (r *Registry) AddTransfer(ctx context.Context, from *Tenant, to string, size int64, files int) (TransferRecord, error) {
	if !from.ok() {
		return TransferRecord{}, ErrNotOpened
	}
	if CheckSlug(to) != nil {
		return TransferRecord{}, fmt.Errorf("receiving tenant %q: %w", clip(to), ErrNotFound)
	}
	if to == from.Slug() {
		return TransferRecord{}, fmt.Errorf("transfer to %s: %w", to, ErrTransferSelf)
	}
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	now := r.now().UTC()
	rec := TransferRecord{ID: hex.EncodeToString(raw[:]), From: from.Slug(), To: to, State: TransferPending,
		Size: size, Files: files, Created: now, Updated: now, FromCreated: from.info.Created}
	r.mu.RLock()
	defer r.mu.RUnlock()
	err := r.cfg.Pool.Update(ctx, func(tx *storage.Tx) error {
		tb := tx.Bucket(bucketTenants...)
		var v []byte
		if tb != nil {
			v = tb.Get([]byte(to))
		}
		// A tenant that is not active (suspended, being created or
		// deleted) is answered like one that does not exist, word for
		// word, as the gate answers for it: its state is its own business,
		// not the sender's.
		unknown := fmt.Errorf("receiving tenant %s: %w", to, ErrNotFound)
		if v == nil {
			return unknown
		}
		trec, err := parseRecord(to, v)
		if err != nil {
			return err
		}
		if trec.State != StateActive {
			return unknown
		}
		rec.ToCreated = trec.Created
		b, err := tx.CreateBucketIfNotExists(bucketTransfers...)
		if err != nil {
			return err
		}
		open := 0
		err = b.ForEach(func(k, v []byte) error {
			o, err := parseTransfer(string(k), v)
			if err != nil {
				return err
			}
			if f, _ := o.side(from); !f || o.State != TransferPending && o.State != TransferAccepting {
				return nil
			}
			// An offer to a tenant deleted since can never be answered:
			// it holds no place.
			if rv := tb.Get([]byte(o.To)); rv != nil {
				if rr, err := parseRecord(o.To, rv); err == nil && rr.Created.Equal(o.ToCreated) {
					open++
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if open >= MaxPendingTransfers {
			return fmt.Errorf("%w: %d offers wait for an answer; wait for the receivers to accept or reject them", ErrTransferLimit, open)
		}
		return b.Put([]byte(rec.ID), rec.marshal())
	})
	if err != nil {
		return TransferRecord{}, fmt.Errorf("add transfer: %w", err)
	}
	return rec, nil
}

// DropTransfer removes a pending transfer t sent whose creation could not
// be finished (its sealed description was not stored).
func (r *Registry) DropTransfer(ctx context.Context, t *Tenant, id string) error {
	return r.transition(ctx, t, id, func(rec *TransferRecord) (bool, error) {
		if from, _ := rec.side(t); !from || rec.State != TransferPending {
			return false, fmt.Errorf("transfer %s is %s: %w", id, rec.State, ErrTransferState)
		}
		return true, nil
	}, nil)
}

// Transfers returns the transfers t sends or receives, newest first.
func (r *Registry) Transfers(t *Tenant) ([]TransferRecord, error) {
	if !t.ok() {
		return nil, ErrNotOpened
	}
	var list []TransferRecord
	err := r.cfg.Pool.View(func(tx *storage.Tx) error {
		b := tx.Bucket(bucketTransfers...)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			rec, err := parseTransfer(string(k), v)
			if err != nil {
				return err
			}
			if from, to := rec.side(t); from || to {
				list = append(list, rec)
			}
			return nil
		})
	})
	sort.Slice(list, func(i, j int) bool {
		if !list[i].Created.Equal(list[j].Created) {
			return list[i].Created.After(list[j].Created)
		}
		return list[i].ID < list[j].ID
	})
	return list, err
}

// Transfer returns one transfer t sends or receives.
func (r *Registry) Transfer(t *Tenant, id string) (TransferRecord, error) {
	if !t.ok() {
		return TransferRecord{}, ErrNotOpened
	}
	if err := checkTransferID(id); err != nil {
		return TransferRecord{}, err
	}
	var rec TransferRecord
	err := r.cfg.Pool.View(func(tx *storage.Tx) error {
		var err error
		rec, err = getTransfer(tx, t, id)
		return err
	})
	return rec, err
}

// getTransfer reads a record and hides it from a tenant that is not one of
// its sides.
func getTransfer(tx *storage.Tx, t *Tenant, id string) (TransferRecord, error) {
	b := tx.Bucket(bucketTransfers...)
	var v []byte
	if b != nil {
		v = b.Get([]byte(id))
	}
	if v == nil {
		return TransferRecord{}, fmt.Errorf("transfer %s: %w", id, ErrTransferNotFound)
	}
	rec, err := parseTransfer(id, v)
	if err != nil {
		return TransferRecord{}, err
	}
	if from, to := rec.side(t); !from && !to {
		return TransferRecord{}, fmt.Errorf("transfer %s: %w", id, ErrTransferNotFound)
	}
	return rec, nil
}

// OpenTransferPeer opens the other side of a transfer t is a side of (the
// sender for the receiver, the receiver for the sender), named by the
// record and nothing else, with Open's checks: ErrNotFound for a tenant
// that is gone, ErrSuspended for a suspended one. Only the transfer
// package calls it: it is the one place that holds two tenants at once.
func (r *Registry) OpenTransferPeer(ctx context.Context, t *Tenant, id string) (*Tenant, TransferRecord, error) {
	rec, err := r.Transfer(t, id)
	if err != nil {
		return nil, TransferRecord{}, err
	}
	peer, created := rec.From, rec.FromCreated
	if from, _ := rec.side(t); from {
		peer, created = rec.To, rec.ToCreated
	}
	pt, err := r.Open(ctx, peer)
	if err != nil {
		return nil, rec, fmt.Errorf("transfer %s: the other tenant: %w", id, err)
	}
	if !pt.info.Created.Equal(created) {
		// The tenant of the record was deleted; its slug belongs to
		// another tenant now, which has nothing to do with the transfer.
		return nil, rec, fmt.Errorf("transfer %s: the other tenant %s was deleted: %w", id, peer, ErrNotFound)
	}
	return pt, rec, nil
}

// ClaimTransfer starts the acceptance of a transfer t receives: pending
// (or accepting with an expired lease: a copy that crashed or stalled)
// becomes accepting, held until until by a new claim, which the returned
// record's Claim names and RenewTransfer, ReleaseTransfer and
// CompleteTransfer take. ErrTransferBusy while another copy holds it;
// ErrTransferState once it is completed or rejected.
func (r *Registry) ClaimTransfer(ctx context.Context, t *Tenant, id string, until time.Time) (TransferRecord, error) {
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	claim := hex.EncodeToString(raw[:])
	return r.receive(ctx, t, id, func(rec *TransferRecord) error {
		switch {
		case rec.State == TransferPending:
		case rec.State == TransferAccepting && r.now().After(rec.Lease):
		case rec.State == TransferAccepting:
			return fmt.Errorf("transfer %s: %w", id, ErrTransferBusy)
		default:
			return fmt.Errorf("transfer %s is %s: %w", id, rec.State, ErrTransferState)
		}
		rec.State, rec.Lease, rec.Claim = TransferAccepting, until.UTC(), claim
		return nil
	})
}

// holding checks that rec is accepting under claim: ErrTransferBusy when
// another accept took it over, ErrTransferState when it is not accepting.
func holding(rec *TransferRecord, id, claim string) error {
	if rec.State != TransferAccepting {
		return fmt.Errorf("transfer %s is %s: %w", id, rec.State, ErrTransferState)
	}
	if rec.Claim != claim {
		return fmt.Errorf("transfer %s: another accept has taken it over: %w", id, ErrTransferBusy)
	}
	return nil
}

// RenewTransfer extends the lease of an accepting transfer t receives
// and holds under claim.
func (r *Registry) RenewTransfer(ctx context.Context, t *Tenant, id, claim string, until time.Time) (TransferRecord, error) {
	return r.receive(ctx, t, id, func(rec *TransferRecord) error {
		if err := holding(rec, id, claim); err != nil {
			return err
		}
		rec.Lease = until.UTC()
		return nil
	})
}

// ReleaseTransfer returns an accepting transfer t receives and holds under
// claim to pending, after its copy failed.
func (r *Registry) ReleaseTransfer(ctx context.Context, t *Tenant, id, claim string) (TransferRecord, error) {
	return r.receive(ctx, t, id, func(rec *TransferRecord) error {
		if err := holding(rec, id, claim); err != nil {
			return err
		}
		rec.State, rec.Lease, rec.Claim = TransferPending, time.Time{}, ""
		return nil
	})
}

// CompleteTransfer marks an accepting transfer t receives and holds under
// claim completed.
func (r *Registry) CompleteTransfer(ctx context.Context, t *Tenant, id, claim string) (TransferRecord, error) {
	return r.receive(ctx, t, id, func(rec *TransferRecord) error {
		if err := holding(rec, id, claim); err != nil {
			return err
		}
		rec.State, rec.Lease, rec.Claim = TransferCompleted, time.Time{}, ""
		return nil
	})
}

// RejectTransfer marks a pending transfer t receives rejected.
func (r *Registry) RejectTransfer(ctx context.Context, t *Tenant, id string) (TransferRecord, error) {
	return r.receive(ctx, t, id, func(rec *TransferRecord) error {
		switch rec.State {
		case TransferPending:
		case TransferAccepting:
			return fmt.Errorf("transfer %s: %w", id, ErrTransferBusy)
		default:
			return fmt.Errorf("transfer %s is %s: %w", id, rec.State, ErrTransferState)
		}
		rec.State = TransferRejected
		return nil
	})
}

// receive applies a change that only the receiving side may make. The
// sender asking reads as ErrTransferState, not as not-found: it knows the
// transfer.
func (r *Registry) receive(ctx context.Context, t *Tenant, id string, mutate func(*TransferRecord) error) (TransferRecord, error) {
	var out TransferRecord
	err := r.transition(ctx, t, id, nil, func(rec *TransferRecord) error {
		if _, to := rec.side(t); !to {
			return fmt.Errorf("transfer %s: only the receiving tenant may do this: %w", id, ErrTransferState)
		}
		if err := mutate(rec); err != nil {
			return err
		}
		out = *rec
		return nil
	})
	return out, err
}

// transition changes or (drop) deletes a record in one transaction.
func (r *Registry) transition(ctx context.Context, t *Tenant, id string, drop func(*TransferRecord) (bool, error), mutate func(*TransferRecord) error) error {
	if !t.ok() {
		return ErrNotOpened
	}
	if err := checkTransferID(id); err != nil {
		return err
	}
	return r.cfg.Pool.Update(ctx, func(tx *storage.Tx) error {
		rec, err := getTransfer(tx, t, id)
		if err != nil {
			return err
		}
		b := tx.Bucket(bucketTransfers...)
		if drop != nil {
			ok, err := drop(&rec)
			if err != nil || !ok {
				return err
			}
			return b.Delete([]byte(id))
		}
		rec.Updated = r.now().UTC()
		if err := mutate(&rec); err != nil {
			return err
		}
		return b.Put([]byte(id), rec.marshal())
	})
}

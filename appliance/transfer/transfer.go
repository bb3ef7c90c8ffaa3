package transfer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"tresor/appliance/audit"
	"tresor/appliance/files"
	"tresor/appliance/identity"
	"tresor/appliance/tenant"
	"tresor/storage"
)

// Errors of the transfer service (test with errors.Is). The registry's
// tenant.ErrTransferNotFound, ErrTransferState, ErrTransferBusy,
// ErrTransferSelf, ErrNotFound and ErrSuspended and the files package's
// errors (ErrNotFound, ErrQuota, ErrExists, …) come through wrapped.
var (
	// ErrForbidden: the account may not do this (only admins, signed in
	// with their password, offer, accept and reject; auditors may list).
	ErrForbidden = errors.New("forbidden")
	// ErrBadRequest: a legal basis, note or target the service refuses.
	ErrBadRequest = errors.New("bad transfer request")
	// ErrContentGone: a version the transfer recorded is no longer held
	// by the sender (purged by its retention): offer the file again.
	ErrContentGone = errors.New("transferred content is no longer held by the sender")
	// ErrChanged: the content read back does not match what was recorded.
	ErrChanged = errors.New("transferred content does not match its record")
	// ErrTooMany: the offered folder holds more than MaxFiles entries.
	ErrTooMany = errors.New("too many files in one transfer")
)

// Bases are the categories of legal basis a transfer states (GDPR Art. 6
// (1) a to f, Art. 9 (2) for special categories, and other).
var Bases = []string{"consent", "contract", "legal-obligation", "vital-interests", "public-task", "legitimate-interests", "special-category", "other"}

// Limits.
const (
	MaxNote  = 2000   // bytes of the free-text note
	MaxFiles = 100000 // files and folders in one transfer
)

// Lease is how long an accept holds a transfer between renewals; an
// accept that crashed is taken over after it.
const Lease = time.Minute

// Service runs transfers between the tenants of one registry.
type Service struct {
	reg *tenant.Registry
	now func() time.Time
}

// New returns the transfer service of reg.
func New(reg *tenant.Registry) *Service {
	return &Service{reg: reg, now: time.Now}
}

// Offer is what the sender states about a transfer.
type Offer struct {
	Path  string // the file or folder offered, in the sender's tree
	To    string // the receiving tenant's slug
	Basis string // one of Bases (required)
	Note  string // free text: purpose, legal basis in words
}

// Transfer is a transfer as one of its sides sees it.
type Transfer struct {
	ID        string               `json:"id"`
	Direction string               `json:"direction"` // "outgoing" or "incoming"
	From      string               `json:"from"`
	To        string               `json:"to"`
	State     tenant.TransferState `json:"state"`
	Size      int64                `json:"size"`
	Files     int                  `json:"files"`
	// Name, Kind, Basis, Note and By come from the sender's sealed
	// description; empty when it cannot be read (the sender suspended or
	// deleted).
	Name  string     `json:"name,omitempty"`
	Kind  files.Kind `json:"kind,omitempty"`
	Basis string     `json:"basis,omitempty"`
	Note  string     `json:"note,omitempty"`
	By    string     `json:"by,omitempty"` // the sending account's name
	// Path is where the offered node was in the sender's tree; outgoing
	// only.
	Path    string    `json:"path,omitempty"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// item is one file or folder of a transfer, relative to the offered node
// ("" is the node itself).
type item struct {
	Rel     string           `json:"rel"`
	Kind    files.Kind       `json:"kind"`
	Object  storage.ObjectID `json:"object,omitzero"`
	Size    int64            `json:"size,omitempty"`
	Hash    []byte           `json:"hash,omitempty"`
	ModTime time.Time        `json:"mtime,omitzero"`
}

// description is what the sender's database holds of a transfer, sealed.
type description struct {
	Path  string `json:"path"`
	Basis string `json:"basis"`
	Note  string `json:"note"`
	By    string `json:"by"`
	ByID  string `json:"by_id"`
	Items []item `json:"items"`
}

var bucketOutgoing = []string{"transfer", "outgoing"}

func sealContext(id string) []byte { return []byte("transfer/outgoing/" + id) }

func (d *description) name() string {
	p, err := files.ParsePath(d.Path)
	if err != nil {
		return ""
	}
	return p.Name()
}

// errNoAccount marks a refusal of a principal that is no live account of
// the tenant (one of another tenant, or disabled since it signed in):
// refuse leaves no trace of it in the tenant's log, which must not name
// another tenant's accounts.
var errNoAccount = errors.New("not an active account of this tenant")

// mayAct lets admins of t signed in with their password act on
// transfers; auditors may list (read) them too. The account is asked of
// identity as it is now, which also refuses a principal of another tenant:
// the role it had at sign-in is not enough.
func mayAct(t *tenant.Tenant, p *identity.Principal, read bool) error {
	if p == nil {
		return fmt.Errorf("%w: no account", ErrForbidden)
	}
	if p.AppPassword() != "" {
		return fmt.Errorf("%w: transfers are not for app passwords", ErrForbidden)
	}
	s, err := identity.Subject(t, p)
	if err != nil {
		return fmt.Errorf("%w: %w: %w", ErrForbidden, errNoAccount, err)
	}
	switch role := identity.Role(s.Role); {
	case role == identity.RoleAdmin:
		return nil
	case read && role == identity.RoleAuditor:
		return nil
	default:
		return fmt.Errorf("%w: a %s may not do this (tenant admins only)", ErrForbidden, role)
	}
}

func checkOffer(o Offer) error {
	if o.Basis == "" {
		// Prüfschritt 2: a transfer between tenants is a disclosure; the
		// sender states on what ground (the note says it in words).
		return fmt.Errorf("%w: state the legal basis of the transfer (one of %s; the note can say it in words)", ErrBadRequest, strings.Join(Bases, ", "))
	}
	if !slices.Contains(Bases, o.Basis) {
		return fmt.Errorf("%w: legal basis %q: want one of %s", ErrBadRequest, clip(o.Basis), strings.Join(Bases, ", "))
	}
	if len(o.Note) > MaxNote || !utf8.ValidString(o.Note) {
		return fmt.Errorf("%w: note: want up to %d bytes of text", ErrBadRequest, MaxNote)
	}
	for _, c := range o.Note {
		if unicode.IsControl(c) && c != '\n' && c != '\t' {
			return fmt.Errorf("%w: note: control characters are not allowed", ErrBadRequest)
		}
	}
	return nil
}

// stagingPrefix begins the name of the receiver's copy while it is made
// (see the package doc).
const stagingPrefix = ".tresor-transfer-"

// checkName refuses to offer a node whose name is a staging name: the
// receiver's accept of another transfer would take it, once accepted, for
// a copy an interrupted accept left behind and move it to the trash.
func checkName(name string) error {
	if strings.HasPrefix(name, stagingPrefix) {
		return fmt.Errorf("%w: %q: names beginning with %s are the receiver's copies in progress; rename it first", ErrBadRequest, clip(name), stagingPrefix)
	}
	return nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// refuse logs a denied attempt in t's log (best effort: the refusal stands
// either way) and returns err.
func refuse(ctx context.Context, t *tenant.Tenant, p *identity.Principal, action, id string, err error) error {
	if p != nil && !errors.Is(err, errNoAccount) {
		_ = t.Log(ctx, audit.Entry{Actor: p.Actor(), Action: action, Object: audit.Object{ID: id}, Outcome: audit.OutcomeDenied,
			Details: map[string]string{"reason": err.Error()}})
	}
	return err
}

// Create offers the file or folder at o.Path of t's tree to the tenant
// o.To, as p (an admin of t). It records the current version of every
// file below (the snapshot), stores the sealed description in t's
// database with a transfer.create entry in t's log, then the pending
// record in the registry, and logs transfer.create in the receiver's log
// too (without names).
func (s *Service) Create(ctx context.Context, t *tenant.Tenant, p *identity.Principal, o Offer) (Transfer, error) {
	if err := mayAct(t, p, false); err != nil {
		return Transfer{}, refuse(ctx, t, p, audit.ActionTransferCreate, "", err)
	}
	if err := checkOffer(o); err != nil {
		return Transfer{}, err
	}
	path, err := files.ParsePath(o.Path)
	if err != nil {
		return Transfer{}, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if path.IsRoot() {
		return Transfer{}, fmt.Errorf("%w: offer a file or folder, not the whole tree", ErrBadRequest)
	}
	if err := checkName(path.Name()); err != nil {
		return Transfer{}, err
	}
	tr := files.New(t, p)
	items, size, nfiles, err := snapshot(ctx, tr, path)
	if err != nil {
		return Transfer{}, fmt.Errorf("transfer %s: %w", path, err)
	}
	rec, err := s.reg.AddTransfer(ctx, t, o.To, size, nfiles)
	if err != nil {
		_ = t.Log(ctx, audit.Entry{Actor: p.Actor(), Action: audit.ActionTransferCreate, Object: audit.Object{Path: path.String()},
			Outcome: audit.OutcomeFailure, Details: map[string]string{"to": o.To, "error": err.Error()}})
		return Transfer{}, err
	}
	d := description{Path: path.String(), Basis: o.Basis, Note: o.Note, By: p.Account().Name, ByID: p.Account().ID, Items: items}
	plain, err := json.Marshal(d)
	if err == nil {
		err = t.Update(ctx, func(tx *storage.Tx) error {
			sealed, err := t.SealValue(sealContext(rec.ID), plain)
			if err != nil {
				return err
			}
			b, err := tx.CreateBucketIfNotExists(bucketOutgoing...)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(rec.ID), sealed); err != nil {
				return err
			}
			return t.LogTx(tx, audit.Entry{Actor: p.Actor(), Action: audit.ActionTransferCreate,
				Object: audit.Object{Path: path.String(), ID: rec.ID}, Outcome: audit.OutcomeSuccess,
				Details: map[string]string{"to": rec.To, "files": fmt.Sprint(nfiles), "bytes": fmt.Sprint(size),
					"basis": o.Basis, "note": o.Note}})
		})
	}
	if err != nil {
		if derr := s.reg.DropTransfer(context.WithoutCancel(ctx), t, rec.ID); derr != nil {
			err = errors.Join(err, fmt.Errorf("undo: %w", derr))
		}
		return Transfer{}, fmt.Errorf("transfer %s: %w", path, err)
	}
	view := s.view(t, rec, &d)
	// The receiver learns of the offer in its own log: who offers how
	// much, no names (they become the receiver's only on acceptance).
	peer, _, err := s.reg.OpenTransferPeer(ctx, t, rec.ID)
	if err == nil {
		err = peer.Log(ctx, audit.Entry{Actor: foreign(p, t), Action: audit.ActionTransferCreate,
			Object: audit.Object{ID: rec.ID}, Outcome: audit.OutcomeSuccess,
			Details: map[string]string{"from": rec.From, "files": fmt.Sprint(nfiles), "bytes": fmt.Sprint(size), "basis": o.Basis}})
	}
	if err != nil {
		return view, fmt.Errorf("transfer %s offered, but not recorded in the receiver's log: %w", rec.ID, err)
	}
	return view, nil
}

// foreign is an account of one tenant as it appears in the other tenant's
// log: its name qualified by its tenant, and nothing more. The address it
// worked from is personal data of its tenant's staff, and its account ID
// an internal of its tenant; the other side needs neither (its own log
// holds both).
func foreign(p *identity.Principal, t *tenant.Tenant) audit.Actor {
	a := p.Actor()
	return audit.Actor{Kind: a.Kind, Name: a.Name + "@" + t.Slug()}
}

// snapshot records the node at path and everything below it, folders
// before their contents.
func snapshot(ctx context.Context, tr *files.Tree, path files.Path) ([]item, int64, int, error) {
	root, err := tr.Stat(ctx, path.String())
	if err != nil {
		return nil, 0, 0, err
	}
	var items []item
	var size int64
	nfiles := 0
	add := func(rel string, i files.Info) error {
		if len(items) >= MaxFiles {
			return fmt.Errorf("%w: more than %d", ErrTooMany, MaxFiles)
		}
		it := item{Rel: rel, Kind: i.Kind, ModTime: i.ModTime}
		if i.Kind == files.KindFile {
			it.Object, it.Size, it.Hash = i.Version, i.Size, i.Hash[:]
			size += i.Size
			nfiles++
		}
		items = append(items, it)
		return nil
	}
	if err := add("", root); err != nil {
		return nil, 0, 0, err
	}
	if !root.IsDir() {
		return items, size, nfiles, nil
	}
	var walk func(dir files.Path, rel string) error
	walk = func(dir files.Path, rel string) error {
		list, err := tr.List(ctx, dir.String())
		if err != nil {
			return err
		}
		for _, i := range list {
			r := i.Name
			if rel != "" {
				r = rel + "/" + i.Name
			}
			if err := add(r, i); err != nil {
				return err
			}
			if i.IsDir() {
				if err := walk(dir.Child(i.Name), r); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return items, size, nfiles, walk(path, "")
}

// describe reads the sealed description of a transfer t sent.
func describe(t *tenant.Tenant, id string) (*description, error) {
	var sealed []byte
	err := t.View(func(tx *storage.Tx) error {
		if b := tx.Bucket(bucketOutgoing...); b != nil {
			sealed = slices.Clone(b.Get([]byte(id)))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if sealed == nil {
		return nil, fmt.Errorf("transfer %s: description: %w", id, tenant.ErrTransferNotFound)
	}
	plain, err := t.OpenValue(sealContext(id), sealed)
	if err != nil {
		return nil, fmt.Errorf("transfer %s: description: %w", id, err)
	}
	var d description
	if err := json.Unmarshal(plain, &d); err != nil {
		return nil, fmt.Errorf("transfer %s: description: %w", id, err)
	}
	return &d, nil
}

// view makes what side t sees of rec, with d (may be nil).
func (s *Service) view(t *tenant.Tenant, rec tenant.TransferRecord, d *description) Transfer {
	v := Transfer{ID: rec.ID, Direction: "incoming", From: rec.From, To: rec.To, State: rec.State,
		Size: rec.Size, Files: rec.Files, Created: rec.Created, Updated: rec.Updated}
	if rec.From == t.Slug() {
		v.Direction = "outgoing"
	}
	if d != nil {
		v.Name, v.Basis, v.Note, v.By = d.name(), d.Basis, d.Note, d.By
		if len(d.Items) > 0 {
			v.Kind = d.Items[0].Kind
		}
		if v.Direction == "outgoing" {
			v.Path = d.Path
		}
	}
	return v
}

// List returns the transfers t sends and receives, newest first, as p
// (an admin or auditor of t) sees them. Incoming transfers are described
// from the sender's sealed description; a sender that cannot be opened
// (suspended, deleted) leaves the names empty.
func (s *Service) List(ctx context.Context, t *tenant.Tenant, p *identity.Principal) ([]Transfer, error) {
	if err := mayAct(t, p, true); err != nil {
		return nil, err
	}
	recs, err := s.reg.Transfers(t)
	if err != nil {
		return nil, fmt.Errorf("list transfers: %w", err)
	}
	out := make([]Transfer, 0, len(recs))
	for _, rec := range recs {
		var d *description
		if rec.From == t.Slug() {
			d, _ = describe(t, rec.ID)
		} else if peer, _, err := s.reg.OpenTransferPeer(ctx, t, rec.ID); err == nil {
			d, _ = describe(peer, rec.ID)
		}
		out = append(out, s.view(t, rec, d))
	}
	return out, nil
}

// Get returns one transfer t sends or receives.
func (s *Service) Get(ctx context.Context, t *tenant.Tenant, p *identity.Principal, id string) (Transfer, error) {
	if err := mayAct(t, p, true); err != nil {
		return Transfer{}, err
	}
	rec, err := s.reg.Transfer(t, id)
	if err != nil {
		return Transfer{}, err
	}
	var d *description
	if rec.From == t.Slug() {
		d, _ = describe(t, rec.ID)
	} else if peer, _, err := s.reg.OpenTransferPeer(ctx, t, rec.ID); err == nil {
		d, _ = describe(peer, rec.ID)
	}
	return s.view(t, rec, d), nil
}

// Reject refuses a transfer t receives, as p (an admin of t). Nothing is
// copied; transfer.reject is logged in both logs.
func (s *Service) Reject(ctx context.Context, t *tenant.Tenant, p *identity.Principal, id, reason string) (Transfer, error) {
	if err := mayAct(t, p, false); err != nil {
		return Transfer{}, refuse(ctx, t, p, audit.ActionTransferReject, id, err)
	}
	if len(reason) > MaxNote || !utf8.ValidString(reason) {
		return Transfer{}, fmt.Errorf("%w: reason: want up to %d bytes of text", ErrBadRequest, MaxNote)
	}
	rec, err := s.reg.RejectTransfer(ctx, t, id)
	if err != nil {
		return Transfer{}, err
	}
	details := map[string]string{"from": rec.From, "files": fmt.Sprint(rec.Files), "bytes": fmt.Sprint(rec.Size), "reason": reason}
	err = t.Log(ctx, audit.Entry{Actor: p.Actor(), Action: audit.ActionTransferReject, Object: audit.Object{ID: id},
		Outcome: audit.OutcomeSuccess, Details: details})
	var d *description
	peer, _, perr := s.reg.OpenTransferPeer(ctx, t, id)
	if perr == nil {
		d, _ = describe(peer, id)
		ep := audit.Entry{Actor: foreign(p, t), Action: audit.ActionTransferReject, Object: audit.Object{ID: id},
			Outcome: audit.OutcomeSuccess, Details: map[string]string{"to": rec.To, "reason": reason}}
		if d != nil {
			ep.Object.Path = d.Path
		}
		perr = peer.Log(ctx, ep)
	}
	if err = errors.Join(err, perr); err != nil {
		return s.view(t, rec, d), fmt.Errorf("transfer %s rejected, but not recorded in both logs: %w", id, err)
	}
	return s.view(t, rec, d), nil
}

// Accept takes a transfer t receives into t's tree below the folder into
// ("" or "/": the root), as p (an admin of t): it copies every recorded
// file from the sender's namespace into t's tree under a staging name,
// logs transfer.accept in t's log, marks the transfer completed, logs it
// in the sender's log and then gives the copy its real name. See the
// package documentation for why in this order.
func (s *Service) Accept(ctx context.Context, t *tenant.Tenant, p *identity.Principal, id, into string) (Transfer, error) {
	if err := mayAct(t, p, false); err != nil {
		return Transfer{}, refuse(ctx, t, p, audit.ActionTransferAccept, id, err)
	}
	if into == "" {
		into = "/"
	}
	dir, err := files.ParsePath(into)
	if err != nil {
		return Transfer{}, fmt.Errorf("%w: --into: %w", ErrBadRequest, err)
	}
	rec, err := s.reg.Transfer(t, id)
	if err != nil {
		return Transfer{}, err
	}
	if rec.To != t.Slug() {
		return Transfer{}, fmt.Errorf("transfer %s: only the receiving tenant may accept it: %w", id, tenant.ErrTransferState)
	}
	sender, _, err := s.reg.OpenTransferPeer(ctx, t, id)
	if err != nil {
		return Transfer{}, err
	}
	d, err := describe(sender, id)
	if err != nil {
		return Transfer{}, err
	}
	// Offers made before Create refused such names are refused here.
	if err := checkName(d.name()); err != nil {
		return Transfer{}, err
	}
	tr := files.New(t, p)
	final := dir.Child(d.name())
	// Checks before the claim: a refusal here changes nothing.
	if info, err := tr.Stat(ctx, dir.String()); err != nil {
		return Transfer{}, fmt.Errorf("--into %s: %w", dir, err)
	} else if !info.IsDir() {
		return Transfer{}, fmt.Errorf("--into %s: %w", dir, files.ErrNotDir)
	}
	if _, err := tr.Stat(ctx, final.String()); err == nil {
		return Transfer{}, fmt.Errorf("%s: %w: choose another folder with --into", final, files.ErrExists)
	} else if !errors.Is(err, files.ErrNotFound) {
		return Transfer{}, err
	}
	if used, quota, err := tr.Usage(ctx); err != nil {
		return Transfer{}, err
	} else if quota > 0 && used+rec.Size > quota {
		return Transfer{}, fmt.Errorf("transfer %s: %w: %d bytes, %d left", id, files.ErrQuota, rec.Size, max(0, quota-used))
	}

	if rec, err = s.reg.ClaimTransfer(ctx, t, id, s.now().Add(Lease)); err != nil {
		return Transfer{}, err
	}
	claim := rec.Claim
	stop := s.renew(ctx, t, id, claim)
	staging := dir.Child(stagingPrefix + id)
	err = s.copy(ctx, tr, sender, d, staging)
	stop()
	if err == nil {
		// Still ours? A copy that stalled past its lease was taken over:
		// it must not log or complete what the other copy is doing.
		_, err = s.reg.RenewTransfer(ctx, t, id, claim, s.now().Add(Lease))
	}
	if err != nil {
		uctx := context.WithoutCancel(ctx)
		// Only the accept that still holds the claim cleans up: the
		// staging node of one that took over is that one's.
		if _, rerr := s.reg.RenewTransfer(uctx, t, id, claim, s.now().Add(Lease)); rerr != nil {
			err = errors.Join(err, rerr)
		} else {
			if _, serr := tr.Stat(uctx, staging.String()); serr == nil {
				if _, derr := tr.Delete(uctx, staging.String()); derr != nil {
					err = errors.Join(err, fmt.Errorf("remove the partial copy: %w", derr))
				}
			}
			if _, rerr := s.reg.ReleaseTransfer(uctx, t, id, claim); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
		_ = t.Log(uctx, audit.Entry{Actor: p.Actor(), Action: audit.ActionTransferAccept, Object: audit.Object{ID: id},
			Outcome: audit.OutcomeFailure, Details: map[string]string{"from": rec.From, "error": err.Error()}})
		return Transfer{}, fmt.Errorf("accept transfer %s: %w", id, err)
	}
	details := map[string]string{"from": rec.From, "files": fmt.Sprint(rec.Files), "bytes": fmt.Sprint(rec.Size),
		"basis": d.Basis, "staging": staging.String()}
	// The receiver's log first: from here the copy is the receiver's.
	if err := t.Log(ctx, audit.Entry{Actor: p.Actor(), Action: audit.ActionTransferAccept,
		Object: audit.Object{Path: final.String(), ID: id}, Outcome: audit.OutcomeSuccess, Details: details}); err != nil {
		return Transfer{}, fmt.Errorf("accept transfer %s: %w", id, err)
	}
	if rec, err = s.reg.CompleteTransfer(ctx, t, id, claim); err != nil {
		return Transfer{}, fmt.Errorf("accept transfer %s: %w", id, err)
	}
	var errs []error
	if err := sender.Log(ctx, audit.Entry{Actor: foreign(p, t), Action: audit.ActionTransferAccept,
		Object: audit.Object{Path: d.Path, ID: id}, Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"to": rec.To, "files": fmt.Sprint(rec.Files), "bytes": fmt.Sprint(rec.Size)}}); err != nil {
		errs = append(errs, fmt.Errorf("not recorded in the sender's log: %w", err))
	}
	if _, err := tr.Move(ctx, staging.String(), final.String(), false); err != nil {
		errs = append(errs, fmt.Errorf("the copy is complete under %s but could not be renamed to %s: %w", staging, final, err))
	}
	v := s.view(t, rec, d)
	if len(errs) > 0 {
		return v, fmt.Errorf("transfer %s accepted: %w", id, errors.Join(errs...))
	}
	return v, nil
}

// renew keeps the lease of an accepting transfer held under claim until
// the returned stop is called.
func (s *Service) renew(ctx context.Context, t *tenant.Tenant, id, claim string) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(Lease / 3)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				// A failed renewal only risks a second accept taking
				// over after the lease; the copy goes on.
				_, _ = s.reg.RenewTransfer(ctx, t, id, claim, s.now().Add(Lease))
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// copy writes every item of d into tr at staging (the offered node under
// its staging name). A staging node an earlier, interrupted accept left
// goes to the trash first.
func (s *Service) copy(ctx context.Context, tr *files.Tree, sender *tenant.Tenant, d *description, staging files.Path) error {
	if _, err := tr.Stat(ctx, staging.String()); err == nil {
		if _, err := tr.Delete(ctx, staging.String()); err != nil {
			return fmt.Errorf("remove an interrupted copy: %w", err)
		}
	}
	for _, it := range d.Items {
		if err := ctx.Err(); err != nil {
			return err
		}
		dst := staging.String()
		if it.Rel != "" {
			dst += "/" + it.Rel
		}
		if it.Kind == files.KindFolder {
			if _, err := tr.Mkdir(ctx, dst); err != nil {
				return err
			}
			continue
		}
		if err := copyFile(ctx, tr, sender, it, dst); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(ctx context.Context, tr *files.Tree, sender *tenant.Tenant, it item, dst string) error {
	rc, err := files.OpenVersion(ctx, sender, it.Object)
	if errors.Is(err, files.ErrNotFound) {
		return fmt.Errorf("%s: %w", it.Rel, ErrContentGone)
	}
	if err != nil {
		return fmt.Errorf("read %s from the sender: %w", it.Rel, err)
	}
	defer rc.Close()
	info, err := tr.Write(ctx, dst, io.LimitReader(rc, it.Size+1), files.WriteOptions{Size: it.Size, ModTime: it.ModTime})
	if err != nil {
		return err
	}
	if info.Size != it.Size || string(info.Hash[:]) != string(it.Hash) {
		return fmt.Errorf("%s: %w", it.Rel, ErrChanged)
	}
	return nil
}

package share

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"time"

	"tresor/appliance/access"
	"tresor/appliance/audit"
	"tresor/appliance/files"
	"tresor/appliance/identity"
	"tresor/appliance/password"
	"tresor/appliance/tenant"
	"tresor/storage"
)

// Backend is what the service needs of the running appliance.
type Backend interface {
	// TenantAccess returns the tenant registry (and the accounts) while
	// the appliance runs; an error while it is locked or in setup.
	TenantAccess() (*tenant.Registry, *identity.Accounts, error)
}

// Options configure a Service.
type Options struct {
	// Clock is injected for tests; nil means time.Now.
	Clock func() time.Time
	// FailFloor is the least time a refused Open or password check takes,
	// above the slowest honest path (an argon2id check); 0 means 400 ms.
	FailFloor time.Duration
	// Params are the argon2id parameters of new link passwords; zero
	// means password.Default.
	Params password.Params
	Log    *slog.Logger
}

// Service makes, finds and serves share links. One per appliance: it holds
// the brute-force throttle and the key of the page cookies.
type Service struct {
	b         Backend
	now       func() time.Time
	floor     time.Duration
	params    password.Params
	log       *slog.Logger
	throttle  *throttle
	cookieKey []byte
	// checking serialises the password checks of a link (striped by link
	// ID): the throttle learns of a failure only after argon2id ran, so
	// guesses sent at once would all pass it first; and each check holds
	// the hash's memory (64 MiB by default).
	checking [64]chan struct{}
	seed     maphash.Seed
}

// New returns the service of the appliance b.
func New(b Backend, opt Options) *Service {
	s := &Service{b: b, now: opt.Clock, floor: opt.FailFloor, params: opt.Params, log: opt.Log, throttle: newThrottle()}
	if s.now == nil {
		s.now = time.Now
	}
	if s.floor <= 0 {
		s.floor = 400 * time.Millisecond
	}
	if s.params == (password.Params{}) {
		s.params = password.Default
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.cookieKey = make([]byte, 32)
	_, _ = rand.Read(s.cookieKey)
	for i := range s.checking {
		s.checking[i] = make(chan struct{}, 1)
	}
	s.seed = maphash.MakeSeed()
	return s
}

func (s *Service) registry() (*tenant.Registry, error) {
	reg, _, err := s.b.TenantAccess()
	if err != nil {
		return nil, fmt.Errorf("share links: %w", err)
	}
	return reg, nil
}

// pad sleeps until floor has passed since start (or ctx ends).
func (s *Service) pad(ctx context.Context, start time.Time) {
	t := time.NewTimer(s.floor - time.Since(start))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// Access is one request's hold on a live link: the tenant it belongs to,
// the link, and the subtree of its target. Make it with Service.Open; do
// not keep it beyond the request.
type Access struct {
	s      *Service
	t      *tenant.Tenant
	rec    record
	tree   *files.Subtree
	target files.Info // as the recipient sees it: path "/"
	source string
}

// Open resolves token (its text form, from the URL) for a request from
// source. Every refusal but the throttle is ErrNotFound and takes at
// least the service's FailFloor.
func (s *Service) Open(ctx context.Context, token, source string) (*Access, error) {
	start := time.Now()
	a, err := s.open(ctx, token, source)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			s.throttle.fail("src:"+identity.SourceBlock(source), s.now())
		} else if !errors.Is(err, ErrThrottled) {
			s.log.Error("share link lookup failed", "err", err)
		}
		s.pad(ctx, start)
		if !errors.Is(err, ErrThrottled) {
			err = ErrNotFound
		}
		return nil, err
	}
	return a, nil
}

func (s *Service) open(ctx context.Context, token, source string) (*Access, error) {
	now := s.now()
	if s.throttle.blocked("src:"+identity.SourceBlock(source), now) {
		return nil, ErrThrottled
	}
	tok, err := ParseToken(token)
	if err != nil {
		return nil, err
	}
	reg, err := s.registry()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	h := tok.Hash()
	slug, ok := reg.ShareTenant(h)
	if !ok {
		return nil, ErrNotFound
	}
	t, err := reg.Open(ctx, slug)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	var rec *record
	err = t.View(func(tx *storage.Tx) error {
		b := tx.Bucket(bucketTokens...)
		if b == nil {
			return ErrNotFound
		}
		id := b.Get(h)
		if id == nil {
			return ErrNotFound
		}
		var err error
		rec, err = getRecord(t, tx, string(id))
		return err
	})
	if err != nil {
		return nil, err
	}
	// A hash collision with another link of the tenant cannot happen by
	// chance; compare anyway, in constant time.
	if subtle.ConstantTimeCompare(rec.TokenHash, h) != 1 {
		return nil, ErrNotFound
	}
	a := &Access{s: s, t: t, rec: *rec, source: source}
	if err := a.live(now); err != nil {
		return nil, err
	}
	opts := []files.Option{files.WithClock(s.now)}
	// Four-eyes holds at every use, not only when the link was made: a
	// link made live on a target that is sensitive now (moved below a
	// sensitive folder, or marked since) serves nothing unless a second
	// admin approved it; else one admin could link a folder, move it into
	// a sensitive one and move sensitive files into it. Nor does such a
	// link show a sensitive folder below its target.
	if rec.ApprovedBy == "" {
		pol, sens, err := s.sensitiveNow(ctx, t, rec.Target)
		if err != nil {
			return nil, fmt.Errorf("%w: target: %v", ErrNotFound, err)
		}
		if sens {
			return nil, ErrNotFound
		}
		opts = append(opts, files.WithHidden(pol.Marked))
	}
	a.tree = files.NewSubtree(t, rec.Target, a.actor(), rec.CreatorID, opts...)
	if a.target, err = a.tree.Stat(ctx, ""); err != nil {
		return nil, fmt.Errorf("%w: target: %v", ErrNotFound, err)
	}
	if err := a.usable(ctx, rec); err != nil {
		return nil, err
	}
	return a, nil
}

// usable is the one check every use of a link passes (Open, so every page,
// listing, download and upload of a request, and Live, before each file of
// a zip and each upload): the link r is approved and not expired, and its
// creator, as its account is now, still may do what the link does
// (creators.may). A link whose creator lost the right fails like a revoked
// one, ErrNotFound, and is logged (share.access, denied, with the reason)
// for the tenant; it is not deleted, so it works again once the right is
// restored.
func (a *Access) usable(ctx context.Context, r *record) error {
	if r.Pending || r.expired(a.s.now()) {
		return ErrNotFound
	}
	obj, err := a.tree.Object(ctx)
	if err != nil {
		return fmt.Errorf("%w: target: %v", ErrNotFound, err)
	}
	err = a.t.View(func(tx *storage.Tx) error {
		c, err := a.s.creators(a.t, tx)
		if err != nil {
			return err
		}
		return c.may(r, obj)
	})
	if errors.Is(err, ErrCreatorRights) {
		e := audit.Entry{Actor: a.actor(), Action: audit.ActionShareAccess, Object: audit.Object{ID: r.ID, Path: obj.Path},
			Outcome: audit.OutcomeDenied, Details: map[string]string{"mode": string(r.Mode), "reason": err.Error()}}
		if lerr := a.t.Log(context.WithoutCancel(ctx), e); lerr != nil {
			a.s.log.Error("refused share access not logged", "link", r.ID, "err", lerr)
		}
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// creators asks the access policy about links' creators in one
// transaction: the policy is loaded once and each creator's account read
// once, however many links are checked (the owner's list checks all).
type creators struct {
	t    *tenant.Tenant
	tx   *storage.Tx
	pol  *access.Policy
	subj map[string]subjectOrErr
}

type subjectOrErr struct {
	s   access.Subject
	err error
}

func (s *Service) creators(t *tenant.Tenant, tx *storage.Tx) (*creators, error) {
	pol, err := access.New(access.Options{Clock: s.now}).LoadTx(t, tx)
	if err != nil {
		return nil, fmt.Errorf("share link: access policy: %w", err)
	}
	return &creators{t: t, tx: tx, pol: pol, subj: map[string]subjectOrErr{}}, nil
}

// may decides whether the creator of link r, as the account is now (role,
// groups, grants; enabled), may do what the link does on its target at
// obj: the actions the link's mode needs (Mode.needs), asked of the access
// policy as if the creator acted itself. Grants are inherited downwards
// and never taken away below a folder, so a right on the target covers
// everything below it: the target is the one object to ask about. It
// returns an error wrapping ErrCreatorRights with the reason.
func (c *creators) may(r *record, obj access.Object) error {
	se, ok := c.subj[r.CreatorID]
	if !ok {
		se.s, se.err = identity.AccountSubjectTx(c.t, c.tx, r.CreatorID)
		c.subj[r.CreatorID] = se
	}
	if errors.Is(se.err, identity.ErrForbidden) {
		return fmt.Errorf("%w: %s: %v", ErrCreatorRights, r.Creator, se.err)
	}
	if se.err != nil {
		return fmt.Errorf("share link %s: creator: %w", r.ID, se.err)
	}
	if err := modeAllowed(c.pol, se.s, obj, r.Mode); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCreatorRights, r.Creator, err)
	}
	return nil
}

// modeAllowed asks the access policy whether s may have a link of mode m
// to obj: every action the mode needs (Mode.needs). Create asks it of the
// account making a link, usable of the creator at every use.
func modeAllowed(pol *access.Policy, s access.Subject, obj access.Object, m Mode) error {
	for _, act := range m.needs() {
		if err := pol.Check(s, obj, act); err != nil {
			return err
		}
	}
	return nil
}

// sensitiveNow returns the tenant's access policy and whether the link
// target id is in a sensitive folder now.
func (s *Service) sensitiveNow(ctx context.Context, t *tenant.Tenant, id files.ID) (*access.Policy, bool, error) {
	obj, err := files.New(t, nil, files.WithClock(s.now)).Locate(ctx, access.NodeID(id))
	if err != nil {
		return nil, false, err
	}
	pol, err := access.New(access.Options{Clock: s.now}).Load(t)
	if err != nil {
		return nil, false, err
	}
	return pol, pol.Sensitive(obj), nil
}

// live checks expiry and the download count of the record as loaded.
func (a *Access) live(now time.Time) error {
	if a.rec.Pending || a.rec.expired(now) {
		return ErrNotFound
	}
	if a.rec.Mode == ModeRead && a.rec.MaxDownloads > 0 && a.rec.Downloads >= a.rec.MaxDownloads {
		return ErrNotFound
	}
	return nil
}

// actor is the link acting for the recipient.
func (a *Access) actor() audit.Actor {
	return audit.Actor{Kind: audit.ActorLink, Name: "link " + a.rec.ID, ID: a.rec.ID, Addr: a.source}
}

// Mode returns the link's mode.
func (a *Access) Mode() Mode { return a.rec.Mode }

// Note returns the note to the recipient.
func (a *Access) Note() string { return a.rec.Note }

// Expires returns when the link expires (zero: never).
func (a *Access) Expires() time.Time { return a.rec.Expires }

// Tenant returns the display name of the tenant that shares (the office:
// the recipient should know who sends).
func (a *Access) Tenant() string { return a.t.Name() }

// Target describes the shared file or folder with path "/". For a drop
// link its name is withheld: a recipient of a drop link sees nothing of
// the folder.
func (a *Access) Target() files.Info {
	i := a.target
	if a.rec.Mode == ModeDrop {
		return files.Info{Kind: files.KindFolder, Path: files.Path{}}
	}
	return i
}

// NeedsPassword reports whether the link has a password.
func (a *Access) NeedsPassword() bool { return a.rec.PasswordHash != "" }

// CheckPassword checks the link password. A wrong one is logged
// (share.password-failed), counts against the source and the link, and
// takes at least the service's FailFloor; ErrThrottled while either is
// held back. Checks of one link run one at a time.
func (a *Access) CheckPassword(ctx context.Context, pw []byte) error {
	if !a.NeedsPassword() {
		return nil
	}
	start := time.Now()
	err := a.verify(ctx, pw)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrThrottled):
		a.s.pad(ctx, start)
		return ErrThrottled
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %w", ErrPassword, err)
	}
	_ = a.t.Log(ctx, audit.Entry{Actor: a.actor(), Action: audit.ActionSharePasswordFailed,
		Object: audit.Object{ID: a.rec.ID}, Outcome: audit.OutcomeFailure})
	a.s.pad(ctx, start)
	if errors.Is(err, password.ErrMismatch) {
		return ErrPassword
	}
	return fmt.Errorf("%w: %v", ErrPassword, err)
}

// verify runs one check of the link password, one at a time per link
// (Service.checking), so that the failure is counted before the next
// check asks the throttle.
func (a *Access) verify(ctx context.Context, pw []byte) error {
	sem := a.s.checking[maphash.String(a.s.seed, a.rec.ID)%uint64(len(a.s.checking))]
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-sem }()
	now := a.s.now()
	src, link := "src:"+identity.SourceBlock(a.source), "link:"+a.rec.ID
	if a.s.throttle.blocked(src, now) || a.s.throttle.blocked(link, now) {
		return ErrThrottled
	}
	err := password.Verify(pw, a.rec.PasswordHash)
	if err != nil {
		a.s.throttle.fail(src, now)
		a.s.throttle.fail(link, now)
	}
	return err
}

// PageKey returns the value of the cookie that spares the recipient the
// password on the next request of this page: an HMAC of the link's ID and
// password hash under the service's key, so it dies with a new password,
// with the link, and with the process.
func (a *Access) PageKey() string {
	m := hmac.New(sha256.New, a.s.cookieKey)
	m.Write([]byte(a.rec.ID))
	m.Write([]byte{0})
	m.Write([]byte(a.rec.PasswordHash))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CheckPageKey reports whether v is this link's PageKey.
func (a *Access) CheckPageKey(v string) bool {
	return v != "" && hmac.Equal([]byte(v), []byte(a.PageKey()))
}

// Opened logs that the recipient opened the link's page and counts it.
func (a *Access) Opened(ctx context.Context) error {
	return a.t.Update(ctx, func(tx *storage.Tx) error {
		r, err := getRecord(a.t, tx, a.rec.ID)
		if err != nil {
			return ErrNotFound
		}
		r.Accesses++
		if err := putRecord(a.t, tx, r); err != nil {
			return err
		}
		return a.t.LogTx(tx, audit.Entry{Actor: a.actor(), Action: audit.ActionShareAccess,
			Object: audit.Object{ID: a.rec.ID}, Outcome: audit.OutcomeSuccess, Details: map[string]string{"mode": string(a.rec.Mode)}})
	})
}

// Live re-reads the link and fails with ErrNotFound once it was revoked
// or expired since Open, or its creator lost the right to share the
// target (see usable). Long downloads call it before each file, uploads
// before they store.
func (a *Access) Live(ctx context.Context) error {
	var r *record
	err := a.t.View(func(tx *storage.Tx) error {
		var err error
		r, err = getRecord(a.t, tx, a.rec.ID)
		return err
	})
	if err != nil {
		return ErrNotFound
	}
	return a.usable(ctx, r)
}

// List lists the folder rel (relative to the target) for a read or write
// link; ErrMode for a drop link.
func (a *Access) List(ctx context.Context, rel string) ([]files.Info, error) {
	if a.rec.Mode == ModeDrop {
		return nil, ErrMode
	}
	list, err := a.tree.List(ctx, rel)
	if err != nil {
		return nil, notFound(err)
	}
	return list, nil
}

// Stat describes rel for a read or write link; ErrMode for a drop link.
func (a *Access) Stat(ctx context.Context, rel string) (files.Info, error) {
	if a.rec.Mode == ModeDrop {
		return files.Info{}, ErrMode
	}
	i, err := a.tree.Stat(ctx, rel)
	if err != nil {
		return files.Info{}, notFound(err)
	}
	return i, nil
}

// notFound turns the tree's answers about paths into ErrNotFound with the
// relative path only.
func notFound(err error) error {
	switch {
	case errors.Is(err, files.ErrNotFound), errors.Is(err, files.ErrBadName), errors.Is(err, files.ErrBadPath),
		errors.Is(err, files.ErrNotDir), errors.Is(err, files.ErrIsDir):
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	return err
}

// Download is one counted download through a link.
type Download struct {
	a     *Access
	rel   string
	zip   bool
	Bytes int64 // delivered so far; the caller adds to it
}

// BeginDownload counts a download of rel (a file, or a folder as a zip)
// before anything is sent: it fails with ErrNotFound when the link was
// revoked, expired or exhausted meanwhile (so concurrent downloads never
// exceed the limit) or its creator lost the right (Live), ErrMode for a
// drop link.
func (a *Access) BeginDownload(ctx context.Context, rel string, zip bool) (*Download, error) {
	if a.rec.Mode == ModeDrop {
		return nil, ErrMode
	}
	if err := a.Live(ctx); err != nil {
		return nil, err
	}
	err := a.t.Update(ctx, func(tx *storage.Tx) error {
		r, err := getRecord(a.t, tx, a.rec.ID)
		if err != nil {
			return ErrNotFound
		}
		if r.Pending || r.expired(a.s.now()) || (r.MaxDownloads > 0 && r.Downloads >= r.MaxDownloads) {
			return ErrNotFound
		}
		r.Downloads++
		return putRecord(a.t, tx, r)
	})
	if err != nil {
		return nil, err
	}
	return &Download{a: a, rel: rel, zip: zip}, nil
}

// Open opens a file below the target for this download.
func (d *Download) Open(ctx context.Context, rel string) (*files.File, error) {
	f, err := d.a.tree.Open(ctx, rel)
	if err != nil {
		return nil, notFound(err)
	}
	return f, nil
}

// Walk walks the folder rel below the target (for a zip).
func (d *Download) Walk(ctx context.Context, rel string, fn func(files.Info) error) error {
	if err := d.a.tree.Walk(ctx, rel, fn); err != nil {
		return notFound(err)
	}
	return nil
}

// End logs the download (share.download) with the bytes delivered and
// whether it completed; err is what ended it early, or nil.
func (d *Download) End(ctx context.Context, err error) {
	path, perr := d.a.tree.TenantPath(ctx, d.rel)
	if perr != nil {
		path = ""
	}
	e := audit.Entry{Actor: d.a.actor(), Action: audit.ActionShareDownload, Object: audit.Object{ID: d.a.rec.ID, Path: path},
		Outcome: audit.OutcomeSuccess, Details: map[string]string{"bytes": fmt.Sprint(d.Bytes), "zip": fmt.Sprint(d.zip), "relative": d.rel}}
	if err != nil {
		e.Outcome = audit.OutcomeFailure
		e.Details["error"] = err.Error()
	}
	if lerr := d.a.t.Log(context.WithoutCancel(ctx), e); lerr != nil {
		d.a.s.log.Error("share download not logged", "link", d.a.rec.ID, "err", lerr)
	}
}

// Upload stores r as a file called name through the link: into the folder
// rel for a write link (an existing file of that name gets a new
// version), into the target itself for a drop link (under a free name:
// nothing is replaced or revealed). It is logged as share.upload with the
// bytes. ErrMode for a read link.
func (a *Access) Upload(ctx context.Context, rel, name string, r io.Reader, size int64) (files.Info, error) {
	var overwrite bool
	switch a.rec.Mode {
	case ModeWrite:
		overwrite = true
	case ModeDrop:
		rel = ""
	default:
		return files.Info{}, ErrMode
	}
	if err := a.Live(ctx); err != nil {
		return files.Info{}, err
	}
	info, err := a.tree.Write(ctx, rel, name, r, files.WriteOptions{Size: size}, overwrite)
	e := audit.Entry{Actor: a.actor(), Action: audit.ActionShareUpload, Object: audit.Object{ID: a.rec.ID},
		Outcome: audit.OutcomeSuccess, Details: map[string]string{"bytes": fmt.Sprint(info.Size)}}
	if err != nil {
		e.Outcome = audit.OutcomeFailure
		e.Details["error"] = err.Error()
	} else if p, perr := a.tree.TenantPath(ctx, info.Path.String()); perr == nil {
		e.Object.Path = p
	}
	lerr := a.t.Update(context.WithoutCancel(ctx), func(tx *storage.Tx) error {
		if err == nil {
			if r, gerr := getRecord(a.t, tx, a.rec.ID); gerr == nil {
				r.Uploads++
				if perr := putRecord(a.t, tx, r); perr != nil {
					return perr
				}
			}
		}
		return a.t.LogTx(tx, e)
	})
	if err != nil {
		if errors.Is(err, files.ErrQuota) || errors.Is(err, files.ErrBadName) {
			return files.Info{}, err
		}
		return files.Info{}, notFound(err)
	}
	return info, lerr
}

package tenant

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tresor/appliance/audit"
	"tresor/storage"
)

func TestCreateListOpen(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := Defaults()
	s.TwoFactorRequired = false
	info, err := e.reg.Create(ctx, admin, Spec{Slug: "kanzlei-mueller", Name: "Kanzlei Müller & Partner", Quota: 500 << 30, Settings: &s}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.Slug != "kanzlei-mueller" || info.State != StateActive || info.Quota != 500<<30 || info.Created.IsZero() {
		t.Fatalf("Create = %+v", info)
	}
	e.create("notariat")
	if _, err := e.reg.Create(ctx, admin, Spec{Slug: "notariat"}, nil); !errors.Is(err, ErrExists) {
		t.Fatalf("second Create(notariat) = %v, want ErrExists", err)
	}
	list, err := e.reg.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Slug != "kanzlei-mueller" || list[1].Slug != "notariat" || list[1].Name != "Kanzlei notariat" {
		t.Fatalf("List = %+v", list)
	}
	got, err := e.reg.Get("kanzlei-mueller")
	if err != nil || got != info {
		t.Fatalf("Get = %+v, %v; want %+v", got, err, info)
	}

	a := e.open1("kanzlei-mueller")
	b := e.open1("notariat")
	if a.Slug() != "kanzlei-mueller" || a.Name() != "Kanzlei Müller & Partner" || a.Quota() != 500<<30 {
		t.Fatalf("Open = %s %q %d", a.Slug(), a.Name(), a.Quota())
	}
	if a.Settings().TwoFactorRequired || !b.Settings().TwoFactorRequired {
		t.Fatal("settings are not per tenant")
	}
	if a.Namespace() == b.Namespace() || a.Namespace().Name() != "kanzlei-mueller" || a.Audit().Name() != "kanzlei-mueller" {
		t.Fatal("tenants share a namespace or log")
	}
	// The same handles serve later requests.
	if again := e.open1("kanzlei-mueller"); again.Namespace() != a.Namespace() || again.Audit() != a.Audit() {
		t.Fatal("a second Open made new handles")
	}

	// Both logs record the creation; the appliance's names the tenant.
	app := find(entries(t, e.log), audit.ActionTenantCreate)
	if len(app) != 2 || app[0].Tenant != "kanzlei-mueller" || app[0].Actor.Kind != audit.ActorApplianceAdmin || app[0].Details["two_factor_required"] != "false" {
		t.Fatalf("appliance log tenant.create = %+v", app)
	}
	own := entries(t, a.Audit())
	if len(own) != 1 || own[0].Action != audit.ActionTenantCreate || own[0].Actor != admin || own[0].Tenant != "kanzlei-mueller" {
		t.Fatalf("tenant log = %+v", own)
	}
	if own := entries(t, b.Audit()); len(own) != 1 || own[0].Tenant != "notariat" {
		t.Fatalf("second tenant's log = %+v", own)
	}
}

func TestCreateRefusesBadInput(t *testing.T) {
	e := newEnv(t)
	bad := Defaults()
	bad.Password.MinLength = 3
	for _, c := range []struct {
		name string
		spec Spec
		want error
	}{
		{"bad slug", Spec{Slug: "Kanzlei"}, ErrBadSlug},
		{"reserved slug", Spec{Slug: "appliance"}, ErrBadSlug},
		{"path", Spec{Slug: "../x"}, ErrBadSlug},
		{"control character", Spec{Slug: "ok-slug", Name: "a\nb"}, ErrBadName},
		{"negative quota", Spec{Slug: "ok-slug", Quota: -1}, ErrBadSize},
		{"bad settings", Spec{Slug: "ok-slug", Settings: &bad}, ErrBadSettings},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := e.reg.Create(context.Background(), admin, c.spec, nil); !errors.Is(err, c.want) {
				t.Fatalf("Create(%+v) = %v, want %v", c.spec, err, c.want)
			}
		})
	}
	if list, _ := e.reg.List(); len(list) != 0 {
		t.Fatalf("refused creations left tenants: %+v", list)
	}
}

// TestCreateInitFailureUndoes: when init (the first admin) fails, nothing
// of the tenant remains and the slug can be used again.
func TestCreateInitFailureUndoes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	boom := errors.New("boom")
	var seen *Tenant
	_, err := e.reg.Create(ctx, admin, Spec{Slug: "kanzlei"}, func(ctx context.Context, tn *Tenant) error {
		seen = tn
		// init sees a working tenant: it can write and log.
		if err := tn.Update(ctx, func(tx *storage.Tx) error {
			b, err := tx.CreateBucketIfNotExists("probe")
			if err != nil {
				return err
			}
			return b.Put([]byte("k"), []byte("v"))
		}); err != nil {
			t.Errorf("init: Update = %v", err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Create = %v, want the init error", err)
	}
	if seen == nil {
		t.Fatal("init did not run")
	}
	if _, err := e.reg.Get("kanzlei"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after failed Create = %v, want ErrNotFound", err)
	}
	if nss, _ := e.pool.Namespaces(); len(nss) != 0 {
		t.Fatalf("namespaces after failed Create: %+v", nss)
	}
	if err := seen.View(func(tx *storage.Tx) error { return nil }); err == nil {
		t.Fatal("the discarded tenant's handle still reads")
	}
	e.create("kanzlei")
	if err := e.open1("kanzlei").View(func(tx *storage.Tx) error {
		if tx.Bucket("probe") != nil {
			return errors.New("the discarded tenant's data is back")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestSuspendResumeQuota(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.create("kanzlei")
	e.create("notariat")
	before := e.open1("kanzlei") // a request already running keeps its Tenant

	info, err := e.reg.Suspend(ctx, admin, "kanzlei")
	if err != nil || info.State != StateSuspended {
		t.Fatalf("Suspend = %+v, %v", info, err)
	}
	if _, err := e.reg.Open(ctx, "kanzlei"); !errors.Is(err, ErrSuspended) {
		t.Fatalf("Open(suspended) = %v, want ErrSuspended", err)
	}
	e.open1("notariat") // the other one serves
	if _, err := e.reg.Suspend(ctx, admin, "kanzlei"); !errors.Is(err, ErrState) {
		t.Fatalf("Suspend(suspended) = %v, want ErrState", err)
	}
	if _, err := e.reg.Resume(ctx, admin, "notariat"); !errors.Is(err, ErrState) {
		t.Fatalf("Resume(active) = %v, want ErrState", err)
	}
	if _, err := e.reg.Suspend(ctx, admin, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Suspend(nobody) = %v, want ErrNotFound", err)
	}
	if info, err := e.reg.SetQuota(ctx, admin, "kanzlei", 1<<40); err != nil || info.Quota != 1<<40 {
		t.Fatalf("SetQuota = %+v, %v", info, err)
	}
	if _, err := e.reg.Resume(ctx, admin, "kanzlei"); err != nil {
		t.Fatal(err)
	}
	after := e.open1("kanzlei")
	if after.Quota() != 1<<40 || before.Quota() != 0 {
		t.Fatalf("quota: before %d, after %d", before.Quota(), after.Quota())
	}

	// The tenant's auditors see every admin action on their tenant, in
	// their own log and in the appliance log's entries naming them.
	var own []string
	for _, en := range entries(t, after.Audit()) {
		if en.Actor.Kind != audit.ActorApplianceAdmin || en.Tenant != "kanzlei" {
			t.Errorf("tenant log entry %+v: want an appliance-admin entry for kanzlei", en)
		}
		own = append(own, en.Action+fmt.Sprint(en.Details))
	}
	want := []string{"tenant.create", "tenant.suspend", "settings.change", "tenant.resume"}
	if len(own) != len(want) {
		t.Fatalf("tenant log = %v, want %v", own, want)
	}
	for i := range want {
		if !strings.HasPrefix(own[i], want[i]) {
			t.Fatalf("tenant log = %v, want %v", own, want)
		}
	}
	if !strings.Contains(own[2], "from:0") || !strings.Contains(own[2], "to:1T") {
		t.Errorf("quota entry %s lacks from and to", own[2])
	}
	var app []string
	if err := e.log.Entries(audit.Filter{Tenant: "kanzlei"}, func(en audit.Entry) error {
		app = append(app, en.Action)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(app, " ") != strings.Join(want, " ") {
		t.Fatalf("appliance log for kanzlei = %v, want %v", app, want)
	}
	if n := len(entries(t, e.open1("notariat").Audit())); n != 1 {
		t.Fatalf("the other tenant's log has %d entries, want only its creation", n)
	}
}

// TestDeleteWhileOtherUploads deletes one tenant while another uploads in
// a loop: every upload of the other reads back, and nothing of the deleted
// tenant is left on any disk.
func TestDeleteWhileOtherUploads(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.create("kanzlei")
	e.create("notariat")
	keep := e.open1("kanzlei")
	gone := e.open1("notariat")
	secret := []byte("Mandantenakte Müller: streng vertraulich")
	if _, err := gone.Namespace().Put(ctx, bytes.NewReader(bytes.Repeat(secret, 4096)), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := gone.Namespace().Put(ctx, bytes.NewReader(secret), nil); err != nil { // inline
		t.Fatal(err)
	}
	wrapped := wrappedKey(t, e.pool, "notariat")

	type upload struct {
		id   storage.ObjectID
		data []byte
	}
	var (
		mu   sync.Mutex
		done []upload
	)
	stop := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		defer close(errc)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			data := bytes.Repeat([]byte(fmt.Sprintf("akte %d ", i)), 100+i*997%70000)
			info, err := keep.Namespace().Put(ctx, bytes.NewReader(data), nil)
			if err != nil {
				errc <- fmt.Errorf("upload %d: %w", i, err)
				return
			}
			mu.Lock()
			done = append(done, upload{info.ID, data})
			mu.Unlock()
		}
	}()
	// Let some uploads run before and during the deletion.
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(done) >= 3 })
	if err := e.reg.Delete(ctx, admin, "notariat"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	n := len(done)
	mu.Unlock()
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(done) >= n+3 })
	close(stop)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	for _, u := range done {
		rc, _, err := keep.Namespace().Get(ctx, u.id)
		if err != nil {
			t.Fatalf("read back %s: %v", u.id, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, u.data) {
			t.Fatalf("read back %s: %d bytes, %v; want %d bytes", u.id, len(got), err, len(u.data))
		}
	}
	t.Logf("%d uploads of the other tenant read back", len(done))

	// The deleted tenant is gone from the registry, its handles dead.
	if _, err := e.reg.Open(ctx, "notariat"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open(deleted) = %v, want ErrNotFound", err)
	}
	if list, _ := e.reg.List(); len(list) != 1 || list[0].Slug != "kanzlei" {
		t.Fatalf("List after Delete = %+v", list)
	}
	if err := gone.View(func(*storage.Tx) error { return nil }); err == nil {
		t.Fatal("a Tenant opened before the deletion still reads")
	}
	checkShredded(t, e.paths, "notariat", wrapped, secret)

	// The appliance log keeps the deletion; it still verifies.
	del := find(entries(t, e.log), audit.ActionTenantDelete)
	if len(del) != 2 || del[0].Details["phase"] != "started" || del[1].Details["phase"] != "done" || del[1].Tenant != "notariat" {
		t.Fatalf("appliance log tenant.delete = %+v", del)
	}
	if rep, err := e.log.Verify(ctx); err != nil || rep.Problem != nil {
		t.Fatalf("appliance log Verify = %+v, %v", rep, err)
	}

	// The slug can be used again, for a new, empty tenant.
	e.create("notariat")
	if objs, err := e.open1("notariat").Namespace().List(); err != nil || len(objs) != 0 {
		t.Fatalf("new tenant under a deleted slug has objects %v, %v", objs, err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wrappedKey reads a namespace's wrapped data key from the system database.
func wrappedKey(t *testing.T, p *storage.Pool, ns string) []byte {
	t.Helper()
	var rec struct{ Key []byte }
	if err := p.View(func(tx *storage.Tx) error {
		return json.Unmarshal(tx.Bucket("pool", "namespaces").Get([]byte(ns)), &rec)
	}); err != nil {
		t.Fatal(err)
	}
	if len(rec.Key) < 32 {
		t.Fatalf("wrapped key of %s: %d bytes", ns, len(rec.Key))
	}
	return rec.Key
}

// checkShredded looks at the raw disks: no directory of the namespace, no
// file holding the plaintext, and no system database file (any copy) that
// still holds the wrapped key, in binary or in the base64 of its record.
func checkShredded(t *testing.T, disks []string, ns string, wrapped, plaintext []byte) {
	t.Helper()
	b64 := []byte(base64.StdEncoding.EncodeToString(wrapped))
	for _, d := range disks {
		if _, err := os.Stat(filepath.Join(d, "tresor", "ns", ns)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("disk %s: namespace directory still there (%v)", d, err)
		}
		err := filepath.WalkDir(d, func(path string, de fs.DirEntry, err error) error {
			if err != nil || de.IsDir() {
				return err
			}
			if strings.Contains(path, string(filepath.Separator)+ns+string(filepath.Separator)) {
				t.Errorf("file of the deleted namespace left: %s", path)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if bytes.Contains(b, wrapped) || bytes.Contains(b, b64) {
				t.Errorf("%s still holds the deleted namespace's wrapped key", path)
			}
			if bytes.Contains(b, plaintext) {
				t.Errorf("%s holds the deleted tenant's plaintext", path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestRecover finishes a creation and a deletion a crash interrupted.
func TestRecover(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.create("kanzlei")
	e.create("notariat")
	// A crash in the middle of Delete: marked deleting, not yet shredded.
	setState(t, e.pool, "notariat", StateDeleting)
	// A crash in the middle of Create: record and namespace, never activated.
	if _, err := e.pool.CreateNamespace(ctx, "praxis"); err != nil {
		t.Fatal(err)
	}
	if err := e.pool.Update(ctx, func(tx *storage.Tx) error {
		return tx.Bucket(bucketTenants...).Put([]byte("praxis"), record{Name: "p", State: StateCreating}.marshal())
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.Open(ctx, "praxis"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open(creating) = %v, want ErrNotFound", err)
	}
	if _, err := e.reg.Open(ctx, "notariat"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open(deleting) = %v, want ErrNotFound", err)
	}
	if err := e.reg.Delete(ctx, admin, "praxis"); !errors.Is(err, ErrState) {
		t.Fatalf("Delete(creating) = %v, want ErrState", err)
	}
	e.reopen()
	if err := e.reg.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	list, _ := e.reg.List()
	if len(list) != 1 || list[0].Slug != "kanzlei" {
		t.Fatalf("List after Recover = %+v", list)
	}
	nss, _ := e.pool.Namespaces()
	if len(nss) != 1 || nss[0].Name != "kanzlei" {
		t.Fatalf("namespaces after Recover = %+v", nss)
	}
	for _, d := range e.paths {
		for _, ns := range []string{"notariat", "praxis"} {
			if _, err := os.Stat(filepath.Join(d, "tresor", "ns", ns)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s left on %s", ns, d)
			}
		}
	}
	var sys []string
	for _, en := range find(entries(t, e.log), audit.ActionTenantDelete) {
		if en.Actor.Kind == audit.ActorSystem {
			sys = append(sys, en.Tenant)
		}
	}
	if strings.Join(sys, ",") != "praxis,notariat" && strings.Join(sys, ",") != "notariat,praxis" {
		t.Fatalf("recovery entries for %v", sys)
	}
	e.open1("kanzlei")
}

func setState(t *testing.T, p *storage.Pool, slug string, s State) {
	t.Helper()
	if err := p.Update(context.Background(), func(tx *storage.Tx) error {
		b := tx.Bucket(bucketTenants...)
		rec, err := parseRecord(slug, b.Get([]byte(slug)))
		if err != nil {
			return err
		}
		rec.State = s
		return b.Put([]byte(slug), rec.marshal())
	}); err != nil {
		t.Fatal(err)
	}
}

// TestZeroTenant: a Tenant not made by Open reaches nothing and does not
// panic.
func TestZeroTenant(t *testing.T) {
	for _, tn := range []*Tenant{nil, {}} {
		if tn.Namespace() != nil || tn.Audit() != nil {
			t.Fatal("zero Tenant has handles")
		}
		if err := tn.View(func(*storage.Tx) error { return nil }); !errors.Is(err, ErrNotOpened) {
			t.Fatalf("View = %v", err)
		}
		if err := tn.Update(context.Background(), func(*storage.Tx) error { return nil }); !errors.Is(err, ErrNotOpened) {
			t.Fatalf("Update = %v", err)
		}
		if err := tn.Log(context.Background(), audit.Entry{}); !errors.Is(err, ErrNotOpened) {
			t.Fatalf("Log = %v", err)
		}
		if _, err := tn.SealValue(nil, nil); !errors.Is(err, ErrNotOpened) {
			t.Fatalf("SealValue = %v", err)
		}
		if _, err := tn.UpdateSettings(context.Background(), admin, func(*Settings) error { return nil }); !errors.Is(err, ErrNotOpened) {
			t.Fatalf("UpdateSettings = %v", err)
		}
	}
}

func TestUpdateSettingsAndOptionalEvents(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.create("kanzlei")
	e.create("notariat")
	tn := e.open1("kanzlei")
	partner := audit.Actor{Kind: audit.ActorAccount, Name: "anna", ID: "a1"}
	listing := audit.Entry{Actor: partner, Action: audit.ActionFileList, Outcome: audit.OutcomeSuccess}
	if err := tn.Log(ctx, listing); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.UpdateSettings(ctx, partner, func(s *Settings) error {
		s.Password.MinLength = 3
		return nil
	}); !errors.Is(err, ErrBadSettings) {
		t.Fatalf("UpdateSettings(min length 3) = %v, want ErrBadSettings", err)
	}
	s, err := tn.UpdateSettings(ctx, partner, func(s *Settings) error {
		s.Password.MinLength = 16
		s.Audit.Optional = append(s.Audit.Optional, audit.ActionFileList)
		return nil
	})
	if err != nil || s.Password.MinLength != 16 {
		t.Fatalf("UpdateSettings = %+v, %v", s, err)
	}
	if err := tn.Log(ctx, listing); err != nil {
		t.Fatal(err)
	}
	// The change is the tenant's alone and survives a restart.
	e.reopen()
	if got := e.open1("kanzlei").Settings(); got.Password.MinLength != 16 || len(got.Audit.Optional) != 1 {
		t.Fatalf("settings after reopen = %+v", got)
	}
	if got := e.open1("notariat").Settings(); got.Password.MinLength != 12 || len(got.Audit.Optional) != 0 {
		t.Fatalf("the other tenant's settings changed: %+v", got)
	}
	var acts []string
	for _, en := range entries(t, e.open1("kanzlei").Audit()) {
		acts = append(acts, en.Action)
		// The entry names the one setting that changed, not whole documents.
		if en.Action == audit.ActionSettingsChange && (en.Details["setting"] != "password.min_length" || en.Details["from"] != "12" || en.Details["to"] != "16" || en.Actor != partner) {
			t.Errorf("settings.change entry %+v", en)
		}
	}
	// The first listing was not logged (optional and off), the second was.
	if got := strings.Join(acts, " "); got != "tenant.create settings.change audit.settings file.list" {
		t.Fatalf("tenant log = %s", got)
	}
}

// TestOpenSeesSettingsChanges: Open keeps the settings it last decoded
// (per request otherwise), so check that a change made through another
// Tenant of the same handle is seen by the next Open, and that what a
// caller does to its copy does not reach the next one.
func TestOpenSeesSettingsChanges(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.create("kanzlei")
	first := e.open1("kanzlei")
	if got := e.open1("kanzlei").Settings().Password.MinLength; got != 12 {
		t.Fatalf("min length %d, want the default 12", got)
	}
	partner := audit.Actor{Kind: audit.ActorAccount, Name: "anna", ID: "a1"}
	if _, err := first.UpdateSettings(ctx, partner, func(s *Settings) error {
		s.Password.MinLength = 20
		s.Audit.Optional = []string{audit.ActionFileList}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got := e.open1("kanzlei").Settings()
	if got.Password.MinLength != 20 || len(got.Audit.Optional) != 1 {
		t.Fatalf("settings after the change = %+v", got)
	}
	got.Audit.Optional[0] = "tampered"
	if again := e.open1("kanzlei").Settings(); again.Audit.Optional[0] != audit.ActionFileList {
		t.Fatalf("a caller's change to its copy reached the next Open: %v", again.Audit.Optional)
	}
}

// BenchmarkOpen is the per-request cost of resolving a tenant.
func BenchmarkOpen(b *testing.B) {
	e := newEnv(b)
	e.create("kanzlei")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.reg.Open(ctx, "kanzlei"); err != nil {
			b.Fatal(err)
		}
	}
}

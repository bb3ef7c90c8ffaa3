package daemon

import (
	"bytes"
	"context"
	"testing"

	"tresor/appliance/audit"
	"tresor/appliance/files"
	"tresor/appliance/identity"
	"tresor/appliance/tenant"
)

// TestRetentionJob: the scheduled retention job empties a tenant's trash
// and old versions by that tenant's policy, and leaves the other tenant,
// whose policy keeps them, alone.
func TestRetentionJob(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	ctx := context.Background()
	reg := ta.st.tenants.reg
	write := func(a acct, keepTrashDays int) *files.Tree {
		tn, err := reg.Open(ctx, a.tenant)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tn.UpdateSettings(ctx, audit.Actor{Kind: audit.ActorSystem, Name: "test"}, func(s *tenant.Settings) error {
			s.Retention.TrashDays, s.Retention.Versions = keepTrashDays, 0
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		p, err := ta.st.tenants.accounts.Authenticate(ctx, tn, identity.Credentials{Name: a.name, Password: []byte(a.pw), Source: "test"})
		if err != nil {
			t.Fatal(err)
		}
		tree := files.New(tn, p)
		for _, v := range []string{"v1", "v2"} {
			if _, err := tree.Write(ctx, "/akte.txt", bytes.NewReader([]byte(v)), files.WriteOptions{Size: -1}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := tree.Write(ctx, "/alt.txt", bytes.NewReader([]byte("weg")), files.WriteOptions{Size: -1}); err != nil {
			t.Fatal(err)
		}
		if _, err := tree.Delete(ctx, "/alt.txt"); err != nil {
			t.Fatal(err)
		}
		return tree
	}
	purged := write(aAdmin, 0)  // trash purged at once, no old versions kept
	kept := write(bAdmin, 3650) // trash kept ten years
	ta.runScheduler(ctx)
	ch, err := ta.st.sched.RunNow(ctx, "retention")
	if err != nil {
		t.Fatal(err)
	}
	for p := range ch {
		if p.Final && p.Err != nil {
			t.Fatalf("retention job: %v", p.Err)
		}
	}
	count := func(tree *files.Tree) (trash, versions int) {
		tr, err := tree.Trash(ctx)
		if err != nil {
			t.Fatal(err)
		}
		vs, err := tree.Versions(ctx, "/akte.txt")
		if err != nil {
			t.Fatal(err)
		}
		return len(tr), len(vs)
	}
	if tr, vs := count(purged); tr != 0 || vs != 1 {
		t.Errorf("tenant with TrashDays 0: %d trash items, %d versions after the job; want 0 and 1", tr, vs)
	}
	if tr, vs := count(kept); tr != 1 {
		t.Errorf("tenant that keeps trash: %d trash items (versions %d) after the job; want 1", tr, vs)
	}
}

package access

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// Node IDs of a small tree:
//
//	/Mandanten (m) / Müller (mu) / Klage (k)
//	/Mandanten (m) / Schmidt (s)
//	/Intern (in)
var (
	nM  = NodeID{1}
	nMu = NodeID{2}
	nK  = NodeID{3}
	nS  = NodeID{4}
	nIn = NodeID{5}

	oRoot    = Root()
	oM       = Object{Nodes: []NodeID{nM}, Path: "/Mandanten"}
	oMu      = Object{Nodes: []NodeID{nM, nMu}, Path: "/Mandanten/Müller"}
	oK       = Object{Nodes: []NodeID{nM, nMu, nK}, Path: "/Mandanten/Müller/Klage"}
	oS       = Object{Nodes: []NodeID{nM, nS}, Path: "/Mandanten/Schmidt"}
	oIn      = Object{Nodes: []NodeID{nIn}, Path: "/Intern"}
	t0       = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	anna     = Subject{Account: "anna", Name: "anna", Role: RoleAdmin}
	ben      = Subject{Account: "ben", Name: "ben", Role: RoleUser}
	clara    = Subject{Account: "clara", Name: "clara", Role: RoleUser, Groups: []string{"g-sekretariat"}}
	dora     = Subject{Account: "dora", Name: "dora", Role: RoleAuditor}
	benRO    = Subject{Account: "ben", Name: "ben", Role: RoleUser, AppPassword: true, ReadOnly: true}
	benApp   = Subject{Account: "ben", Name: "ben", Role: RoleUser, AppPassword: true}
	annaRO   = Subject{Account: "anna", Name: "anna", Role: RoleAdmin, AppPassword: true, ReadOnly: true}
	nobody   = Subject{}
	stranger = Subject{Account: "erik", Role: RoleUser, Groups: []string{"g-other"}}
)

func grant(folder NodeID, kind, id string, p Perm, expires time.Time) Grant {
	return Grant{ID: "g" + id + folder.String()[:2], Folder: folder, To: Grantee{Kind: kind, ID: id, Name: id}, Perms: p, Expires: expires}
}

// TestPolicyTable is the policy as a table: role defaults, grants with
// inheritance, groups, implications, expiry, pending grants, app
// password scopes and the tenant-wide actions.
func TestPolicyTable(t *testing.T) {
	pending := grant(nIn, KindUser, "ben", PermRead, time.Time{})
	pending.Sensitive = true
	approved := grant(nIn, KindUser, "clara", PermRead, time.Time{})
	approved.Sensitive, approved.ApprovedBy = true, &Who{ID: "x", Name: "x"}
	grants := []Grant{
		grant(nMu, KindUser, "ben", PermWrite, time.Time{}),               // write (so read) on Müller and below
		grant(nS, KindUser, "ben", PermRead, t0.Add(time.Hour)),           // read on Schmidt for an hour
		grant(nM, KindGroup, "g-sekretariat", PermRead, time.Time{}),      // the group reads all clients
		grant(nMu, KindGroup, "g-sekretariat", PermManage, time.Time{}),   // and manages Müller
		grant(NodeID{}, KindUser, "dora", PermRead, t0.Add(-time.Minute)), // expired before t0
		pending,
		approved,
	}
	now := t0
	pol := NewPolicy(func() time.Time { return now }, grants, []NodeID{nIn})
	for _, c := range []struct {
		name string
		s    Subject
		o    Object
		a    Action
		ok   bool
	}{
		{"admin reads root", anna, oRoot, Read, true},
		{"admin writes anywhere", anna, oK, Write, true},
		{"admin manages anywhere", anna, oIn, Manage, true},
		{"admin shares", anna, oS, Share, true},
		{"admin accounts", anna, Tenant, AdminAccounts, true},
		{"admin groups", anna, Tenant, AdminGroups, true},
		{"admin settings", anna, Tenant, AdminSettings, true},
		{"admin marks sensitive", anna, oIn, MarkSensitive, true},
		{"admin approves", anna, Tenant, ApproveGrant, true},
		{"admin reviews", anna, Tenant, ReviewGrants, true},
		{"admin reads audit", anna, Tenant, ReadAudit, true},
		{"admin read-only app password reads", annaRO, oK, Read, true},
		{"admin read-only app password never writes", annaRO, oK, Write, false},
		{"admin app password no admin", annaRO, Tenant, AdminAccounts, false},

		{"user without grant: root", ben, oRoot, Read, false},
		{"user without grant: other folder", ben, oIn, Read, false},
		{"user grant on folder", ben, oMu, Write, true},
		{"user grant inherited downwards", ben, oK, Write, true},
		{"write implies read", ben, oK, Read, true},
		{"write does not imply share", ben, oK, Share, false},
		{"write does not imply manage", ben, oMu, Manage, false},
		{"grant does not reach upwards", ben, oM, Read, false},
		{"grant does not reach siblings", ben, oIn, Write, false},
		{"read grant before expiry", ben, oS, Read, true},
		{"read grant gives no write", ben, oS, Write, false},
		{"user no accounts", ben, Tenant, AdminAccounts, false},
		{"user no review", ben, Tenant, ReviewGrants, false},
		{"user no audit", ben, Tenant, ReadAudit, false},
		{"user no approval", ben, Tenant, ApproveGrant, false},
		{"user no sensitive marking", ben, oMu, MarkSensitive, false},
		{"pending grant gives nothing", ben, oIn, Read, false},
		{"approved sensitive grant", clara, oIn, Read, true},
		{"read-only app password reads by grant", benRO, oK, Read, true},
		{"read-only app password never writes", benRO, oK, Write, false},
		{"app password writes by grant", benApp, oK, Write, true},
		{"app password never shares", benApp, oK, Share, false},
		{"app password never manages", benApp, oMu, Manage, false},

		{"group grant", clara, oS, Read, true},
		{"group grant inherited", clara, oK, Read, true},
		{"group read gives no write", clara, oS, Write, false},
		{"group manage implies write", clara, oK, Write, true},
		{"group manage implies share", clara, oMu, Share, true},
		{"group manage", clara, oK, Manage, true},
		{"group manage not above", clara, oM, Manage, false},
		{"other group", stranger, oS, Read, false},

		{"auditor reads audit", dora, Tenant, ReadAudit, true},
		{"auditor reviews grants", dora, Tenant, ReviewGrants, true},
		{"auditor lists accounts", dora, Tenant, ReadAccounts, true},
		{"auditor no accounts admin", dora, Tenant, AdminAccounts, false},
		{"auditor no files", dora, oM, Read, false},
		{"auditor expired grant", dora, oRoot, Read, false},

		{"nobody", nobody, oRoot, Read, false},
		{"nobody admin", nobody, Tenant, ReadAudit, false},
		{"unknown action", anna, oRoot, Action("frobnicate"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := pol.Check(c.s, c.o, c.a)
			if (err == nil) != c.ok {
				t.Fatalf("Check(%s, %s, %s) = %v, want allowed %v", c.s.Name, c.o.Path, c.a, err, c.ok)
			}
			if err != nil && !errors.Is(err, ErrDenied) {
				t.Fatalf("Check error %v does not wrap ErrDenied", err)
			}
		})
	}

	// Expiry takes effect at the instant, in the same policy: no reload.
	now = t0.Add(time.Hour)
	if err := pol.Check(ben, oS, Read); err == nil {
		t.Fatal("read grant works after its expiry")
	}
	if err := pol.Check(ben, oK, Write); err != nil {
		t.Fatalf("grant without expiry stopped: %v", err)
	}
}

func TestSensitiveAndGranted(t *testing.T) {
	now := t0
	pol := NewPolicy(func() time.Time { return now }, []Grant{
		grant(nMu, KindUser, "ben", PermRead, time.Time{}),
		grant(nS, KindUser, "ben", PermRead, t0.Add(time.Minute)),
	}, []NodeID{nM})
	for _, c := range []struct {
		o    Object
		want bool
	}{{oRoot, false}, {oM, true}, {oMu, true}, {oK, true}, {oIn, false}} {
		if got := pol.Sensitive(c.o); got != c.want {
			t.Errorf("Sensitive(%s) = %v, want %v", c.o.Path, got, c.want)
		}
	}
	if g := pol.Granted(ben); len(g) != 2 {
		t.Fatalf("Granted(ben) = %v", g)
	}
	now = t0.Add(time.Minute)
	if g := pol.Granted(ben); len(g) != 1 || g[0] != nMu {
		t.Fatalf("Granted(ben) after expiry = %v", g)
	}
	if g := pol.Granted(clara); len(g) != 0 {
		t.Fatalf("Granted(clara) = %v", g)
	}
}

func TestPerm(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Perm
		str  string
		bad  bool
	}{
		{in: "read", want: PermRead, str: "read"},
		{in: "read,write", want: PermRead | PermWrite, str: "read,write"},
		{in: " write , share ", want: PermWrite | PermShare, str: "write,share"},
		{in: "manage", want: PermManage, str: "manage"},
		{in: "read,write,share,manage", want: permAll, str: "read,write,share,manage"},
		{in: "", bad: true},
		{in: "read,", bad: true},
		{in: "admin", bad: true},
		{in: "READ", bad: true},
	} {
		got, err := ParsePerm(c.in)
		if c.bad {
			if !errors.Is(err, ErrBadPerm) {
				t.Errorf("ParsePerm(%q) = %v, %v; want ErrBadPerm", c.in, got, err)
			}
			continue
		}
		if err != nil || got != c.want || got.String() != c.str {
			t.Errorf("ParsePerm(%q) = %v (%q), %v; want %v (%q)", c.in, got, got, err, c.want, c.str)
		}
	}
	if !PermManage.Has(PermRead|PermWrite|PermShare) || PermWrite.Has(PermShare) || !PermShare.Has(PermRead) {
		t.Error("implications wrong")
	}
}

func TestParseExpiry(t *testing.T) {
	now := t0
	for _, c := range []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "", want: time.Time{}},
		{in: "30d", want: now.Add(30 * 24 * time.Hour)},
		{in: "12h", want: now.Add(12 * time.Hour)},
		{in: "2w", want: now.Add(14 * 24 * time.Hour)},
		{in: "2027-01-31", want: time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)},
		{in: "2027-01-31T12:00:00+01:00", want: time.Date(2027, 1, 31, 11, 0, 0, 0, time.UTC)},
		{in: "2026-10-31", bad: true}, // past
		{in: "0d", bad: true},
		{in: "-3d", bad: true},
		{in: "+3d", bad: true},
		{in: "3y", bad: true},
		{in: "99999d", bad: true},
		{in: "d", bad: true},
		{in: "tomorrow", bad: true},
	} {
		got, err := ParseExpiry(c.in, now)
		if c.bad {
			if !errors.Is(err, ErrBadExpiry) {
				t.Errorf("ParseExpiry(%q) = %v, %v; want ErrBadExpiry", c.in, got, err)
			}
			continue
		}
		if err != nil || !got.Equal(c.want) {
			t.Errorf("ParseExpiry(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestParseGrantee(t *testing.T) {
	for _, c := range []struct{ in, kind, name string }{
		{"user:ben", KindUser, "ben"},
		{"group:sekretariat", KindGroup, "sekretariat"},
		{"user: ben ", KindUser, "ben"},
		{"ben", "", ""},
		{"role:admin", "", ""},
		{"user:", "", ""},
	} {
		k, n, err := ParseGrantee(c.in)
		if k != c.kind || n != c.name || (err == nil) != (c.kind != "") {
			t.Errorf("ParseGrantee(%q) = %q, %q, %v", c.in, k, n, err)
		}
	}
}

func FuzzParsePerm(f *testing.F) {
	for _, s := range []string{"read", "read,write", "manage", "", ",", "read,,write"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePerm(s)
		if err != nil {
			return
		}
		// Round trip: what parses prints as something that parses to it.
		q, err := ParsePerm(p.String())
		if err != nil || q != p || p == 0 || p&^permAll != 0 {
			t.Fatalf("ParsePerm(%q) = %v; round trip %v, %v", s, p, q, err)
		}
	})
}

func FuzzParseExpiry(f *testing.F) {
	for _, s := range []string{"30d", "2027-01-31", "12h", "", "2027-01-31T00:00:00Z", "9999999999d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseExpiry(s, t0)
		if err == nil && !got.IsZero() && !got.After(t0) {
			t.Fatalf("ParseExpiry(%q) = %v, not after now", s, got)
		}
	})
}

func FuzzParseGrantee(f *testing.F) {
	for _, s := range []string{"user:ben", "group:x", ":", "user:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, n, err := ParseGrantee(s)
		if err == nil && (k != KindUser && k != KindGroup || n == "") {
			t.Fatalf("ParseGrantee(%q) = %q, %q", s, k, n)
		}
	})
}

func FuzzParseNodeID(f *testing.F) {
	for _, s := range []string{"00000000000000000000000000000000", nMu.String(), "xyz", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseNodeID(s)
		if err == nil {
			// Round trip up to case.
			if back, err := ParseNodeID(id.String()); err != nil || back != id {
				t.Fatalf("ParseNodeID(%q) = %v; round trip %v, %v", s, id, back, err)
			}
		}
		// A grant ID is accepted only in the one form newGrantID makes.
		if checkGrantID(s) == nil && (len(s) != 16 || strings.ToLower(s) != s) {
			t.Fatalf("checkGrantID(%q) accepted", s)
		}
	})
}

// BenchmarkCheck: one check of a user with a group against 1,000 grants,
// 8 folders deep.
func BenchmarkCheck(b *testing.B) {
	var grants []Grant
	for i := range 1000 {
		grants = append(grants, grant(NodeID{byte(i), byte(i >> 8), 1}, KindUser, "u"+string(rune('a'+i%26)), PermRead, time.Time{}))
	}
	grants = append(grants, grant(NodeID{7}, KindGroup, "g-sekretariat", PermWrite, time.Time{}))
	pol := NewPolicy(nil, grants, nil)
	o := Object{Nodes: []NodeID{{1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}}, Path: "/a/b/c/d/e/f/g/h"}
	b.ResetTimer()
	for b.Loop() {
		if err := pol.Check(clara, o, Write); err != nil {
			b.Fatal(err)
		}
	}
}

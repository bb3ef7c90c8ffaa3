package daemon

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tresor/appliance/api"
	"tresor/appliance/audit"
	"tresor/appliance/datadir"
	"tresor/appliance/setup"
)

// TestSocketReplaceOutlivesClient: `tresor pool replace` runs the rebuild
// as a job of the daemon, as the console does; the command follows its
// progress, and when it goes away (a dropped SSH session, Ctrl-C) the
// rebuild goes on to the end: the disk is rebuilt, remembered for the
// next start and logged. Before, the rebuild ran under the request's
// context and stopped half way with the connection.
func TestSocketReplaceOutlivesClient(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	// Enough data that the rebuild lasts beyond the client's going away;
	// random, so that it is stored uncompressed.
	rnd := rand.NewChaCha8([32]byte{7})
	for i := range 6 {
		data := make([]byte, 8<<20)
		_, _ = rnd.Read(data)
		ta.writeFile(aAdmin, fmt.Sprintf("/scan-%d.pdf", i), data)
	}
	disks := ta.st.pool.Status().Disks
	// The data directory with the pool file the new disk goes into.
	dir, err := datadir.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pf := &setup.PoolFile{ID: ta.st.pool.ID().String(), Created: time.Now()}
	for _, d := range disks {
		pf.Disks = append(pf.Disks, d.Path)
	}
	if err := setup.WritePoolFile(dir, pf); err != nil {
		t.Fatal(err)
	}
	ta.a.dir = dir
	if err := os.RemoveAll(disks[1].Path); err != nil {
		t.Fatal(err)
	}
	newDisk := filepath.Join(t.TempDir(), "disk5")
	if err := os.Mkdir(newDisk, 0o700); err != nil {
		t.Fatal(err)
	}

	ctx, hangUp := context.WithCancel(context.Background())
	var first api.Progress
	err = ta.c.Stream(ctx, "POST", "/v1/pool/replace", ReplaceRequest{Old: "1", New: newDisk}, nil, func(p api.Progress) {
		if first.Message == "" {
			first = p
		}
		hangUp() // the SSH session drops as soon as the rebuild runs
	})
	if err == nil {
		t.Fatal("the call returned a result: the rebuild ended before the client went away, the test shows nothing")
	}
	if !strings.Contains(first.Message, "job ") {
		t.Errorf("first progress %q does not name the job to follow", first.Message)
	}
	job, ok := ta.a.jobs().running(JobResilver)
	if !ok {
		var last JobInfo
		for _, j := range ta.a.ConsoleJobs() {
			if j.Kind == JobResilver {
				last = j
				break
			}
		}
		t.Fatalf("no rebuild running after the client went away; it ended as %+v", last)
	}
	if j := waitJob(t, ta.a, job.ID); j.State != JobDone {
		t.Fatalf("rebuild ended as %+v, want done", j)
	}
	st := ta.st.pool.Status()
	if st.Health != "ok" || st.Disks[1].Path != newDisk {
		t.Fatalf("after the rebuild: health %s, disk 1 %s; want ok on %s", st.Health, st.Disks[1].Path, newDisk)
	}
	pf, err = setup.ReadPoolFile(ta.a.dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(pf.Disks, " "), newDisk) {
		t.Fatalf("pool file lists %v, not the new disk", pf.Disks)
	}
	log, err := ta.a.ApplianceLog(20)
	if err != nil {
		t.Fatal(err)
	}
	var done bool
	for _, e := range log {
		done = done || e.Action == audit.ActionPoolChange && e.Details["op"] == "replace" && e.Details["phase"] == "done" &&
			e.Outcome == audit.OutcomeSuccess
	}
	if !done {
		t.Fatalf("no successful end of the replacement in the appliance log: %+v", log)
	}
}

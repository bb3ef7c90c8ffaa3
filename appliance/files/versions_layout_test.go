package files

import (
	"bytes"
	"encoding/json"
	"testing"

	"tresor/storage"
)

// TestVersionsApart: old versions are stored apart from the node record
// (listings read no versions); a record written before, with its versions
// inline, still reads whole, and its next change moves them apart.
func TestVersionsApart(t *testing.T) {
	e := newEnv(t, 0)
	for i := range 3 {
		e.write("/akte.pdf", []byte{byte(i)})
	}
	info, err := e.tree.Stat(ctx, "/akte.pdf")
	if err != nil {
		t.Fatal(err)
	}
	id := info.ID
	raw := func() (rec, vers []byte) {
		e.tn.View(func(tx *storage.Tx) error {
			rec = bytes.Clone(tx.Bucket(bucketNodes...).Get(id[:]))
			if b := tx.Bucket(bucketVersions...); b != nil {
				vers = bytes.Clone(b.Get(id[:]))
			}
			return nil
		})
		return
	}
	rec, vers := raw()
	if bytes.Contains(rec, []byte(`"versions"`)) || vers == nil {
		t.Fatalf("record %s carries the versions, apart: %s", rec, vers)
	}
	// Turn it into a record of before: versions inline, none apart.
	var n node
	json.Unmarshal(rec, &n)
	json.Unmarshal(vers, &n.Versions)
	legacy, _ := json.Marshal(&n)
	if err := e.tn.Update(ctx, func(tx *storage.Tx) error {
		if err := tx.Bucket(bucketNodes...).Put(id[:], legacy); err != nil {
			return err
		}
		return tx.Bucket(bucketVersions...).Delete(id[:])
	}); err != nil {
		t.Fatal(err)
	}
	if vs, err := e.tree.Versions(ctx, "/akte.pdf"); err != nil || len(vs) != 3 {
		t.Fatalf("Versions of an old record = %d, %v; want 3", len(vs), err)
	}
	if l, err := e.tree.List(ctx, "/"); err != nil || len(l) != 1 || l[0].Size != 1 {
		t.Fatalf("List = %+v, %v", l, err)
	}
	e.write("/akte.pdf", []byte{3})
	rec, vers = raw()
	var apart []version
	json.Unmarshal(vers, &apart)
	if bytes.Contains(rec, []byte(`"versions"`)) || len(apart) != 3 {
		t.Fatalf("after a write: record %s, %d versions apart; want none inline, 3 apart", rec, len(apart))
	}
	if got := e.read("/akte.pdf"); !bytes.Equal(got, []byte{3}) {
		t.Fatalf("reads %v", got)
	}
	// Purging the file from the trash removes its versions too.
	if _, err := e.tree.Delete(ctx, "/akte.pdf"); err != nil {
		t.Fatal(err)
	}
	ret := e.tn.Settings().Retention
	ret.TrashDays = 0
	e.withRetention(ret)
	if rep := e.purge(); rep.Trash != 1 || rep.Objects != 4 {
		t.Fatalf("Purge = %+v; want the file and its 4 objects", rep)
	}
	if rec, vers := raw(); rec != nil || vers != nil {
		t.Fatalf("after purge: record %s, versions %s", rec, vers)
	}
}

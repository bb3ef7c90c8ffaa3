package meta

import "testing"

func TestSmoke(t *testing.T) {
	paths := copyPaths(t, 3)
	db := mustOpen(t, paths, Options{})
	writeFixture(t, db)
	checkFixture(t, db)
	assertAllOK(t, db)
	if g := db.Generation(); g != 6 {
		t.Errorf("Generation() = %d, want 6", g)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	assertCopiesEqual(t, paths)
	db = mustOpen(t, paths, Options{})
	checkFixture(t, db)
	assertAllOK(t, db)
}

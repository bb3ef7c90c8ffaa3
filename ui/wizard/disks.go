package wizard

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"tresor/storage"
)

// Disk is a disk the pool can be made of.
type Disk struct {
	Path string
	Size uint64 // bytes of the file system it is on
	Free uint64 // bytes available
	Used bool   // not empty: carries data already

	// Block devices of a real box (BlockDisks).
	Block      bool
	Model      string
	Serial     string
	Rotational bool
	Smart      string // SmartPassed, SmartFailed or SmartUnknown
}

// DevDisks lists the subdirectories of dir as disks (development and tests:
// `make run` sets TRESOR_DEV_DISKS to var/disks with 1..6 in it). A real box
// lists block devices instead (BlockDisks).
func DevDisks(dir string) ([]Disk, error) {
	if dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list development disks: %w", err)
	}
	var disks []Disk
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		d := Disk{Path: p}
		var st syscall.Statfs_t
		if err := syscall.Statfs(p, &st); err == nil {
			d.Size = st.Blocks * uint64(st.Bsize)
			d.Free = st.Bavail * uint64(st.Bsize)
		}
		inside, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("disk %s: %w", p, err)
		}
		for _, f := range inside {
			if f.Name() != "lost+found" {
				d.Used = true
				break
			}
		}
		disks = append(disks, d)
	}
	sort.Slice(disks, func(i, j int) bool { return disks[i].Path < disks[j].Path })
	return disks, nil
}

// proposal is the pool layout proposed for the chosen disks.
type proposal struct {
	Layout storage.Layout
	Usable uint64 // k × the smallest disk's free space
}

func propose(chosen []Disk) (proposal, bool) {
	if len(chosen) == 0 {
		return proposal{}, false
	}
	l := storage.DefaultLayout(len(chosen))
	smallest := chosen[0].Free
	for _, d := range chosen[1:] {
		smallest = min(smallest, d.Free)
	}
	// Each chunk puts one shard on every disk, so the smallest disk bounds
	// the pool: k shards of user data per stripe.
	return proposal{Layout: l, Usable: uint64(l.K) * smallest}, true
}

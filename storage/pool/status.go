package pool

import (
	"errors"

	"tresor/storage/journal"
	"tresor/storage/meta"
)

// DiskState is the condition of one disk of the pool.
type DiskState string

const (
	// DiskOnline: present and answering.
	DiskOnline DiskState = "online"
	// DiskDegraded: present, but errors were seen on it or shard files on
	// it wait to be healed.
	DiskDegraded DiskState = "degraded"
	// DiskOffline: not found (at open) for its index.
	DiskOffline DiskState = "offline"
	// DiskFailed: present but does not answer (its label cannot be read).
	DiskFailed DiskState = "failed"
)

// Health is the condition of the pool as a whole.
type Health string

const (
	// HealthOK: every disk online, nothing to heal.
	HealthOK Health = "ok"
	// HealthDegraded: redundancy reduced, but another disk may still fail.
	HealthDegraded Health = "degraded"
	// HealthAtRisk: m disks are unavailable: one more failure loses data.
	HealthAtRisk Health = "at-risk"
	// HealthFailed: more than m disks are unavailable: data is unreadable.
	HealthFailed Health = "failed"
)

// DiskStatus describes one disk.
type DiskStatus struct {
	Index          int
	Path           string
	ID             ID
	State          DiskState
	ReadErrors     int64
	WriteErrors    int64
	ChecksumErrors int64
	// Used, Free and Total are of the file system holding the disk.
	Used, Free, Total uint64
	// MetaCopy reports whether the disk holds metadata copies.
	MetaCopy bool
}

// Status describes the pool.
type Status struct {
	Pool   ID
	Layout Layout
	Locked bool
	Health Health
	Disks  []DiskStatus
	// Capacity and Free estimate the usable content bytes: what fits on
	// the fullest disk, times the disk count, times k/(k+m).
	Capacity, Free uint64
	// PendingHeal counts objects with shard files waiting to be rewritten.
	PendingHeal int
	// Meta is the state of the system database copies (nil while locked).
	Meta []meta.CopyStatus
	// Journals lists the audit journals (storage/journal) of open
	// namespaces that left a copy out after a write failure: until a
	// scrub makes it anew, acknowledged entries have one copy fewer.
	Journals []JournalStatus
}

// JournalStatus is the condition of one namespace's audit journal.
type JournalStatus struct {
	Namespace string
	// Copies is how many copies the journal has, Written how many take
	// appends.
	Copies, Written int
	Failed          []journal.FailedCopy
	// Pending is the bytes of records not yet moved into the log
	// database.
	Pending int64
}

// Status probes every disk and returns the pool's condition.
func (p *Pool) Status() Status {
	st := Status{Pool: p.id, Layout: p.layout, Locked: p.Locked()}
	pending := map[int]bool{}
	nPending := 0
	if !st.Locked {
		list, _ := p.Namespaces()
		for _, info := range list {
			if ns, err := p.Namespace(info.Name); err == nil {
				if js, ok := ns.journalStatus(); ok && len(js.Failed) > 0 {
					st.Journals = append(st.Journals, js)
				}
				ns.forEachHeal(func(id ID, mask uint64) {
					nPending++
					for i := range p.width {
						if mask&(1<<i) != 0 {
							pending[i] = true
						}
					}
				})
			}
		}
		if sys, err := p.sysDB(); err == nil {
			st.Meta = sys.Copies()
		}
	}
	st.PendingHeal = max(nPending, p.heal.pending())
	unavailable := 0
	var minFree, minTotal uint64
	first := true
	for _, m := range p.snapshotMembers() {
		ds := DiskStatus{Index: m.index, Path: m.path, MetaCopy: m.index <= p.layout.M,
			ReadErrors: m.reads.Load(), WriteErrors: m.writes.Load(), ChecksumErrors: m.checksums.Load()}
		if m.label != nil {
			ds.ID = m.label.Disk
		}
		switch {
		case !m.online():
			ds.State = DiskOffline
		default:
			// The label must still be there and still be this disk's:
			// a disk whose content vanished or was swapped is failed.
			b, err := m.d.ReadFile(fileLabel)
			if err == nil {
				var l *label
				if l, err = parseLabel(b); err == nil && (l.Pool != p.id || l.Index != m.index) {
					err = errors.New("label changed")
				}
			}
			total, free, uerr := m.d.Usage()
			switch {
			case err != nil || uerr != nil:
				ds.State = DiskFailed
			case ds.ReadErrors+ds.WriteErrors+ds.ChecksumErrors > 0 || pending[m.index]:
				ds.State = DiskDegraded
			default:
				ds.State = DiskOnline
			}
			if uerr == nil {
				ds.Total, ds.Free, ds.Used = total, free, total-free
				if first || free < minFree {
					minFree = free
				}
				if first || total < minTotal {
					minTotal = total
				}
				first = false
			}
		}
		if ds.State == DiskOffline || ds.State == DiskFailed {
			unavailable++
		}
		st.Disks = append(st.Disks, ds)
	}
	k, w := uint64(p.layout.K), uint64(p.layout.Width())
	st.Capacity = minTotal * uint64(p.width) / w * k
	st.Free = minFree * uint64(p.width) / w * k
	switch {
	case unavailable > p.layout.M:
		st.Health = HealthFailed
	case unavailable == p.layout.M && unavailable > 0:
		st.Health = HealthAtRisk
	case unavailable > 0 || st.PendingHeal > 0 || len(st.Journals) > 0:
		st.Health = HealthDegraded
	default:
		st.Health = HealthOK
	}
	return st
}

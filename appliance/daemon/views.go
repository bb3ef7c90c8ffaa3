package daemon

import (
	"fmt"

	"tresor/storage"
)

// The control socket speaks JSON with stable snake_case names; these views
// keep the storage engine's Go types (and their error values, which do not
// survive JSON) out of the protocol.

// PoolView is the pool's condition as `tresor pool status` shows it.
type PoolView struct {
	ID          string     `json:"id"`
	Layout      string     `json:"layout"`
	Locked      bool       `json:"locked"`
	Health      string     `json:"health"`
	Capacity    uint64     `json:"capacity_bytes"`
	Free        uint64     `json:"free_bytes"`
	PendingHeal int        `json:"pending_heal"`
	Disks       []DiskView `json:"disks"`
	Meta        []CopyView `json:"metadata_copies,omitempty"`
	// Journals: audit journals with a copy left out after a write error
	// (a scrub makes it anew).
	Journals []JournalView `json:"audit_journals_degraded,omitempty"`
}

// JournalView is a tenant's audit journal that lost a copy.
type JournalView struct {
	Tenant       string            `json:"tenant"`
	Copies       int               `json:"copies"`
	Written      int               `json:"written_copies"`
	Failed       []JournalCopyView `json:"failed_copies"`
	PendingBytes int64             `json:"pending_bytes"`
}

// JournalCopyView is one journal copy left out.
type JournalCopyView struct {
	Index int    `json:"index"`
	Path  string `json:"path"`
	Error string `json:"error"`
}

// DiskView is one disk of the pool.
type DiskView struct {
	Index          int    `json:"index"`
	Path           string `json:"path"`
	ID             string `json:"id"`
	State          string `json:"state"`
	ReadErrors     int64  `json:"read_errors"`
	WriteErrors    int64  `json:"write_errors"`
	ChecksumErrors int64  `json:"checksum_errors"`
	Used           uint64 `json:"used_bytes"`
	Free           uint64 `json:"free_bytes"`
	Total          uint64 `json:"total_bytes"`
	MetaCopy       bool   `json:"metadata_copy"`
}

// CopyView is one copy of a metadata database.
type CopyView struct {
	Index      int    `json:"index"`
	Path       string `json:"path"`
	State      string `json:"state"`
	Primary    bool   `json:"primary"`
	Generation uint64 `json:"generation"`
	LastError  string `json:"last_error,omitempty"`
}

func poolView(s storage.PoolStatus) PoolView {
	v := PoolView{
		ID: s.Pool.String(), Layout: s.Layout.String(), Locked: s.Locked, Health: string(s.Health),
		Capacity: s.Capacity, Free: s.Free, PendingHeal: s.PendingHeal,
	}
	for _, d := range s.Disks {
		v.Disks = append(v.Disks, DiskView{
			Index: d.Index, Path: d.Path, ID: d.ID.String(), State: string(d.State),
			ReadErrors: d.ReadErrors, WriteErrors: d.WriteErrors, ChecksumErrors: d.ChecksumErrors,
			Used: d.Used, Free: d.Free, Total: d.Total, MetaCopy: d.MetaCopy,
		})
	}
	v.Meta = copyViews(s.Meta)
	for _, j := range s.Journals {
		jv := JournalView{Tenant: j.Namespace, Copies: j.Copies, Written: j.Written, PendingBytes: j.Pending}
		for _, f := range j.Failed {
			jv.Failed = append(jv.Failed, JournalCopyView{Index: f.Index, Path: f.Path, Error: fmt.Sprint(f.Err)})
		}
		v.Journals = append(v.Journals, jv)
	}
	return v
}

func copyViews(cs []storage.CopyStatus) []CopyView {
	var out []CopyView
	for _, c := range cs {
		cv := CopyView{Index: c.Index, Path: c.Path, State: c.State.String(), Primary: c.Primary, Generation: c.Generation}
		if c.LastError != nil {
			cv.LastError = c.LastError.Error()
		}
		out = append(out, cv)
	}
	return out
}

// ScrubView is what a scrub found and did.
type ScrubView struct {
	Namespaces int                   `json:"namespaces"`
	Objects    int64                 `json:"objects"`
	Bytes      int64                 `json:"bytes_verified"`
	Damaged    int                   `json:"damaged_shard_files"`
	Healed     int                   `json:"healed_shard_files"`
	Unhealed   []string              `json:"unhealed_objects,omitempty"`
	Orphans    int                   `json:"orphans_removed"`
	TempFiles  int                   `json:"temp_files_removed"`
	Errors     []string              `json:"errors,omitempty"`
	Seconds    float64               `json:"seconds"`
	Meta       map[string][]CopyView `json:"metadata_copies,omitempty"`
	// JournalsHealed counts audit journal copies made anew.
	JournalsHealed int `json:"audit_journal_copies_healed"`
}

func scrubView(r storage.ScrubReport) ScrubView {
	v := ScrubView{
		Namespaces: r.Namespaces, Objects: r.Objects, Bytes: r.Bytes, Damaged: r.Damaged, Healed: r.Healed,
		Unhealed: r.Unhealed, Orphans: r.Orphans, TempFiles: r.TempFiles, Errors: r.Errors, Seconds: r.Duration.Seconds(),
		Meta: map[string][]CopyView{}, JournalsHealed: r.JournalCopiesHealed,
	}
	for name, cs := range r.MetaCopies {
		v.Meta[name] = copyViews(cs)
	}
	return v
}

package audit

import (
	"slices"
	"strings"
	"time"
)

// Filter selects entries for export and viewing. Zero fields select
// everything.
type Filter struct {
	From       time.Time `json:"from,omitzero"`         // entries at or after From
	To         time.Time `json:"to,omitzero"`           // entries before To
	Actions    []string  `json:"actions,omitempty"`     // any of these actions
	Actor      string    `json:"actor,omitempty"`       // actor name or ID
	Tenant     string    `json:"tenant,omitempty"`      // entries concerning this tenant
	PathPrefix string    `json:"path_prefix,omitempty"` // the object path or anything below it
}

// IsZero reports whether f selects every entry.
func (f Filter) IsZero() bool {
	return f.From.IsZero() && f.To.IsZero() && len(f.Actions) == 0 && f.Actor == "" && f.Tenant == "" && f.PathPrefix == ""
}

func (f Filter) match(e Entry) bool {
	switch {
	case !f.From.IsZero() && e.Time.Before(f.From):
		return false
	case !f.To.IsZero() && !e.Time.Before(f.To):
		return false
	case len(f.Actions) > 0 && !slices.Contains(f.Actions, e.Action):
		return false
	case f.Actor != "" && e.Actor.Name != f.Actor && e.Actor.ID != f.Actor:
		return false
	case f.Tenant != "" && e.Tenant != f.Tenant:
		return false
	case f.PathPrefix != "" && !underPath(e.Object.Path, f.PathPrefix):
		return false
	}
	return true
}

// underPath reports whether p is prefix or below it: "/a" covers "/a" and
// "/a/b" but not "/ab".
func underPath(p, prefix string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	return prefix == "" || p == prefix || strings.HasPrefix(p, prefix+"/")
}

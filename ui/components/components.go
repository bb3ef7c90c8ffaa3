// Package components holds the building blocks pages are made of: form
// fields with inline errors, flash messages, status badges, buttons, the
// steps indicator and empty states. They carry no text of their own; callers
// pass translated strings.
package components

// Field describes a labelled input with an optional hint and inline error.
type Field struct {
	ID, Name, Label, Hint, Error string
	Type                         string // "text" (default) or "password"
	Value                        string
	Autocomplete                 string
	Required                     bool
}

func (f Field) inputType() string {
	if f.Type == "" {
		return "text"
	}
	return f.Type
}

func (f Field) describedBy() string {
	var s string
	if f.Hint != "" {
		s = f.ID + "-hint"
	}
	if f.Error != "" {
		if s != "" {
			s += " "
		}
		s += f.ID + "-error"
	}
	return s
}

// FlashKind is the tone of a flash message.
type FlashKind string

// Flash kinds.
const (
	FlashError   FlashKind = "error"
	FlashInfo    FlashKind = "info"
	FlashSuccess FlashKind = "success"
	FlashWarning FlashKind = "warning"
)

// BadgeKind is the tone of a status badge.
type BadgeKind string

// Badge kinds.
const (
	BadgeOK    BadgeKind = "ok"
	BadgeWarn  BadgeKind = "warn"
	BadgeErr   BadgeKind = "err"
	BadgeMuted BadgeKind = "muted"
)

// Step is one entry of the steps indicator.
type Step struct {
	Label string
	Href  string // empty when the step cannot be visited yet
}

func stepClass(i, current int) string {
	switch {
	case i < current:
		return "done"
	case i == current:
		return "current"
	}
	return "todo"
}

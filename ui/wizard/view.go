package wizard

import (
	"net/http"
	"slices"
	"time"

	"tresor/appliance/setup"
	"tresor/ui/components"
	"tresor/ui/i18n"
	"tresor/ui/layout"
)

type flashMsg struct {
	Kind  components.FlashKind
	Title string
	Text  string
}

const flashErr = components.FlashError

// view is everything a wizard page shows.
type view struct {
	L       i18n.Lang
	Path    string
	Step    int
	session string
	CSRF    string
	Flashes []flashMsg
	Errors  map[string]string

	Prog       progress
	Disks      []Disk
	DisksErr   error
	DevDiskDir string
	Proposal   *proposal

	Result   *setup.Result
	At       time.Time
	Finished bool
	Next     string // where the continue page moves on to
}

func (v *view) flash(kind components.FlashKind, text string) {
	title := v.L.T("app.notice")
	if kind == components.FlashError {
		title = v.L.T("app.error")
	}
	v.Flashes = append(v.Flashes, flashMsg{kind, title, text})
}

func (h *Handler) newView(r *http.Request, session string, step int) *view {
	h.mu.Lock()
	v := &view{
		L: i18n.FromRequest(r), Path: r.URL.Path, Step: step, session: session,
		CSRF: h.csrfToken(session), Errors: map[string]string{},
		Prog: h.prog, DevDiskDir: h.opt.DevDiskDir,
	}
	v.Prog.Disks = slices.Clone(h.prog.Disks)
	resumed := h.resumed && h.prog.password == ""
	if h.done != nil && h.done.session == session {
		res := h.done.result
		v.Result, v.At = &res, h.done.at
	}
	h.mu.Unlock()
	if resumed && step <= stepSummary {
		v.flash(components.FlashInfo, v.L.T("setup.resumed"))
	}
	if step == stepDisks || step == stepSummary {
		v.Disks, v.DisksErr = h.opt.Disks()
		if !v.Prog.DisksSet {
			// Until the admin chooses, propose every free disk.
			v.Prog.Disks = nil
			for _, d := range v.Disks {
				if !d.Used {
					v.Prog.Disks = append(v.Prog.Disks, d.Path)
				}
			}
		}
		v.propose()
	}
	return v
}

func (v *view) propose() {
	var chosen []Disk
	for _, d := range v.Disks {
		if slices.Contains(v.Prog.Disks, d.Path) {
			chosen = append(chosen, d)
		}
	}
	if p, ok := propose(chosen); ok {
		v.Proposal = &p
	} else {
		v.Proposal = nil
	}
}

// withInput puts what the admin just sent back into the form (never the
// passwords).
func (h *Handler) withInput(v *view, r *http.Request) *view {
	switch v.Step {
	case stepAdmin:
		v.Prog.Admin = r.PostFormValue("admin")
	case stepDisks:
		v.Prog.Disks, v.Prog.DisksSet = r.PostForm["disk"], true
		v.propose()
	}
	if len(v.Errors) > 0 {
		v.flash(flashErr, v.L.T("err.form"))
	}
	return v
}

func (v *view) chosen(path string) bool { return slices.Contains(v.Prog.Disks, path) }

func (v *view) layout() layout.Page {
	title := v.L.T("setup.title")
	if v.Step >= 0 {
		title = v.L.T("step."+stepNames[v.Step]) + " – " + title
	}
	return layout.Page{Lang: v.L, Title: title, Path: v.Path, Refresh: v.Next,
		Nav: []layout.NavItem{{Href: Path, Label: v.L.T("nav.setup"), Current: true}}}
}

// steps is the indicator: steps up to the furthest reached are links until
// setup ran.
func (v *view) steps() []components.Step {
	var s []components.Step
	for i, n := range stepNames {
		st := components.Step{Label: v.L.T("step." + n)}
		if i <= v.Prog.Reached && v.Result == nil && !v.Finished && i != stepRecovery {
			st.Href = Path + "/" + n
		}
		s = append(s, st)
	}
	return s
}

func (v *view) field(id, typ, value, autocomplete, hint string) components.Field {
	return components.Field{ID: id, Name: id, Type: typ, Value: value, Autocomplete: autocomplete, Required: true,
		Label: v.L.T("setup.admin." + map[string]string{"admin": "name", "password": "password", "password2": "confirm"}[id]),
		Hint:  hint, Error: v.Errors[id]}
}

func (v *view) yesNo(b bool) string {
	if b {
		return v.L.T("app.yes")
	}
	return v.L.T("app.no")
}

func (v *view) minPassword() int { return setup.MinPasswordLen }

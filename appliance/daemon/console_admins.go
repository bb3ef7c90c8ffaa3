package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"tresor/appliance/api"
	"tresor/appliance/audit"
	"tresor/appliance/password"
	"tresor/appliance/setup"
)

// The appliance admins: the console's /admin/admins page and `tresor
// admin list|add|remove|reset-2fa` on the control socket. Rules: never
// remove the last admin, never yourself; never reset your own second
// factor (the console signs you in with it); a removal needs the name
// typed again. Every change is logged in the appliance audit log as the
// admin who made it.

// ConsoleError is a refusal the console shows in the admin's language:
// Code names the message ("admin.last"), Args fill it in. Error is the
// English text for the control socket and the logs.
type ConsoleError struct {
	Code   string
	Args   []any
	Msg    string
	Status int
}

func (e *ConsoleError) Error() string { return e.Msg }

// MsgCode is the message's code; ui pages translate "console.err."+code.
func (e *ConsoleError) MsgCode() string { return e.Code }

// MsgArgs fill the translated message.
func (e *ConsoleError) MsgArgs() []any { return e.Args }

func refuse(status int, code, msg string, args ...any) *ConsoleError {
	return &ConsoleError{Code: code, Args: args, Msg: fmt.Sprintf(msg, args...), Status: status}
}

// apiErr turns a ConsoleError into the control socket's error.
func apiErr(err error) error {
	var ce *ConsoleError
	if errors.As(err, &ce) {
		return api.Errorf(ce.Status, "%s", ce.Msg)
	}
	return err
}

// AdminView is an appliance admin as the console and the CLI list it.
type AdminView struct {
	Name      string    `json:"name"`
	TwoFactor bool      `json:"two_factor"`
	Created   time.Time `json:"created,omitzero"`
	// LastSignIn is the last successful console sign-in (from the
	// appliance audit log; zero when none is logged).
	LastSignIn   time.Time `json:"last_sign_in,omitzero"`
	LastSignInAt string    `json:"last_sign_in_from,omitempty"`
}

// AdminList lists the appliance admins.
func (a *App) AdminList() ([]AdminView, error) {
	st, err := a.running()
	if err != nil {
		return nil, err
	}
	auth, err := a.ConsoleAuth()
	if err != nil {
		return nil, err
	}
	admins, err := setup.ListAdmins(st.pool)
	if err != nil {
		return nil, err
	}
	type last struct {
		t    time.Time
		from string
	}
	seen := map[string]last{}
	err = st.audit.Entries(audit.Filter{Actions: []string{audit.ActionLogin}}, func(e audit.Entry) error {
		if e.Actor.Kind == audit.ActorApplianceAdmin && e.Outcome == audit.OutcomeSuccess {
			seen[e.Actor.Name] = last{e.Time, e.Actor.Addr}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]AdminView, 0, len(admins))
	for _, ad := range admins {
		on, err := auth.Enrolled(ad)
		if err != nil {
			return nil, err
		}
		l := seen[ad.Name]
		out = append(out, AdminView{Name: ad.Name, TwoFactor: on, Created: ad.Created, LastSignIn: l.t, LastSignInAt: l.from})
	}
	return out, nil
}

func adminObject(name string) audit.Object { return audit.Object{ID: "admin:" + name} }

// AdminAdd makes an appliance admin with an initial password; the new
// admin enrols a second factor at the first console sign-in.
func (a *App) AdminAdd(ctx context.Context, by audit.Actor, name, pw string) (AdminView, error) {
	st, err := a.running()
	if err != nil {
		return AdminView{}, err
	}
	if !setup.ValidAdminName(name) {
		return AdminView{}, refuse(http.StatusBadRequest, "admin.name-invalid",
			"admin name %q: use 1-64 lower-case letters, digits, '.', '_' or '-', starting with a letter", name)
	}
	if len([]rune(pw)) < setup.MinPasswordLen {
		return AdminView{}, refuse(http.StatusBadRequest, "admin.password-short", "the initial password needs at least %d characters", setup.MinPasswordLen)
	}
	hash, err := password.Hash([]byte(pw), a.adminParams())
	if err != nil {
		return AdminView{}, err
	}
	ad := setup.Admin{Name: name, PasswordHash: hash, Created: a.now().UTC()}
	if err := setup.AddAdmin(ctx, st.pool, ad); err != nil {
		if errors.Is(err, setup.ErrAdminExists) {
			return AdminView{}, refuse(http.StatusConflict, "admin.exists", "an appliance admin named %s exists already", name)
		}
		return AdminView{}, err
	}
	if _, err := st.audit.Append(ctx, audit.Entry{Actor: by, Action: audit.ActionUserCreate, Object: adminObject(name),
		Outcome: audit.OutcomeSuccess, Details: map[string]string{"account": "appliance admin", "second_factor": "enrolment at first sign-in"}}); err != nil {
		return AdminView{}, fmt.Errorf("audit log: %w", err)
	}
	a.log.Info("appliance admin added", "admin", name, "by", by.Name)
	return AdminView{Name: name, Created: ad.Created}, nil
}

// adminParams are the password hash parameters of new admins (setup's).
func (a *App) adminParams() password.Params { return password.Default }

// denied logs a refused change and returns err.
func (a *App) denied(ctx context.Context, st *storageState, e audit.Entry, err *ConsoleError) error {
	e.Outcome = audit.OutcomeDenied
	if e.Details == nil {
		e.Details = map[string]string{}
	}
	e.Details["reason"] = err.Msg
	if _, lerr := st.audit.Append(ctx, e); lerr != nil {
		return fmt.Errorf("audit log: %w", lerr)
	}
	return err
}

// AdminRemove removes an appliance admin and ends its sessions. confirm
// must repeat the name. Never the last admin, never the acting one.
func (a *App) AdminRemove(ctx context.Context, by audit.Actor, name, confirm string) error {
	st, err := a.running()
	if err != nil {
		return err
	}
	auth, err := a.ConsoleAuth()
	if err != nil {
		return err
	}
	if confirm != name {
		return refuse(http.StatusBadRequest, "admin.confirm", "type the admin's name %s to confirm the removal", name)
	}
	e := audit.Entry{Actor: by, Action: audit.ActionAdminAction, Object: adminObject(name), Details: map[string]string{"op": "admin.remove"}}
	if by.ID == "admin:"+name {
		return a.denied(ctx, st, e, refuse(http.StatusConflict, "admin.self", "you cannot remove yourself; another admin must do it"))
	}
	var last *ConsoleError
	err = setup.DeleteAdmin(ctx, st.pool, name, func(all []string) error {
		if len(all) <= 1 {
			last = refuse(http.StatusConflict, "admin.last", "%s is the last appliance admin; add another before removing it", name)
			return last
		}
		return nil
	})
	switch {
	case last != nil:
		return a.denied(ctx, st, e, last)
	case errors.Is(err, setup.ErrNoAdmin):
		return refuse(http.StatusNotFound, "admin.not-found", "no appliance admin named %s", name)
	case err != nil:
		return err
	}
	n, err := auth.EndSessions(ctx, name)
	if err != nil {
		return err
	}
	e.Outcome = audit.OutcomeSuccess
	e.Details["sessions_ended"] = fmt.Sprint(n)
	if _, err := st.audit.Append(ctx, e); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	a.log.Info("appliance admin removed", "admin", name, "by", by.Name)
	return nil
}

// AdminResetSecondFactor drops another admin's second factor (they enrol
// a new one at the next sign-in) and ends their sessions.
func (a *App) AdminResetSecondFactor(ctx context.Context, by audit.Actor, name string) error {
	st, err := a.running()
	if err != nil {
		return err
	}
	auth, err := a.ConsoleAuth()
	if err != nil {
		return err
	}
	e := audit.Entry{Actor: by, Action: audit.ActionTOTPChange, Object: adminObject(name), Details: map[string]string{"change": "reset"}}
	if by.ID == "admin:"+name {
		return a.denied(ctx, st, e, refuse(http.StatusConflict, "admin.reset-self", "you cannot reset your own second factor; another admin must do it"))
	}
	if err := auth.ResetSecondFactor(ctx, name); err != nil {
		if errors.Is(err, setup.ErrNoAdmin) {
			return refuse(http.StatusNotFound, "admin.not-found", "no appliance admin named %s", name)
		}
		return err
	}
	e.Outcome = audit.OutcomeSuccess
	if _, err := st.audit.Append(ctx, e); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	a.log.Info("appliance admin's second factor reset", "admin", name, "by", by.Name)
	return nil
}

// AdminRequest names an admin on the control socket.
type AdminRequest struct {
	Name     string `json:"name"`
	Password string `json:"password,omitempty"`
	Confirm  string `json:"confirm,omitempty"`
}

func (a *App) adminRoutes(m *api.Mux) {
	m.Handle("GET /v1/admins", func(ctx context.Context, _ json.RawMessage) (any, error) { return a.AdminList() })
	m.Handle("POST /v1/admins", func(ctx context.Context, body json.RawMessage) (any, error) {
		var r AdminRequest
		if err := api.Decode(body, &r); err != nil {
			return nil, err
		}
		v, err := a.AdminAdd(ctx, socketAdmin, r.Name, r.Password)
		return v, apiErr(err)
	})
	m.Handle("POST /v1/admins/remove", func(ctx context.Context, body json.RawMessage) (any, error) {
		var r AdminRequest
		if err := api.Decode(body, &r); err != nil {
			return nil, err
		}
		return map[string]string{"removed": r.Name}, apiErr(a.AdminRemove(ctx, socketAdmin, r.Name, r.Confirm))
	})
	m.Handle("POST /v1/admins/reset-2fa", func(ctx context.Context, body json.RawMessage) (any, error) {
		var r AdminRequest
		if err := api.Decode(body, &r); err != nil {
			return nil, err
		}
		return map[string]string{"reset": r.Name}, apiErr(a.AdminResetSecondFactor(ctx, socketAdmin, r.Name))
	})
}

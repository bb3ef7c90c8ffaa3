package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"tresor/appliance/api"
	"tresor/appliance/audit"
	"tresor/storage"
)

// The appliance's audit signing key lives in the system metadata: the
// verifier key in the clear (auditors need it), the signer key sealed under
// a key derived from the master key, so that neither a copy of the disks nor
// a locked appliance can sign forged checkpoints.
var auditKeyBucket = []string{"appliance", "audit-key"}

const auditKeyPurpose = "audit signing key"

// auditSigner loads the appliance's signing key, making it on first use.
func auditSigner(ctx context.Context, p *storage.Pool) (note.Signer, string, error) {
	var sealed, verifier []byte
	err := p.View(func(tx *storage.Tx) error {
		if b := tx.Bucket(auditKeyBucket...); b != nil {
			sealed, verifier = b.Get([]byte("signer")), b.Get([]byte("verifier"))
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	if sealed == nil {
		skey, vkey, err := audit.GenerateKey("tresor-audit")
		if err != nil {
			return nil, "", err
		}
		s, err := p.SealValue(auditKeyPurpose, []byte(skey))
		if err != nil {
			return nil, "", err
		}
		err = p.Update(ctx, func(tx *storage.Tx) error {
			b, err := tx.CreateBucketIfNotExists(auditKeyBucket...)
			if err != nil {
				return err
			}
			// A concurrent first start cannot happen (the data dir is
			// locked), so no compare-and-set is needed.
			if err := b.Put([]byte("signer"), s); err != nil {
				return err
			}
			return b.Put([]byte("verifier"), []byte(vkey))
		})
		if err != nil {
			return nil, "", fmt.Errorf("store audit key: %w", err)
		}
		sealed, verifier = s, []byte(vkey)
	}
	skey, err := p.OpenValue(auditKeyPurpose, sealed)
	if err != nil {
		return nil, "", fmt.Errorf("audit signing key: %w", err)
	}
	signer, err := note.NewSigner(string(skey))
	if err != nil {
		return nil, "", fmt.Errorf("audit signing key: %w", err)
	}
	return signer, string(verifier), nil
}

// openAuditLocked opens the appliance log and starts its checkpointer.
func (a *App) openAuditLocked(ctx context.Context, st *storageState) error {
	signer, vkey, err := auditSigner(ctx, st.pool)
	if err != nil {
		return err
	}
	st.auditSigner, st.auditVerifier = signer, vkey
	st.audit, err = audit.OpenSealed(st.pool, "appliance", poolSealer{st.pool}, signer, vkey, nil)
	if err != nil {
		return fmt.Errorf("appliance audit log: %w", err)
	}
	go st.audit.RunCheckpointer(ctx, time.Minute, func(err error) {
		a.log.Error("audit checkpoint failed", "log", "appliance", "err", err)
	})
	// Checkpoints leave the box too, when the admin set a target
	// (auditship.go).
	go a.runShipper(ctx, st)
	return nil
}

// poolSealer seals the appliance log's entries under a key derived from the
// master key: Pool.SealValue binds only a purpose, so the entry's context
// (log name and position) goes into the purpose.
type poolSealer struct{ p *storage.Pool }

func (s poolSealer) SealValue(context, value []byte) ([]byte, error) {
	return s.p.SealValue("audit entry "+string(context), value)
}

func (s poolSealer) OpenValue(context, sealed []byte) ([]byte, error) {
	return s.p.OpenValue("audit entry "+string(context), sealed)
}

// adminEntry makes an entry for an action of the appliance admin through the
// control socket.
func adminEntry(action, tenant string, details map[string]string) audit.Entry {
	return audit.Entry{
		Actor:   audit.Actor{Kind: audit.ActorApplianceAdmin, Name: "root", Addr: "socket"},
		Tenant:  tenant,
		Action:  action,
		Outcome: audit.OutcomeSuccess,
		Details: details,
	}
}

// logAdmin records an appliance-admin action; it must be called before the
// action is acknowledged, and its failure fails the call.
func (a *App) logAdmin(ctx context.Context, st *storageState, e audit.Entry) error {
	if _, err := st.audit.Append(ctx, e); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return nil
}

// apiAuditExport streams the appliance log as JSON lines with proofs, or as
// CSV (?format=csv).
func (a *App) apiAuditExport(w http.ResponseWriter, r *http.Request) {
	st, err := a.running()
	if err != nil {
		api.WriteError(w, err)
		return
	}
	q := r.URL.Query()
	var from, to time.Time
	if v := q.Get("from"); v != "" {
		if from, err = time.Parse(time.RFC3339, v); err != nil {
			api.WriteError(w, api.Errorf(http.StatusBadRequest, "from: %v", err))
			return
		}
	}
	if v := q.Get("to"); v != "" {
		if to, err = time.Parse(time.RFC3339, v); err != nil {
			api.WriteError(w, api.Errorf(http.StatusBadRequest, "to: %v", err))
			return
		}
	}
	var actions []string
	if v := q.Get("action"); v != "" {
		actions = strings.Split(v, ",")
	}
	f, err := exportFilter(from, to, q.Get("actor"), actions, q.Get("path"))
	if err != nil {
		api.WriteError(w, err)
		return
	}
	// The appliance log's entries about one tenant (what its auditors may
	// be given).
	f.Tenant = q.Get("tenant")
	format := q.Get("format")
	if format != "" && format != "jsonl" && format != "csv" {
		api.WriteError(w, api.Errorf(http.StatusBadRequest, "format %q: want jsonl or csv", clipArg(format)))
		return
	}
	if format == "" {
		format = "jsonl"
	}
	details := filterDetails(format, f)
	details["log"] = "appliance"
	if f.Tenant != "" {
		details["tenant"] = f.Tenant
	}
	if err := a.logAdmin(r.Context(), st, adminEntry(audit.ActionAuditExport, f.Tenant, details)); err != nil {
		api.WriteError(w, err)
		return
	}
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		err = st.audit.ExportCSV(r.Context(), w, f)
	} else {
		w.Header().Set("Content-Type", "application/x-ndjson")
		err = st.audit.Export(r.Context(), w, f)
	}
	if err != nil {
		// Headers are gone; cut the stream so the client sees it incomplete.
		a.log.Error("audit export failed", "err", err)
		panic(http.ErrAbortHandler)
	}
}

// AuditVerifyRequest verifies the appliance log; Checkpoints (optional)
// are notes kept outside the appliance, as for a tenant's log.
type AuditVerifyRequest struct {
	Checkpoints []string `json:"checkpoints,omitempty"`
}

func (a *App) apiAuditVerify(ctx context.Context, body json.RawMessage) (any, error) {
	st, err := a.running()
	if err != nil {
		return nil, err
	}
	var req AuditVerifyRequest
	if len(body) > 0 && string(body) != "null" {
		if err := api.Decode(body, &req); err != nil {
			return nil, err
		}
	}
	// Logged like a tenant's verification, before the report goes out.
	if err := a.logAdmin(ctx, st, adminEntry(audit.ActionAuditVerify, "", map[string]string{"log": "appliance"})); err != nil {
		return nil, err
	}
	rep, err := st.audit.Verify(ctx, ofLog("appliance", req.Checkpoints)...)
	if err != nil && !errors.Is(err, audit.ErrTampered) {
		return nil, err
	}
	// A problem found is the answer (Report.Problem), as for a tenant.
	return rep, nil
}

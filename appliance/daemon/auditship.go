package daemon

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"tresor/appliance/api"
	"tresor/appliance/audit"
	"tresor/appliance/tenant"
	"tresor/storage"
)

// Checkpoint shipping: every signed checkpoint of the appliance log and of
// every active tenant's log is also sent to an external syslog server, so
// that deleting the tail of a log (with its checkpoints and hashes) is
// detected by comparing with what the server received. The appliance
// admin sets the target (tresor audit ship --syslog udp://host:514); it
// is kept in the system database under ("appliance", "audit-ship"):
//
//	"config"        → {"syslog": "udp://host:514", "changed": "…"}
//	"shipped/<log>" → 8-byte big-endian tree size of the last checkpoint shipped
//	"error"         → the last shipping error (text), deleted on success
//
// A shipper runs while the pool is unlocked and looks every shipEvery for
// checkpoints not shipped yet (the logs sign one at most every minute).
// A log never shipped before ships its latest checkpoint only; after that
// every checkpoint is shipped in order. A failed send is retried at the
// next look: nothing is marked shipped that the server did not take (for
// UDP, what the network took).

var bucketAuditShip = []string{"appliance", "audit-ship"}

// shipEvery is how often the shipper looks for new checkpoints.
const shipEvery = 15 * time.Second

type shipConfig struct {
	Syslog  string    `json:"syslog"`
	Changed time.Time `json:"changed"`
}

// AuditShipRequest reads the shipping settings, or with Syslog set
// changes them ("" turns shipping off).
type AuditShipRequest struct {
	Syslog *string `json:"syslog,omitempty"`
}

// AuditShipView is the shipping settings and state.
type AuditShipView struct {
	Syslog    string           `json:"syslog"` // "" when off
	Changed   time.Time        `json:"changed,omitzero"`
	Shipped   map[string]int64 `json:"shipped"` // log → tree size of the last checkpoint shipped
	LastError string           `json:"last_error,omitempty"`
}

// auditShipRoutes registers the appliance admin's route.
func (a *App) auditShipRoutes(m *api.Mux) {
	m.Handle("POST /v1/audit/ship", a.apiAuditShip)
}

func (a *App) apiAuditShip(ctx context.Context, body json.RawMessage) (any, error) {
	st, err := a.running()
	if err != nil {
		return nil, err
	}
	var req AuditShipRequest
	if len(body) > 0 {
		if err := api.Decode(body, &req); err != nil {
			return nil, err
		}
	}
	if req.Syslog != nil {
		target := ""
		if *req.Syslog != "" {
			tg, err := audit.ParseSyslogURL(*req.Syslog)
			if err != nil {
				return nil, api.Errorf(http.StatusBadRequest, "--syslog: %v", err)
			}
			target = tg.String()
		}
		if err := a.setShipConfig(ctx, st, target); err != nil {
			return nil, err
		}
		if target != "" {
			// Ship at once, so that the admin learns now whether the target
			// takes it; a failure is reported in the answer, not as one.
			_ = a.shipOnce(ctx, st)
		}
	}
	return readShipView(st.pool)
}

func (a *App) setShipConfig(ctx context.Context, st *storageState, target string) error {
	cfg := shipConfig{Syslog: target, Changed: time.Now().UTC()}
	raw, _ := json.Marshal(cfg) // fixed-type fields only: cannot fail
	return st.pool.Update(ctx, func(tx *storage.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketAuditShip...)
		if err != nil {
			return err
		}
		var old shipConfig
		if v := b.Get([]byte("config")); v != nil {
			_ = json.Unmarshal(v, &old) // an unreadable old value is replaced
		}
		if err := b.Put([]byte("config"), raw); err != nil {
			return err
		}
		// A new target has received nothing yet: start over.
		if old.Syslog != target {
			var stale [][]byte
			if err := b.Scan([]byte("shipped/"), nil, func(k, _ []byte) (bool, error) {
				stale = append(stale, append([]byte(nil), k...))
				return true, nil
			}); err != nil {
				return err
			}
			for _, k := range stale {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			if err := b.Delete([]byte("error")); err != nil {
				return err
			}
		}
		e := adminEntry(audit.ActionAuditSettings, "", map[string]string{"setting": "checkpoint shipping", "from": old.Syslog, "to": target})
		_, err = st.audit.AppendTx(tx, e)
		return err
	})
}

func readShipView(p *storage.Pool) (AuditShipView, error) {
	v := AuditShipView{Shipped: map[string]int64{}}
	err := p.View(func(tx *storage.Tx) error {
		b := tx.Bucket(bucketAuditShip...)
		if b == nil {
			return nil
		}
		if raw := b.Get([]byte("config")); raw != nil {
			var cfg shipConfig
			if err := json.Unmarshal(raw, &cfg); err != nil {
				return fmt.Errorf("audit shipping settings: %w", err)
			}
			v.Syslog, v.Changed = cfg.Syslog, cfg.Changed
		}
		v.LastError = string(b.Get([]byte("error")))
		return b.Scan([]byte("shipped/"), nil, func(k, val []byte) (bool, error) {
			if len(val) == 8 {
				v.Shipped[string(k[len("shipped/"):])] = int64(binary.BigEndian.Uint64(val))
			}
			return true, nil
		})
	})
	return v, err
}

// runShipper ships checkpoints every shipEvery until ctx ends.
func (a *App) runShipper(ctx context.Context, st *storageState) {
	t := time.NewTicker(shipEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := a.shipOnce(ctx, st); err != nil && ctx.Err() == nil {
				a.log.Error("shipping audit checkpoints failed; retried", "err", err)
			}
		}
	}
}

// shippable is one log to ship from.
type shippable struct {
	name string
	log  *audit.Log
}

// shipOnce sends every checkpoint not shipped yet to the configured
// target and records what was sent.
func (a *App) shipOnce(ctx context.Context, st *storageState) error {
	view, err := readShipView(st.pool)
	if err != nil || view.Syslog == "" {
		return err
	}
	target, err := audit.ParseSyslogURL(view.Syslog)
	if err != nil {
		return err
	}
	logs := []shippable{{"appliance", st.audit}}
	if ts, err := a.tenants(); err == nil && ts != nil {
		list, err := ts.reg.List()
		if err != nil {
			return err
		}
		for _, info := range list {
			if info.State != tenant.StateActive {
				continue
			}
			t, err := ts.reg.Open(ctx, info.Slug)
			if err != nil {
				continue // suspended or deleted meanwhile
			}
			logs = append(logs, shippable{info.Slug, t.Audit()})
		}
	}
	host, _ := os.Hostname()
	now := time.Now()
	var msgs [][]byte
	sent := map[string]int64{}
	for _, l := range logs {
		after, seen := view.Shipped[l.name]
		cp, err := l.log.LatestCheckpoint()
		if err != nil {
			return err
		}
		// More shipped than the log holds: a tenant made again under a
		// deleted one's slug (see forgetShipped); its log is new.
		if !seen || after > cp.Size {
			if cp.Size > 0 {
				msgs = append(msgs, audit.FormatSyslog(cp, host, now))
				sent[l.name] = cp.Size
			}
			continue
		}
		err = l.log.CheckpointsAfter(after, func(cp audit.Checkpoint) error {
			msgs = append(msgs, audit.FormatSyslog(cp, host, now))
			sent[l.name] = cp.Size
			return nil
		})
		if err != nil {
			return err
		}
	}
	serr := audit.SendSyslog(ctx, target, nil, msgs)
	uerr := st.pool.Update(context.WithoutCancel(ctx), func(tx *storage.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketAuditShip...)
		if err != nil {
			return err
		}
		if serr != nil {
			return b.Put([]byte("error"), []byte(time.Now().UTC().Format(time.RFC3339)+": "+serr.Error()))
		}
		for name, size := range sent {
			if err := b.Put([]byte("shipped/"+name), binary.BigEndian.AppendUint64(nil, uint64(size))); err != nil {
				return err
			}
		}
		return b.Delete([]byte("error"))
	})
	return errors.Join(serr, uerr)
}

// forgetShipped drops what was shipped of a deleted tenant's log, so that
// a tenant made later under its slug ships its own log from the start.
func forgetShipped(ctx context.Context, p *storage.Pool, slug string) error {
	return p.Update(ctx, func(tx *storage.Tx) error {
		b := tx.Bucket(bucketAuditShip...)
		if b == nil {
			return nil
		}
		return b.Delete([]byte("shipped/" + slug))
	})
}

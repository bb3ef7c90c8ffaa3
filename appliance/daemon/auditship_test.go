package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"tresor/appliance/audit"
	"tresor/appliance/tenant"
)

func init() {
	noTenantAccount["POST /v1/audit/ship"] = "the appliance admin's checkpoint shipping: targets and tree sizes only"
	isolation["POST /v1/t/audit/settings"] = isoCase{func(ta *tenantApp, as TenantAuth, _ string) (int, string, json.RawMessage) {
		return ta.call("POST", "/v1/t/audit/settings", TenantAuditSettingsRequest{Auth: as})
	}, "bertha", "zora"}
}

// syslogServer is a real UDP and TCP syslog receiver on loopback.
type syslogServer struct {
	udp, tcp string // host:port
	got      chan []byte
}

func newSyslogServer(t *testing.T) *syslogServer {
	t.Helper()
	s := &syslogServer{got: make(chan []byte, 256)}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close(); ln.Close() })
	s.udp, s.tcp = pc.LocalAddr().String(), ln.Addr().String()
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			s.got <- bytes.Clone(buf[:n])
		}
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					l, err := r.ReadString(' ')
					if err != nil {
						return
					}
					n, err := strconv.Atoi(strings.TrimSpace(l))
					if err != nil || n <= 0 || n > 1<<20 {
						return
					}
					m := make([]byte, n)
					for k := 0; k < n; {
						j, err := r.Read(m[k:])
						if err != nil {
							return
						}
						k += j
					}
					s.got <- m
				}
			}()
		}
	}()
	return s
}

// drain returns the checkpoint notes received within a short while, by
// log name.
func (s *syslogServer) drain(t *testing.T, want int) map[string][][]byte {
	t.Helper()
	out := map[string][][]byte{}
	deadline := time.After(5 * time.Second)
	for n := 0; n < want; n++ {
		select {
		case m := <-s.got:
			note, err := audit.ParseSyslogCheckpoint(m)
			if err != nil {
				t.Fatalf("received %q: %v", m, err)
			}
			name := strings.TrimPrefix(strings.SplitN(string(note), "\n", 2)[0], "tresor audit ")
			out[name] = append(out[name], note)
		case <-deadline:
			t.Fatalf("received %d syslog messages, want %d", n, want)
		}
	}
	select {
	case m := <-s.got:
		t.Fatalf("more than %d messages: %q", want, m)
	case <-time.After(200 * time.Millisecond):
	}
	return out
}

// TestAuditShip: the appliance admin sets a syslog target; every log's
// latest checkpoint goes there at once, later checkpoints as they come,
// over UDP and TCP; the notes received verify against the logs; a bad
// target is refused; the change is in the appliance log.
func TestAuditShip(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	srv := newSyslogServer(t)
	ctx := context.Background()
	reg := ta.st.tenants.reg
	open := func(slug string) *tenant.Tenant {
		tn, err := reg.Open(ctx, slug)
		if err != nil {
			t.Fatal(err)
		}
		return tn
	}
	logs := map[string]*audit.Log{"appliance": ta.st.audit, "kanzlei": open("kanzlei").Audit(), "notariat": open("notariat").Audit()}
	for _, l := range logs {
		if _, err := l.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if s, m, _ := ta.call("POST", "/v1/audit/ship", AuditShipRequest{Syslog: ptr("http://logs:514")}); s != 400 {
		t.Fatalf("bad target: %d %s", s, m)
	}
	var v AuditShipView
	json.Unmarshal(ta.must("POST", "/v1/audit/ship", AuditShipRequest{Syslog: ptr("udp://" + srv.udp)}), &v)
	if v.Syslog != "udp://"+srv.udp || v.LastError != "" || len(v.Shipped) != 3 {
		t.Fatalf("ship view = %+v", v)
	}
	got := srv.drain(t, 3)
	for name, l := range logs {
		if len(got[name]) != 1 {
			t.Fatalf("%s: %d checkpoints received", name, len(got[name]))
		}
		if _, err := l.Verify(ctx, got[name]...); err != nil {
			t.Errorf("%s: Verify with the shipped checkpoint = %v", name, err)
		}
	}

	// Two more checkpoints of kanzlei's log: both are shipped, in order,
	// and nothing else.
	kl := logs["kanzlei"]
	var sizes []int64
	for i := 0; i < 2; i++ {
		if _, err := kl.Append(ctx, audit.Entry{Actor: audit.Actor{Kind: audit.ActorSystem}, Action: audit.ActionAuditVerify, Outcome: audit.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
		cp, err := kl.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, cp.Size)
	}
	if err := ta.a.shipOnce(ctx, ta.st); err != nil {
		t.Fatal(err)
	}
	got = srv.drain(t, 2)
	verifier, err := note.NewVerifier(ta.st.auditVerifier)
	if err != nil {
		t.Fatal(err)
	}
	if len(got["kanzlei"]) != 2 {
		t.Fatalf("received %v, want kanzlei's two new checkpoints", got)
	}
	for i, n := range got["kanzlei"] {
		cp, err := audit.OpenCheckpoint(n, verifier)
		if err != nil || cp.Size != sizes[i] {
			t.Errorf("shipped checkpoint %d: %+v, %v; want size %d", i, cp, err, sizes[i])
		}
	}
	if _, err := kl.Verify(ctx, got["kanzlei"]...); err != nil {
		t.Errorf("Verify with the shipped checkpoints = %v", err)
	}

	// Over TCP: a new target starts over with every log's latest.
	json.Unmarshal(ta.must("POST", "/v1/audit/ship", AuditShipRequest{Syslog: ptr("tcp://" + srv.tcp)}), &v)
	got = srv.drain(t, 3)
	for name, l := range logs {
		if _, err := l.Verify(ctx, got[name]...); err != nil || len(got[name]) != 1 {
			t.Errorf("%s over TCP: %d notes, Verify = %v", name, len(got[name]), err)
		}
	}
	// Off; and the changes are in the appliance log.
	json.Unmarshal(ta.must("POST", "/v1/audit/ship", AuditShipRequest{Syslog: ptr("")}), &v)
	if v.Syslog != "" {
		t.Fatalf("after turning off: %+v", v)
	}
	var changes []string
	ta.st.audit.Entries(audit.Filter{Actions: []string{audit.ActionAuditSettings}}, func(e audit.Entry) error {
		changes = append(changes, e.Details["to"])
		return nil
	})
	if len(changes) != 3 || changes[2] != "" || !strings.HasPrefix(changes[1], "tcp://") {
		t.Fatalf("appliance log's shipping changes = %q", changes)
	}
}

func ptr[T any](v T) *T { return &v }

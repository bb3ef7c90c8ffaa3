package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseSyslogURL(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"udp://logs.example.org:514", "udp://logs.example.org:514", true},
		{"udp://logs.example.org", "udp://logs.example.org:514", true},
		{"tcp://192.0.2.1", "tcp://192.0.2.1:601", true},
		{"tls://[2001:db8::1]:6514", "tls://[2001:db8::1]:6514", true},
		{"tls://logs", "tls://logs:6514", true},
		{"http://logs:514", "", false},
		{"udp://", "", false},
		{"udp://h:0", "", false},
		{"udp://h:70000", "", false},
		{"udp://u:p@h:514", "", false},
		{"udp://h:514/path", "", false},
		{"logs:514", "", false},
		{"", "", false},
	} {
		got, err := ParseSyslogURL(c.in)
		if c.ok != (err == nil) || c.ok && got.String() != c.want {
			t.Errorf("ParseSyslogURL(%q) = %v, %v; want %q", c.in, got, err, c.want)
		}
		if err != nil && !errors.Is(err, ErrBadSyslogURL) {
			t.Errorf("ParseSyslogURL(%q) error %v is not ErrBadSyslogURL", c.in, err)
		}
	}
}

// listen starts a real UDP and a real TCP syslog receiver on loopback and
// returns their targets and a channel of the messages they received (TCP
// frames split by octet counting).
func listen(t *testing.T) (udp, tcp SyslogTarget, got chan []byte) {
	t.Helper()
	got = make(chan []byte, 64)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			got <- bytes.Clone(buf[:n])
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
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
						t.Errorf("bad frame length %q", l)
						return
					}
					m := make([]byte, n)
					if _, err := ioReadFull(r, m); err != nil {
						return
					}
					got <- m
				}
			}()
		}
	}()
	return SyslogTarget{"udp", pc.LocalAddr().String()}, SyslogTarget{"tcp", ln.Addr().String()}, got
}

func ioReadFull(r *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func receive(t *testing.T, got chan []byte) []byte {
	t.Helper()
	select {
	case m := <-got:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no syslog message received")
	}
	return nil
}

// TestSyslogShipping: every checkpoint goes to real UDP and TCP receivers
// as an RFC 5424 message; the notes received reveal a tail deleted with
// its checkpoint and hashes, which the log alone no longer shows.
func TestSyslogShipping(t *testing.T) {
	udp, tcp, got := listen(t)
	_, l, _ := tamperLog(t)
	var msgs [][]byte
	if err := l.CheckpointsAfter(0, func(cp Checkpoint) error {
		msgs = append(msgs, FormatSyslog(cp, "tresor.kanzlei.example", time.Now()))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 {
		t.Fatalf("CheckpointsAfter(0) gave %d checkpoints, want 3", len(msgs))
	}
	var after []int64
	l.CheckpointsAfter(8, func(cp Checkpoint) error { after = append(after, cp.Size); return nil })
	if len(after) != 2 || after[0] != 14 || after[1] != 20 {
		t.Fatalf("CheckpointsAfter(8) = %v, want [14 20]", after)
	}
	ctx := context.Background()
	for _, target := range []SyslogTarget{udp, tcp} {
		if err := SendSyslog(ctx, target, nil, msgs); err != nil {
			t.Fatal(err)
		}
		for i := range msgs {
			m := receive(t, got)
			if !bytes.HasPrefix(m, []byte("<110>1 ")) || !bytes.Contains(m, []byte(` tresor - audit-checkpoint [tresor@32473 log="kanzlei" size="`)) {
				t.Fatalf("%s message %d = %q", target.Network, i, m)
			}
		}
	}
	// The last one shipped is the external copy; the attacker shortens the
	// log with its checkpoint and hashes.
	ext, err := ParseSyslogCheckpoint(msgs[2])
	if err != nil {
		t.Fatal(err)
	}
	edit(t, l, func(bk *buckets) error {
		for i := int64(15); i < 20; i++ {
			if err := bk.entries.Delete(key(i)); err != nil {
				return err
			}
		}
		if err := bk.checkpoints.Delete(key(20)); err != nil {
			return err
		}
		if err := rebuildHashes(bk); err != nil {
			return err
		}
		st, _ := readState(bk)
		st.checkpoint = 14
		return writeState(bk, st)
	})
	if _, err := l.Verify(ctx); err != nil {
		t.Fatalf("the shortened log alone verifies (it must; that is why checkpoints are shipped): %v", err)
	}
	_, err = l.Verify(ctx, ext)
	wantProblem(t, err, KindTailDeleted, 15)
}

func TestParseSyslogCheckpoint(t *testing.T) {
	_, l, _ := tamperLog(t)
	cp, _ := l.LatestCheckpoint()
	m := FormatSyslog(cp, "", time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC))
	if !bytes.HasPrefix(m, []byte("<110>1 2026-11-24T03:00:00.000000Z - tresor - audit-checkpoint ")) {
		t.Fatalf("FormatSyslog = %q", m)
	}
	for _, in := range [][]byte{m, append([]byte("123 "), m...)} {
		n, err := ParseSyslogCheckpoint(in)
		if err != nil || !bytes.Equal(n, cp.Note) {
			t.Fatalf("ParseSyslogCheckpoint = %q, %v; want the note", n, err)
		}
	}
	for _, bad := range []string{"", "<13>1 - - - - - hello", string(m[:len(m)-len(cp.Note)]) + "garbage\n"} {
		if _, err := ParseSyslogCheckpoint([]byte(bad)); !errors.Is(err, ErrNotCheckpointMessage) {
			t.Errorf("ParseSyslogCheckpoint(%q) = %v, want ErrNotCheckpointMessage", bad, err)
		}
	}
}

func FuzzParseSyslogCheckpoint(f *testing.F) {
	f.Add([]byte(`<110>1 2026-11-24T03:00:00.000000Z h tresor - audit-checkpoint [tresor@32473 log="k\]" size="1" hash="x"] tresor audit k` + "\n1\nAAAA\n\n— sig\n"))
	f.Add([]byte("<13>1 - - - - -"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := ParseSyslogCheckpoint(b)
		if err != nil {
			if !errors.Is(err, ErrNotCheckpointMessage) {
				t.Fatalf("error %v is not ErrNotCheckpointMessage", err)
			}
			return
		}
		if _, _, _, err := ParseCheckpoint(noteText(n)); err != nil {
			t.Fatalf("accepted a note whose text does not parse: %v", err)
		}
	})
}

func FuzzParseSyslogURL(f *testing.F) {
	f.Add("udp://logs:514")
	f.Add("tls://[::1]")
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseSyslogURL(s)
		if err != nil {
			return
		}
		again, err := ParseSyslogURL(tg.String())
		if err != nil || again != tg {
			t.Fatalf("ParseSyslogURL(%q) = %v; its String %q parses to %v, %v", s, tg, tg.String(), again, err)
		}
	})
}

// TestRetention: a log's retention is stored with it, changed with a
// record of the change, bounded, and PruneExpired prunes by it while the
// tree still verifies.
func TestRetention(t *testing.T) {
	env := newEnv(t, false)
	k := newKey(t, "appliance")
	clock := newClock()
	l := openLog(t, env.ns, "kanzlei", k, clock)
	ctx := context.Background()
	fill(t, l, 0, 10)
	if d, err := l.RetentionDays(); err != nil || d != 0 {
		t.Fatalf("RetentionDays = %d, %v; want 0", d, err)
	}
	if n, err := l.PruneExpired(ctx, clock.Now().Add(1000*24*time.Hour)); err != nil || n != 0 {
		t.Fatalf("PruneExpired with no retention = %d, %v", n, err)
	}
	for _, bad := range []int{-1, 1, 29, 36501} {
		if _, err := l.SetRetentionDays(ctx, bad, sample(0)); !errors.Is(err, ErrBadRetention) {
			t.Errorf("SetRetentionDays(%d) = %v, want ErrBadRetention", bad, err)
		}
	}
	rec := Entry{Actor: Actor{Kind: ActorAccount, Name: "anna"}, Action: ActionAuditSettings, Outcome: OutcomeSuccess}
	if from, err := l.SetRetentionDays(ctx, 90, rec); err != nil || from != 0 {
		t.Fatalf("SetRetentionDays(90) = %d, %v", from, err)
	}
	if d, _ := l.RetentionDays(); d != 90 {
		t.Fatalf("RetentionDays = %d, want 90", d)
	}
	var last Entry
	l.Entries(Filter{Actions: []string{ActionAuditSettings}}, func(e Entry) error { last = e; return nil })
	if last.Details["from"] != "0" || last.Details["to"] != "90" || last.Seq != 10 {
		t.Fatalf("the change's record = %+v", last)
	}
	// 100 days later the first 11 entries are older than the retention.
	clock.set(clock.Now().Add(100 * 24 * time.Hour))
	fill(t, l, 10, 5)
	n, err := l.PruneExpired(ctx, clock.Now())
	if err != nil || n != 11 {
		t.Fatalf("PruneExpired = %d, %v; want 11", n, err)
	}
	mustVerify(t, l)
	count := 0
	l.Entries(Filter{}, func(Entry) error { count++; return nil })
	if count != 5+1 { // the new ones and the audit.prune record
		t.Fatalf("%d entries left, want 6", count)
	}
}

// TestExtractCheckpoints: notes are found in a syslog server's file,
// whether it kept the newlines or escaped them as #012, once each.
func TestExtractCheckpoints(t *testing.T) {
	_, l, _ := tamperLog(t)
	var notes [][]byte
	var raw, escaped bytes.Buffer
	l.CheckpointsAfter(0, func(cp Checkpoint) error {
		notes = append(notes, cp.Note)
		m := FormatSyslog(cp, "box", time.Now())
		raw.Write(m)
		raw.WriteString("\nunrelated line\n")
		// rsyslog: "TIMESTAMP HOST APP MSG" with control characters escaped.
		escaped.WriteString("Nov 24 03:00:00 box tresor ")
		escaped.Write(bytes.ReplaceAll(m[bytes.IndexByte(m, ' ')+1:], []byte("\n"), []byte("#012")))
		escaped.WriteString("\n")
		return nil
	})
	raw.Write(FormatSyslog(Checkpoint{Origin: "tresor audit kanzlei", Note: notes[0]}, "box", time.Now())) // a duplicate
	for name, in := range map[string][]byte{"raw": raw.Bytes(), "escaped": escaped.Bytes()} {
		got, err := ExtractCheckpoints(bytes.NewReader(in))
		if err != nil || len(got) != len(notes) {
			t.Fatalf("%s: ExtractCheckpoints = %d notes, %v; want %d", name, len(got), err, len(notes))
		}
		for i := range got {
			if !bytes.Equal(got[i], notes[i]) {
				t.Errorf("%s: note %d = %q, want %q", name, i, got[i], notes[i])
			}
		}
		mustVerify(t, l, got...)
	}
}

func FuzzExtractCheckpoints(f *testing.F) {
	f.Add([]byte(" audit-checkpoint [tresor@32473 log=\"k\" size=\"1\" hash=\"x\"] tresor audit k\n1\nAAAA\n\n— k sig\n"))
	f.Add([]byte("#012#012 audit-checkpoint [tresor@32473 ]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		notes, err := ExtractCheckpoints(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range notes {
			if _, _, _, err := ParseCheckpoint(noteText(n)); err != nil {
				t.Fatalf("returned a note whose text does not parse: %q", n)
			}
		}
	})
}

// TestSyslogTLS: over tls:// the messages arrive octet-counted on a real
// TLS listener that the given roots trust, and a listener they do not
// trust is refused.
func TestSyslogTLS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "syslog"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, _ := io.ReadAll(c)
				got <- b
			}()
		}
	}()
	_, l, _ := tamperLog(t)
	cp, _ := l.LatestCheckpoint()
	msg := FormatSyslog(cp, "box", time.Now())
	target := SyslogTarget{"tls", ln.Addr().String()}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	if err := SendSyslog(context.Background(), target, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}, [][]byte{msg}); err != nil {
		t.Fatal(err)
	}
	b := receive(t, got)
	want := append([]byte(strconv.Itoa(len(msg))+" "), msg...)
	if !bytes.Equal(b, want) {
		t.Fatalf("received %q, want %q", b, want)
	}
	if err := SendSyslog(context.Background(), target, &tls.Config{RootCAs: x509.NewCertPool()}, [][]byte{msg}); err == nil {
		t.Fatal("an untrusted syslog server was accepted")
	}
}

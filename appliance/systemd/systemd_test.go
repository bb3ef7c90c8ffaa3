package systemd

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeNotifySocket listens where systemd would and returns what it receives.
func fakeNotifySocket(t *testing.T) (<-chan string, func()) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("NOTIFY_SOCKET", path)
	msgs := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	return msgs, func() { conn.Close() }
}

func next(t *testing.T, msgs <-chan string) string {
	t.Helper()
	select {
	case m := <-msgs:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no notification within 5s")
		return ""
	}
}

func TestNotify(t *testing.T) {
	msgs, stop := fakeNotifySocket(t)
	defer stop()
	for _, state := range []string{Ready, Stopping} {
		sent, err := Notify(state)
		if err != nil || !sent {
			t.Fatalf("Notify(%q) = %v, %v", state, sent, err)
		}
		if got := next(t, msgs); got != state {
			t.Fatalf("socket got %q, want %q", got, state)
		}
	}
}

func TestNotifyWithoutSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	sent, err := Notify(Ready)
	if sent || err != nil {
		t.Fatalf("Notify without socket = %v, %v; want false, nil", sent, err)
	}
}

func TestWatchdogPingsAndStopsWhenUnhealthy(t *testing.T) {
	msgs, stop := fakeNotifySocket(t)
	defer stop()
	t.Setenv("WATCHDOG_USEC", "100000") // 100 ms: ping every 50 ms
	t.Setenv("WATCHDOG_PID", "")
	healthy := make(chan bool, 1)
	healthy <- true
	state := true
	alive := func() error {
		select {
		case state = <-healthy:
		default:
		}
		if !state {
			return context.DeadlineExceeded
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go RunWatchdog(ctx, alive, slog.Default())
	for i := 0; i < 3; i++ {
		if got := next(t, msgs); got != Watchdog {
			t.Fatalf("got %q, want %q", got, Watchdog)
		}
	}
	healthy <- false
	time.Sleep(60 * time.Millisecond) // let the change be seen
	for len(msgs) > 0 {
		<-msgs
	}
	select {
	case m := <-msgs:
		t.Fatalf("watchdog pinged %q while unhealthy", m)
	case <-time.After(300 * time.Millisecond):
	}
}

func TestJournalField(t *testing.T) {
	for in, want := range map[string]string{"tenant": "TENANT", "disk.index": "DISK_INDEX", "_x": "X", "ä": "FIELD"} {
		if got := journalField(in); got != want {
			t.Errorf("journalField(%q) = %q, want %q", in, got, want)
		}
	}
	if strings.Contains(journalField("a b"), " ") {
		t.Error("space kept in journal field name")
	}
}

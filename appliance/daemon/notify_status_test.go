package daemon

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSetupTokenNotInServiceStatus: the status line sent to systemd
// (STATUS=) is what `systemctl status tresor` shows to every local user,
// unlike the journal; the one-time setup token must not be in it, or any
// account on the box could open the wizard before the admin does.
func TestSetupTokenNotInServiceStatus(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "n.sock")
	if len(sock) > 100 {
		d, err := os.MkdirTemp("", "n")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		sock = filepath.Join(d, "n.sock")
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)

	data, _ := daemonDirs(t)
	d := runDaemon(t, data, time.Hour)
	defer d.stop()
	var msgs []string
	buf := make([]byte, 4096)
	for {
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no READY=1 (got %q): %v", msgs, err)
		}
		msgs = append(msgs, string(buf[:n]))
		if string(buf[:n]) == "READY=1" {
			break
		}
	}
	m := regexp.MustCompile(`/setup\?token=(\S+)`).FindStringSubmatch(d.out.String())
	if m == nil {
		t.Fatalf("no setup URL printed:\n%s", d.out.String())
	}
	status := false
	for _, s := range msgs {
		if strings.Contains(s, m[1]) {
			t.Errorf("notification carries the setup token: %q", s)
		}
		if strings.HasPrefix(s, "STATUS=setup pending") {
			status = true
		}
	}
	if !status {
		t.Errorf("no status line saying setup is pending: %q", msgs)
	}
}

// Command image-wizard drives the first-boot wizard of a booted appliance
// image over HTTPS, as an admin's browser would post its forms, up to the
// recovery page, choosing block devices as pool disks. The image smoke test
// (scripts/image-smoke-test.sh) runs it against the guest with three extra
// virtual disks: on the packaged appliance the daemon runs as user tresor
// without device access or mount rights, so this proves the whole path of
// tresor-privileged.path: the request, root formatting and mounting the
// disks, the mounts reaching tresor.service, and the pool made on them.
//
// Usage: image-wizard -base https://127.0.0.1:PORT -setup '/setup?token=…' -disk /dev/vdb -disk /dev/vdc -disk /dev/vdd
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"tresor/appliance/identity"
)

type disks []string

func (d *disks) String() string     { return strings.Join(*d, ",") }
func (d *disks) Set(v string) error { *d = append(*d, v); return nil }

var (
	csrfRE   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	secretRE = regexp.MustCompile(`data-secret="([A-Z2-7]+)"`)
)

func main() {
	base := flag.String("base", "", "the appliance's URL (https://host:port)")
	setupPath := flag.String("setup", "", "the setup link's path and query (/setup?token=…)")
	timeout := flag.Duration("timeout", 20*time.Minute, "bound of the final step (erasing and formatting the disks, making the pool)")
	var devs disks
	flag.Var(&devs, "disk", "a block device to choose (repeat)")
	flag.Parse()
	if *base == "" || *setupPath == "" || len(devs) == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*base, *setupPath, devs, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "image-wizard: FAIL:", err)
		os.Exit(1)
	}
}

type wizard struct {
	c    *http.Client
	base string
}

func (w *wizard) get(path string) (int, string, error) {
	resp, err := w.c.Get(w.base + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// step posts one step's form (with the CSRF token of its page) and wants
// the redirect to the next step.
func (w *wizard) step(name string, form url.Values, next string) error {
	code, page, err := w.get("/setup/" + name)
	if err != nil {
		return fmt.Errorf("GET /setup/%s: %w", name, err)
	}
	m := csrfRE.FindStringSubmatch(page)
	if code != 200 || m == nil {
		return fmt.Errorf("GET /setup/%s = %d without a CSRF token:\n%s", name, code, clip(page))
	}
	form.Set("csrf", m[1])
	form.Set("action", "next")
	start := time.Now()
	resp, err := w.c.PostForm(w.base+"/setup/"+name, form)
	if err != nil {
		return fmt.Errorf("POST /setup/%s: %w", name, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/setup/"+next {
		return fmt.Errorf("POST /setup/%s = %d → %q, want 303 → /setup/%s:\n%s", name, resp.StatusCode, loc, next, clip(textOf(string(body))))
	}
	fmt.Printf("image-wizard: %-8s done (%v)\n", name, time.Since(start).Round(time.Millisecond))
	return nil
}

func run(base, setupPath string, devs []string, timeout time.Duration) error {
	jar, _ := cookiejar.New(nil)
	w := &wizard{base: base, c: &http.Client{
		Jar:     jar,
		Timeout: timeout,
		// The guest's certificate is its own local CA's, for its own
		// address; this client only drives the wizard through a port
		// forward.
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
	if code, page, err := w.get(setupPath); err != nil || code != 200 {
		return fmt.Errorf("opening the setup link = %d, %v:\n%s", code, err, clip(page))
	}
	if err := w.step("lang", url.Values{"lang": {"en"}}, "admin"); err != nil {
		return err
	}
	const pw = "Image-Smoke-Passphrase-2026"
	if err := w.step("admin", url.Values{"admin": {"admin"}, "password": {pw}, "password2": {pw}}, "2fa"); err != nil {
		return err
	}
	_, page, err := w.get("/setup/2fa")
	if err != nil {
		return err
	}
	m := secretRE.FindStringSubmatch(page)
	if m == nil {
		return fmt.Errorf("no TOTP secret on the 2FA page:\n%s", clip(page))
	}
	code, err := identity.TOTPCode(m[1], time.Now())
	if err != nil {
		return err
	}
	if err := w.step("2fa", url.Values{"code": {code}}, "system"); err != nil {
		return err
	}
	if err := w.step("system", url.Values{"hostname": {"tresor-smoke"}, "timezone": {"Europe/Berlin"}, "tls": {"local"}}, "disks"); err != nil {
		return err
	}
	_, page, err = w.get("/setup/disks")
	if err != nil {
		return err
	}
	for _, d := range devs {
		if !strings.Contains(page, `value="`+d+`"`) {
			return fmt.Errorf("the disks step does not offer %s:\n%s", d, clip(textOf(page)))
		}
	}
	if err := w.step("disks", url.Values{"disk": devs, "erase_confirm": {"ERASE"}}, "key"); err != nil {
		return err
	}
	if err := w.step("key", url.Values{"auto_unlock": {"on"}}, "tenant"); err != nil {
		return err
	}
	const tpw = "Kanzlei-Smoke-Passwort-7"
	if err := w.step("tenant", url.Values{"slug": {"kanzlei"}, "tenant_name": {"Kanzlei Muster"}, "tenant_admin": {"anna"},
		"tenant_password": {tpw}, "tenant_password2": {tpw}}, "summary"); err != nil {
		return err
	}
	// The summary's confirmation erases, formats and mounts the disks
	// (through the privileged helper) and makes the pool on them.
	if err := w.step("summary", url.Values{}, "recovery"); err != nil {
		return err
	}
	code2, page, err := w.get("/setup/recovery")
	if err != nil || code2 != 200 {
		return fmt.Errorf("GET /setup/recovery = %d, %v", code2, err)
	}
	want := fmt.Sprintf("%d+1", len(devs)-1)
	if !strings.Contains(page, want) {
		return fmt.Errorf("the recovery page does not show the %s pool:\n%s", want, clip(textOf(page)))
	}
	fmt.Printf("image-wizard: pool %s made on %s (prepared by the privileged helper)\n", want, strings.Join(devs, ", "))
	// The admin confirms having kept the recovery key by typing its last
	// group; that ends the wizard.
	k := keyRE.FindStringSubmatch(page)
	if k == nil {
		return fmt.Errorf("no recovery key on the recovery page")
	}
	key := strings.TrimSpace(k[1])
	m = csrfRE.FindStringSubmatch(page)
	if m == nil {
		return fmt.Errorf("no CSRF token on the recovery page")
	}
	resp, err := w.c.PostForm(w.base+"/setup/recovery", url.Values{"csrf": {m[1]}, "last_group": {key[strings.LastIndexByte(key, '-')+1:]}})
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("confirming the recovery key = %d", resp.StatusCode)
	}
	if code, _, err := w.get("/setup/recovery"); err != nil || code != http.StatusSeeOther {
		return fmt.Errorf("the wizard did not end: GET /setup/recovery = %d, %v", code, err)
	}
	fmt.Println("image-wizard: recovery key confirmed, setup finished")
	return nil
}

var keyRE = regexp.MustCompile(`id="recovery-key">([^<]+)<`)

var tagRE = regexp.MustCompile(`(?s)<script.*?</script>|<style.*?</style>|<[^>]+>`)

// textOf is a page's text, for error messages.
func textOf(page string) string {
	return strings.Join(strings.Fields(tagRE.ReplaceAllString(page, " ")), " ")
}

func clip(s string) string {
	if len(s) > 3000 {
		return s[:3000] + "…"
	}
	return s
}

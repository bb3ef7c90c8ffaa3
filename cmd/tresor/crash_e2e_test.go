package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"tresor/appliance/audit"
)

// TestE2ECrashConsistency kills the real daemon with SIGKILL while
// concurrent WebDAV clients and a web upload write, and checks after
// every restart what the spec promises: every acknowledged action is in
// effect and in the tenant's audit log, a cut-off action happened
// completely or not at all, PROPFIND agrees with GET, and at the end the
// audit log verifies, the pool scrubs clean and no shard file is left
// without its object.
func TestE2ECrashConsistency(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the daemon several times")
	}
	e := newTenantEnv(t)
	anna := account{"kanzlei", "anna", e.secret("anna", "Rose-Kanzlei-Passwort-1"), "admin"}
	e.must("tenant", "create", "kanzlei", "--admin", "anna", "--admin-password-file", anna.pwFile, "--require-2fa=false")
	app := appPassword(t, e, anna)

	const workers = 4
	ws := make([]*crashWorker, workers+1)
	for i := range ws {
		ws[i] = &crashWorker{dir: fmt.Sprintf("w%d", i), files: map[string][32]byte{}, dirs: map[string]bool{}, seed: uint64(i)}
	}
	ws[workers].web = true
	cl := &crashClient{t: t, e: e, user: "anna", app: app, pw: "Rose-Kanzlei-Passwort-1"}
	cl.connect()
	for _, w := range ws {
		if st := cl.dav("MKCOL", w.dir, nil, nil); st != 201 {
			t.Fatalf("MKCOL %s: %d", w.dir, st)
		}
		w.dirs[w.dir] = true
		w.acked = append(w.acked, crashAck{audit.ActionFolderCreate, w.dir})
	}

	rounds := 3
	for round := range rounds {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, w := range ws {
			wg.Go(func() { w.run(cl, stop) })
		}
		time.Sleep(time.Duration(1000+rand.IntN(2000)) * time.Millisecond)
		e.d.cmd.Process.Signal(syscall.SIGKILL)
		close(stop)
		<-e.d.exited
		wg.Wait()
		e.d = startDaemon(t, e.dataDir)
		cl.connect()
		n := 0
		for _, w := range ws {
			w.resolve(cl)
			n += len(w.acked)
		}
		t.Logf("round %d: %d actions acknowledged so far", round, n)
		var stored int64
		for _, w := range ws {
			w.check(cl)
			stored += w.stored
		}
		// The tenant's used bytes are exactly what the files hold: a
		// cut-off put counts only if its file is there.
		if used := cl.quotaUsed(); used != stored {
			t.Errorf("round %d: the tenant uses %d bytes, its files (with versions and trash) hold %d", round, used, stored)
		}
		if t.Failed() {
			t.FailNow()
		}
	}

	// The audit log verifies and holds every acknowledged action.
	if out := e.must(append([]string{"audit", "verify"}, anna.flags()...)...); !strings.Contains(out, "OK: audit log kanzlei") {
		t.Fatalf("audit verify: %s", out)
	}
	export := filepath.Join(e.root, "kanzlei.jsonl")
	e.must(append([]string{"audit", "export", "--out", export}, anna.flags()...)...)
	keyFile := filepath.Join(e.root, "audit.key")
	if err := os.WriteFile(keyFile, []byte(e.must("audit", "key")), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := e.must("audit", "verify", "--file", export, "--key", keyFile); !strings.Contains(out, "OK: audit log kanzlei") {
		t.Fatalf("offline audit verify: %s", out)
	}
	logged := map[crashAck]int{}
	data, err := os.ReadFile(export)
	if err != nil {
		t.Fatal(err)
	}
	for line := range bytes.Lines(data) {
		var l struct {
			Type  string          `json:"type"`
			Entry json.RawMessage `json:"entry"`
		}
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatal(err)
		}
		if l.Type != "entry" {
			continue
		}
		en, err := audit.ParseEntry(l.Entry)
		if err != nil {
			t.Fatal(err)
		}
		if en.Outcome == audit.OutcomeSuccess {
			logged[crashAck{en.Action, strings.TrimPrefix(en.Object.Path, "/")}]++
		}
	}
	for _, w := range ws {
		want := map[crashAck]int{}
		for _, a := range w.acked {
			want[a]++
		}
		for a, n := range want {
			if logged[a] < n {
				t.Errorf("%d acknowledged %s of %s, %d in the audit log", n, a.action, a.path, logged[a])
			}
		}
	}

	// The pool scrubs clean, and exactly the objects it knows have shard
	// files (every file written here is over the inline limit): the
	// orphans of cut-off uploads were collected.
	var rep struct {
		Objects  int64    `json:"objects"`
		Damaged  int      `json:"damaged_shard_files"`
		Unhealed []string `json:"unhealed_objects"`
		Errors   []string `json:"errors"`
		Temp     int      `json:"temp_files_removed"`
	}
	out := e.must("pool", "scrub", "--json")
	if err := json.Unmarshal([]byte(lastJSON(out)), &rep); err != nil {
		t.Fatalf("pool scrub --json: %v\n%s", err, out)
	}
	if rep.Damaged != 0 || len(rep.Unhealed) != 0 || len(rep.Errors) != 0 || rep.Temp != 0 {
		t.Errorf("scrub after the crashes: %s", out)
	}
	for _, d := range e.disks {
		shards := 0
		filepath.WalkDir(filepath.Join(d, "tresor", "ns"), func(p string, de fs.DirEntry, err error) error {
			if err == nil && de.Type().IsRegular() && strings.Contains(p, string(filepath.Separator)+"shards"+string(filepath.Separator)) {
				shards++
			}
			if err == nil && strings.HasPrefix(de.Name(), ".tmp-") {
				t.Errorf("temporary file left: %s", p)
			}
			return nil
		})
		if int64(shards) != rep.Objects {
			t.Errorf("%s: %d shard files for %d objects", d, shards, rep.Objects)
		}
	}
	// A daemon that went through all that still stops when asked, also
	// right after a start.
	stopRestarted(t, e)
	e.d = startDaemon(t, e.dataDir)
	stopRestarted(t, e)
}

// stopRestarted stops a daemon started after the environment's with
// SIGTERM: the environment's cleanup runs after the cleanup of the later
// startDaemon, which would kill it, and then finds it stopped.
func stopRestarted(t *testing.T, e *tenantEnv) {
	t.Helper()
	e.d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-e.d.exited:
		if err != nil {
			t.Fatalf("daemon exit after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("daemon did not stop within 20s of SIGTERM")
	}
	e.d.exited <- nil
}

// lastJSON returns the last line of out that starts a JSON object (the
// scrub may print progress before its report).
func lastJSON(out string) string {
	if i := strings.LastIndex(out, "\n{"); i >= 0 {
		return out[i+1:]
	}
	return out
}

type crashAck struct{ action, path string }

// crashClient talks to whichever daemon runs now.
type crashClient struct {
	t          *testing.T
	e          *tenantEnv
	user, app  string
	pw         string
	mu         sync.Mutex
	c          *http.Client
	web        *http.Client
	base, csrf string
}

func (cl *crashClient) connect() {
	cl.t.Helper()
	jar, _ := cookiejar.New(nil)
	tr := cl.e.d.client.Transport
	web := &http.Client{Transport: tr, Jar: jar, Timeout: 60 * time.Second}
	res, err := web.PostForm(cl.e.d.base+"/t/kanzlei/login", url.Values{"name": {cl.user}, "password": {cl.pw}})
	if err != nil {
		cl.t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if res.StatusCode != 200 || m == nil {
		cl.t.Fatalf("web sign-in: %d", res.StatusCode)
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.c = &http.Client{Transport: tr, Timeout: 60 * time.Second}
	cl.web, cl.base, cl.csrf = web, cl.e.d.base, string(m[1])
}

func (cl *crashClient) current() (*http.Client, *http.Client, string, string) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.c, cl.web, cl.base, cl.csrf
}

func davURL(base, p string) string {
	var segs []string
	for s := range strings.SplitSeq(p, "/") {
		segs = append(segs, url.PathEscape(s))
	}
	return base + "/dav/kanzlei/" + strings.Join(segs, "/")
}

// dav sends a WebDAV request and returns its status, 0 when there was no
// answer (the daemon died).
func (cl *crashClient) dav(method, p string, body []byte, hdr map[string]string) int {
	st, _ := cl.davBody(method, p, body, hdr)
	return st
}

func (cl *crashClient) davBody(method, p string, body []byte, hdr map[string]string) (int, []byte) {
	c, _, base, _ := cl.current()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, davURL(base, p), r)
	if err != nil {
		cl.t.Error(err)
		return 0, nil
	}
	for k, v := range hdr {
		if k == "Destination" {
			v = davURL(base, v)
		}
		req.Header.Set(k, v)
	}
	req.SetBasicAuth(cl.user, cl.app)
	res, err := c.Do(req)
	if err != nil {
		return 0, nil
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil
	}
	return res.StatusCode, b
}

// api sends a request of the web UI's upload API.
func (cl *crashClient) api(method, p string, body []byte, v any) int {
	_, web, base, csrf := cl.current()
	req, err := http.NewRequest(method, base+p, bytes.NewReader(body))
	if err != nil {
		cl.t.Error(err)
		return 0
	}
	req.Header.Set("X-CSRF-Token", csrf)
	if method == "POST" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := web.Do(req)
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0
	}
	if v != nil && res.StatusCode/100 == 2 {
		if err := json.Unmarshal(b, v); err != nil {
			cl.t.Errorf("%s %s: %v", method, p, err)
		}
	}
	return res.StatusCode
}

// crashWorker does random actions in its own folder and keeps what the
// tree must look like: files (path → SHA-256) and folders.
type crashWorker struct {
	dir   string
	web   bool // uploads through the web UI's resumable upload API
	seed  uint64
	n     int
	files map[string][32]byte
	dirs  map[string]bool
	acked []crashAck
	// stored is the bytes of every object the worker's puts made: all of
	// them stay referenced (versions, trash), none is shared by a put.
	stored int64
	// pending is the action that had no answer when the daemon died.
	pending *crashOp
}

type crashOp struct {
	action   string
	from, to string   // to is the path written; from the source of a move or copy
	sum      [32]byte // content written by a put
	size     int64
	old      *[32]byte
	upload   string // the web upload session of a put, once begun
}

func crashContent(r *rand.Rand) []byte {
	var size int
	if r.IntN(4) == 0 {
		size = 4<<20 + 1 + r.IntN(5<<20) // two or three chunks
	} else {
		size = 64<<10 + 1 + r.IntN(256<<10) // over the inline limit
	}
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], r.Uint64())
	b := make([]byte, size)
	rand.NewChaCha8(seed).Read(b)
	return b
}

func (w *crashWorker) name(prefix string) string {
	w.n++
	return fmt.Sprintf("%s%d", prefix, w.n)
}

func (w *crashWorker) randomFile(r *rand.Rand) (string, bool) {
	if len(w.files) == 0 {
		return "", false
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range w.files {
			if !yield(k) {
				return
			}
		}
	})
	return keys[r.IntN(len(keys))], true
}

func (w *crashWorker) randomDir(r *rand.Rand) string {
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range w.dirs {
			if !yield(k) {
				return
			}
		}
	})
	return keys[r.IntN(len(keys))]
}

// run does actions until stop is closed or an action has no answer.
func (w *crashWorker) run(cl *crashClient, stop <-chan struct{}) {
	w.seed++
	r := rand.New(rand.NewPCG(w.seed, uint64(time.Now().UnixNano())))
	for {
		select {
		case <-stop:
			return
		default:
		}
		op := w.next(r)
		ok := w.do(cl, r, op)
		if !ok {
			w.pending = op
			return
		}
		w.apply(op)
	}
}

func (w *crashWorker) next(r *rand.Rand) *crashOp {
	f, have := w.randomFile(r)
	x := r.IntN(100)
	switch {
	case !have || x < 35:
		return &crashOp{action: audit.ActionFileWrite, to: w.randomDir(r) + "/" + w.name("f")}
	case x < 55:
		return &crashOp{action: audit.ActionFileWrite, to: f}
	case x < 67:
		return &crashOp{action: audit.ActionFileMove, from: f, to: w.randomDir(r) + "/" + w.name("m")}
	case x < 79:
		return &crashOp{action: audit.ActionFileCopy, from: f, to: w.randomDir(r) + "/" + w.name("c")}
	case x < 86:
		return &crashOp{action: audit.ActionFileDelete, to: f}
	case x < 93:
		return &crashOp{action: audit.ActionFileRead, to: f}
	default:
		return &crashOp{action: audit.ActionFolderCreate, to: w.randomDir(r) + "/" + w.name("d")}
	}
}

// do sends op and reports whether it was answered with success; another
// answer fails the test.
func (w *crashWorker) do(cl *crashClient, r *rand.Rand, op *crashOp) bool {
	if h, ok := w.files[op.to]; ok {
		op.old = &h
	}
	var st int
	want := []int{201, 204}
	switch op.action {
	case audit.ActionFileWrite:
		b := crashContent(r)
		op.sum, op.size = sha256.Sum256(b), int64(len(b))
		if w.web {
			return w.upload(cl, op, b)
		}
		st = cl.dav("PUT", op.to, b, nil)
	case audit.ActionFileMove, audit.ActionFileCopy:
		op.sum = w.files[op.from]
		method := "MOVE"
		if op.action == audit.ActionFileCopy {
			method = "COPY"
		}
		st = cl.dav(method, op.from, nil, map[string]string{"Destination": op.to, "Overwrite": "F"})
	case audit.ActionFileDelete:
		st = cl.dav("DELETE", op.to, nil, nil)
	case audit.ActionFileRead:
		var b []byte
		if st, b = cl.davBody("GET", op.to, nil, nil); st == 200 && sha256.Sum256(b) != *op.old {
			cl.t.Errorf("GET %s while others write: wrong content", op.to)
		}
		want = []int{200}
	case audit.ActionFolderCreate:
		st = cl.dav("MKCOL", op.to, nil, nil)
		want = []int{201}
	}
	if st == 0 {
		return false
	}
	if !slices.Contains(want, st) {
		cl.t.Errorf("%s %s (from %q): %d", op.action, op.to, op.from, st)
		return false
	}
	return true
}

// upload sends b through the resumable upload API in chunks of 1 MiB.
func (w *crashWorker) upload(cl *crashClient, op *crashOp, b []byte) bool {
	var u struct {
		ID string `json:"id"`
	}
	req, _ := json.Marshal(map[string]any{"path": op.to, "size": len(b)})
	if st := cl.api("POST", "/t/kanzlei/uploads", req, &u); st != 201 {
		if st != 0 {
			cl.t.Errorf("begin upload of %s: %d", op.to, st)
		}
		return false
	}
	op.upload = u.ID
	for n := 0; n*(1<<20) < len(b); n++ {
		chunk := b[n*(1<<20) : min(len(b), (n+1)*(1<<20))]
		if st := cl.api("PUT", fmt.Sprintf("/t/kanzlei/uploads/%s/%d", u.ID, n), chunk, nil); st != 200 {
			if st != 0 {
				cl.t.Errorf("chunk %d of %s: %d", n, op.to, st)
			}
			return false
		}
	}
	st := cl.api("POST", "/t/kanzlei/uploads/"+u.ID+"/commit", nil, nil)
	if st != 200 && st != 0 {
		cl.t.Errorf("commit upload of %s: %d", op.to, st)
	}
	return st == 200
}

func (w *crashWorker) apply(op *crashOp) {
	switch op.action {
	case audit.ActionFileWrite:
		w.files[op.to] = op.sum
		w.stored += op.size
	case audit.ActionFileMove:
		delete(w.files, op.from)
		w.files[op.to] = op.sum
	case audit.ActionFileCopy:
		w.files[op.to] = op.sum
	case audit.ActionFileDelete:
		delete(w.files, op.to)
	case audit.ActionFolderCreate:
		w.dirs[op.to] = true
	}
	w.acked = append(w.acked, crashAck{op.action, op.to})
}

// state reads a file: its hash and whether it exists.
func (cl *crashClient) state(p string) ([32]byte, bool) {
	st, b := cl.davBody("GET", p, nil, nil)
	switch st {
	case 200:
		return sha256.Sum256(b), true
	case 404:
		return [32]byte{}, false
	}
	cl.t.Fatalf("GET %s after restart: %d", p, st)
	return [32]byte{}, false
}

// resolve finds out whether the action cut off by the kill happened: it
// must have happened completely or not at all.
func (w *crashWorker) resolve(cl *crashClient) {
	op := w.pending
	w.pending = nil
	if op == nil {
		return
	}
	t := cl.t
	if op.upload != "" {
		// Left open (or done) by the kill: given up, its chunks go.
		if st := cl.api("DELETE", "/t/kanzlei/uploads/"+op.upload, nil, nil); st != 204 && st != 404 {
			t.Errorf("abort upload %s after restart: %d", op.upload, st)
		}
	}
	switch op.action {
	case audit.ActionFileWrite:
		h, ok := cl.state(op.to)
		switch {
		case ok && h == op.sum:
			w.apply(op)
		case op.old == nil && !ok, op.old != nil && ok && h == *op.old:
		default:
			t.Errorf("cut-off write of %s left neither the old nor the new content (exists %v)", op.to, ok)
		}
	case audit.ActionFileMove, audit.ActionFileCopy:
		src, sok := cl.state(op.from)
		dst, dok := cl.state(op.to)
		switch {
		case !dok && sok && src == op.sum:
		case dok && dst == op.sum && (sok == (op.action == audit.ActionFileCopy)) && (!sok || src == op.sum):
			w.apply(op)
		default:
			t.Errorf("cut-off %s of %s to %s: source exists %v, destination exists %v (right content %v)", op.action, op.from, op.to, sok, dok, dst == op.sum)
		}
	case audit.ActionFileDelete:
		h, ok := cl.state(op.to)
		switch {
		case !ok:
			w.apply(op)
		case h != *op.old:
			t.Errorf("cut-off delete of %s changed its content", op.to)
		}
	case audit.ActionFolderCreate:
		st := cl.dav("PROPFIND", op.to, nil, map[string]string{"Depth": "0"})
		switch st {
		case 207:
			w.apply(op)
		case 404:
		default:
			t.Errorf("PROPFIND %s after a cut-off MKCOL: %d", op.to, st)
		}
	}
}

// quotaUsed is the tenant's used bytes as WebDAV reports them.
func (cl *crashClient) quotaUsed() int64 {
	body := []byte(`<?xml version="1.0"?><propfind xmlns="DAV:"><prop><quota-used-bytes/></prop></propfind>`)
	st, b := cl.davBody("PROPFIND", "", body, map[string]string{"Depth": "0", "Content-Type": "application/xml"})
	var ms struct {
		Used []string `xml:"response>propstat>prop>quota-used-bytes"`
	}
	if err := xml.Unmarshal(b, &ms); st != 207 || err != nil || len(ms.Used) != 1 {
		cl.t.Fatalf("PROPFIND quota-used-bytes: %d %v\n%s", st, err, b)
	}
	var n int64
	fmt.Sscan(ms.Used[0], &n)
	return n
}

type davMultistatus struct {
	Responses []struct {
		Href     string `xml:"href"`
		Propstat []struct {
			Prop struct {
				Length       string `xml:"getcontentlength"`
				ResourceType struct {
					Collection *struct{} `xml:"collection"`
				} `xml:"resourcetype"`
			} `xml:"prop"`
		} `xml:"propstat"`
	} `xml:"response"`
}

// check reads every file the worker has and compares the listing of every
// folder with GET and with what must be there.
func (w *crashWorker) check(cl *crashClient) {
	t := cl.t
	for p, want := range w.files {
		if h, ok := cl.state(p); !ok || h != want {
			t.Errorf("acknowledged content of %s: exists %v, right content %v", p, ok, h == want)
		}
	}
	_, _, base, _ := cl.current()
	prefix, _ := url.Parse(davURL(base, ""))
	for d := range w.dirs {
		st, body := cl.davBody("PROPFIND", d, nil, map[string]string{"Depth": "1"})
		if st != 207 {
			t.Errorf("PROPFIND %s: %d", d, st)
			continue
		}
		var ms davMultistatus
		if err := xml.Unmarshal(body, &ms); err != nil {
			t.Errorf("PROPFIND %s: %v", d, err)
			continue
		}
		listed := map[string]string{}
		for _, r := range ms.Responses {
			u, err := url.Parse(r.Href)
			if err != nil {
				t.Errorf("href %q: %v", r.Href, err)
				continue
			}
			p := strings.Trim(strings.TrimPrefix(u.Path, prefix.Path), "/")
			if p == d {
				continue
			}
			kind := "dir"
			for _, ps := range r.Propstat {
				if ps.Prop.ResourceType.Collection == nil && ps.Prop.Length != "" {
					kind = ps.Prop.Length
				}
			}
			listed[p] = kind
		}
		want := map[string]string{}
		for p := range w.files {
			if filepath.Dir(p) == d {
				_, b := cl.davBody("GET", p, nil, nil)
				want[p] = fmt.Sprint(len(b))
			}
		}
		for p := range w.dirs {
			if p != d && filepath.Dir(p) == d {
				want[p] = "dir"
			}
		}
		if fmt.Sprint(listed) != fmt.Sprint(want) {
			t.Errorf("PROPFIND %s lists %v, GET and the acknowledged actions say %v", d, listed, want)
		}
	}
}

// TestE2ECrashTenantDelete kills the daemon while it deletes a tenant
// full of files: after the restart the tenant is either still there with
// all its files or gone from every disk, the other tenant is untouched,
// the appliance log verifies, and a new tenant of the same name starts
// empty.
func TestE2ECrashTenantDelete(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the daemon several times")
	}
	e := newTenantEnv(t)
	anna := account{"kanzlei", "anna", e.secret("anna", "Rose-Kanzlei-Passwort-1"), "admin"}
	e.must("tenant", "create", "kanzlei", "--admin", "anna", "--admin-password-file", anna.pwFile, "--require-2fa=false")
	kanzlei := &davClient{t: t, user: "anna", pw: appPassword(t, e, anna)}
	r := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	kept := map[string][32]byte{}
	for i := range 5 {
		b := crashContent(r)
		kept[fmt.Sprintf("k%d", i)] = sha256.Sum256(b)
		kanzlei.base, kanzlei.c = e.d.base+"/dav/kanzlei", e.d.client
		kanzlei.put(fmt.Sprintf("k%d", i), b)
	}
	for round := range 3 {
		bruno := account{"notariat", "bruno", e.secret("bruno", "Eiche-Notariat-Passwort-4"), "admin"}
		e.must("tenant", "create", "notariat", "--admin", "bruno", "--admin-password-file", bruno.pwFile, "--require-2fa=false")
		notariat := &davClient{t: t, base: e.d.base + "/dav/notariat", user: "bruno", pw: appPassword(t, e, bruno), c: e.d.client}
		// A fresh tenant of the name sees nothing of the one deleted.
		req, _ := http.NewRequest("PROPFIND", notariat.base+"/", nil)
		req.Header.Set("Depth", "1")
		req.SetBasicAuth(notariat.user, notariat.pw)
		res, err := notariat.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var ms davMultistatus
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if err := xml.Unmarshal(body, &ms); res.StatusCode != 207 || err != nil || len(ms.Responses) != 1 {
			t.Fatalf("round %d: PROPFIND of the new notariat: %s %v\n%s", round, res.Status, err, body)
		}
		files := map[string][32]byte{}
		for i := range 12 {
			b := crashContent(r)
			files[fmt.Sprintf("n%d", i)] = sha256.Sum256(b)
			notariat.put(fmt.Sprintf("n%d", i), b)
		}

		del := exec.Command(binPath, "tenant", "delete", "notariat", "--confirm", "notariat")
		del.Env = append(os.Environ(), "TRESOR_DATA_DIR="+e.dataDir)
		if err := del.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(r.IntN(300)) * time.Millisecond)
		e.d.cmd.Process.Signal(syscall.SIGKILL)
		<-e.d.exited
		delErr := del.Wait()
		e.d = startDaemon(t, e.dataDir)

		var list []struct{ Slug, State string }
		if err := json.Unmarshal([]byte(e.must("tenant", "list", "--json")), &list); err != nil {
			t.Fatal(err)
		}
		state := ""
		for _, v := range list {
			if v.Slug == "notariat" {
				state = v.State
			}
		}
		t.Logf("round %d: delete answered %v; after the restart notariat is %q", round, delErr, state)
		switch state {
		case "":
			if delErr == nil {
				t.Logf("round %d: deleted before the kill", round)
			}
		case "active":
			if delErr == nil {
				t.Fatalf("round %d: an acknowledged deletion is undone", round)
			}
			notariat.base, notariat.c = e.d.base+"/dav/notariat", e.d.client
			for name, h := range files {
				if sha256.Sum256(notariat.get(name)) != h {
					t.Fatalf("round %d: %s of the tenant not deleted changed", round, name)
				}
			}
			e.must("tenant", "delete", "notariat", "--confirm", "notariat")
		default:
			t.Fatalf("round %d: notariat left %q after the restart", round, state)
		}
		for _, d := range e.disks {
			if _, err := os.Stat(filepath.Join(d, "tresor", "ns", "notariat")); !os.IsNotExist(err) {
				t.Errorf("round %d: %s still holds notariat's files (%v)", round, d, err)
			}
		}
		kanzlei.base, kanzlei.c = e.d.base+"/dav/kanzlei", e.d.client
		for name, h := range kept {
			if sha256.Sum256(kanzlei.get(name)) != h {
				t.Fatalf("round %d: kanzlei's %s changed", round, name)
			}
		}
		if out := e.must("audit", "verify"); !strings.Contains(out, "OK") {
			t.Fatalf("round %d: appliance audit verify: %s", round, out)
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	stopRestarted(t, e)
}

// TestE2ECrashUploadCommit kills the daemon while it commits a resumable
// upload of the web UI (a new version of one file each round): after the
// restart the file holds the old content or the new, the session either
// is done or resumes with every acknowledged chunk and commits, the
// tenant's used bytes count each version once, and the chunks of sessions
// cut off after their commit are collected.
func TestE2ECrashUploadCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the daemon several times")
	}
	e := newTenantEnv(t)
	anna := account{"kanzlei", "anna", e.secret("anna", "Rose-Kanzlei-Passwort-1"), "admin"}
	e.must("tenant", "create", "kanzlei", "--admin", "anna", "--admin-password-file", anna.pwFile, "--require-2fa=false")
	cl := &crashClient{t: t, e: e, user: "anna", app: appPassword(t, e, anna), pw: "Rose-Kanzlei-Passwort-1"}
	cl.connect()
	r := rand.New(rand.NewPCG(2, uint64(time.Now().UnixNano())))
	const chunk = 1 << 20
	var stored int64
	var current *[32]byte
	rounds := 4
	for round := range rounds {
		b := make([]byte, 8<<20+r.IntN(8<<20))
		var seed [32]byte
		binary.LittleEndian.PutUint64(seed[:], r.Uint64())
		rand.NewChaCha8(seed).Read(b)
		sum := sha256.Sum256(b)
		var u struct {
			ID       string `json:"id"`
			Chunks   int    `json:"chunks"`
			Received int64  `json:"received"`
		}
		req, _ := json.Marshal(map[string]any{"path": "akte.bin", "size": len(b)})
		if st := cl.api("POST", "/t/kanzlei/uploads", req, &u); st != 201 {
			t.Fatalf("round %d: begin: %d", round, st)
		}
		chunks := 0
		for ; chunks*chunk < len(b); chunks++ {
			if st := cl.api("PUT", fmt.Sprintf("/t/kanzlei/uploads/%s/%d", u.ID, chunks), b[chunks*chunk:min(len(b), (chunks+1)*chunk)], nil); st != 200 {
				t.Fatalf("round %d: chunk %d: %d", round, chunks, st)
			}
		}
		answered := make(chan int, 1)
		go func() { answered <- cl.api("POST", "/t/kanzlei/uploads/"+u.ID+"/commit", nil, nil) }()
		time.Sleep(time.Duration(r.IntN(600)) * time.Millisecond)
		e.d.cmd.Process.Signal(syscall.SIGKILL)
		<-e.d.exited
		st := <-answered
		e.d = startDaemon(t, e.dataDir)
		cl.connect()

		h, ok := cl.state("akte.bin")
		committed := ok && h == sum
		switch {
		case st == 200 && !committed:
			t.Fatalf("round %d: an acknowledged commit is lost (file there %v)", round, ok)
		case !committed && (current == nil) != !ok, !committed && ok && h != *current:
			t.Fatalf("round %d: a cut-off commit left neither the old nor the new content", round)
		}
		gst := cl.api("GET", "/t/kanzlei/uploads/"+u.ID, nil, &u)
		switch {
		case committed && gst != 404:
			t.Fatalf("round %d: the session of a committed upload answers %d", round, gst)
		case !committed && gst != 200:
			t.Fatalf("round %d: the session of an upload not committed answers %d", round, gst)
		case !committed && (u.Chunks != chunks || u.Received != int64(len(b))):
			t.Fatalf("round %d: acknowledged chunks lost: %d chunks (%d bytes) of %d (%d)", round, u.Chunks, u.Received, chunks, len(b))
		case !committed:
			// As the browser does: the session is complete, commit again.
			if st := cl.api("POST", "/t/kanzlei/uploads/"+u.ID+"/commit", nil, nil); st != 200 {
				t.Fatalf("round %d: commit after the restart: %d", round, st)
			}
			if h, ok := cl.state("akte.bin"); !ok || h != sum {
				t.Fatalf("round %d: commit after the restart did not write the file", round)
			}
		}
		t.Logf("round %d: commit answered %d, committed before the kill %v", round, st, committed)
		stored += int64(len(b))
		current = &sum
		if used := cl.quotaUsed(); used != stored {
			t.Fatalf("round %d: the tenant uses %d bytes, its versions hold %d", round, used, stored)
		}
	}
	// A new session finishes the sessions done but not cleared (as the
	// daemon's retention would); then only the versions have objects.
	var u struct {
		ID string `json:"id"`
	}
	if st := cl.api("POST", "/t/kanzlei/uploads", []byte(`{"path":"leer.bin","size":1}`), &u); st != 201 {
		t.Fatalf("begin: %d", st)
	}
	if st := cl.api("DELETE", "/t/kanzlei/uploads/"+u.ID, nil, nil); st != 204 {
		t.Fatalf("abort: %d", st)
	}
	var rep struct {
		Objects int64 `json:"objects"`
	}
	if err := json.Unmarshal([]byte(lastJSON(e.must("pool", "scrub", "--json"))), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Objects != int64(rounds) {
		t.Errorf("%d objects in the pool for %d versions of one file", rep.Objects, rounds)
	}
	stopRestarted(t, e)
}

// TestE2ECrashRetention kills the daemon while the retention job purges
// old versions and the trash: after the restart every current version
// reads back, and once the job ran to the end the tenant's used bytes and
// the pool's objects are exactly the current versions' (nothing purged
// half, no object left without a reference), and the audit log verifies.
func TestE2ECrashRetention(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the daemon several times")
	}
	e := newTenantEnv(t)
	anna := account{"kanzlei", "anna", e.secret("anna", "Rose-Kanzlei-Passwort-1"), "admin"}
	e.must("tenant", "create", "kanzlei", "--admin", "anna", "--admin-password-file", anna.pwFile, "--require-2fa=false")
	cl := &crashClient{t: t, e: e, user: "anna", app: appPassword(t, e, anna), pw: "Rose-Kanzlei-Passwort-1"}
	cl.connect()
	// Keep no old version and empty the trash at once.
	_, web, base, csrf := cl.current()
	res, err := web.Get(base + "/t/kanzlei/admin/settings")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	form := url.Values{}
	attr := func(tag, name string) (string, bool) {
		m := regexp.MustCompile(`\s` + name + `(?:="([^"]*)")?`).FindStringSubmatch(tag)
		if m == nil {
			return "", false
		}
		return m[1], true
	}
	for _, tag := range regexp.MustCompile(`<input[^>]*>`).FindAllString(string(page), -1) {
		name, _ := attr(tag, "name")
		value, _ := attr(tag, "value")
		typ, _ := attr(tag, "type")
		if _, checked := attr(tag, "checked"); (typ == "checkbox" || typ == "radio") && !checked {
			continue
		}
		if name != "" {
			form.Add(name, value)
		}
	}
	for k, v := range map[string]string{"versions": "0", "keep_all_days": "0", "version_days": "0", "trash_days": "0", "csrf": csrf} {
		form.Set(k, v)
	}
	res, err = web.PostForm(base+"/t/kanzlei/admin/settings", form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(res.Request.URL.RawQuery, "done=saved") {
		t.Fatalf("retention settings: %d %s", res.StatusCode, res.Request.URL)
	}

	r := rand.New(rand.NewPCG(3, uint64(time.Now().UnixNano())))
	current := map[string][32]byte{}
	sizes := map[string]int64{}
	for round := range 3 {
		// Files with old versions, and files in the trash.
		for i := range 16 {
			name := fmt.Sprintf("r%d-%d", round, i)
			for range 1 + r.IntN(3) {
				b := crashContent(r)
				if st := cl.dav("PUT", name, b, nil); st != 201 && st != 204 {
					t.Fatalf("PUT %s: %d", name, st)
				}
				current[name], sizes[name] = sha256.Sum256(b), int64(len(b))
			}
			if i%3 == 0 {
				if st := cl.dav("DELETE", name, nil, nil); st != 204 {
					t.Fatalf("DELETE %s: %d", name, st)
				}
				delete(current, name)
				delete(sizes, name)
			}
		}
		job := exec.Command(binPath, "job", "run", "retention")
		job.Env = append(os.Environ(), "TRESOR_DATA_DIR="+e.dataDir)
		if err := job.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(r.IntN(250)) * time.Millisecond)
		e.d.cmd.Process.Signal(syscall.SIGKILL)
		<-e.d.exited
		t.Logf("round %d: retention job answered %v", round, job.Wait())
		e.d = startDaemon(t, e.dataDir)
		cl.connect()
		for name, h := range current {
			if got, ok := cl.state(name); !ok || got != h {
				t.Fatalf("round %d: %s after a cut-off retention run: there %v, right content %v", round, name, ok, got == h)
			}
		}
		e.must("job", "run", "retention")
		var want int64
		for _, n := range sizes {
			want += n
		}
		if used := cl.quotaUsed(); used != want {
			t.Errorf("round %d: the tenant uses %d bytes after retention, its current versions hold %d", round, used, want)
		}
		var rep struct {
			Objects int64 `json:"objects"`
		}
		if err := json.Unmarshal([]byte(lastJSON(e.must("pool", "scrub", "--json"))), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Objects != int64(len(current)) {
			t.Errorf("round %d: %d objects in the pool for %d current versions", round, rep.Objects, len(current))
		}
		if out := e.must(append([]string{"audit", "verify"}, anna.flags()...)...); !strings.Contains(out, "OK: audit log kanzlei") {
			t.Fatalf("round %d: audit verify: %s", round, out)
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	stopRestarted(t, e)
}

// TestE2ECrashDuringReplace kills the daemon while it rebuilds a lost disk
// onto a new one: after the restart the admin runs the same replace again
// and it resumes onto the half-filled new disk, after which the pool is
// whole and every file reads back.
func TestE2ECrashDuringReplace(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the daemon")
	}
	e := newTenantEnv(t)
	anna := account{"kanzlei", "anna", e.secret("anna", "Rose-Kanzlei-Passwort-1"), "admin"}
	e.must("tenant", "create", "kanzlei", "--admin", "anna", "--admin-password-file", anna.pwFile, "--require-2fa=false")
	cl := &crashClient{t: t, e: e, user: "anna", app: appPassword(t, e, anna), pw: "Rose-Kanzlei-Passwort-1"}
	cl.connect()
	r := rand.New(rand.NewPCG(4, uint64(time.Now().UnixNano())))
	files := map[string][32]byte{}
	for i := range 120 {
		b := make([]byte, 64<<10+1+r.IntN(64<<10))
		var seed [32]byte
		binary.LittleEndian.PutUint64(seed[:], r.Uint64())
		rand.NewChaCha8(seed).Read(b)
		name := fmt.Sprintf("f%d", i)
		if st := cl.dav("PUT", name, b, nil); st != 201 {
			t.Fatalf("PUT %s: %d", name, st)
		}
		files[name] = sha256.Sum256(b)
	}
	// Disk 1 dies; a new disk takes its place, and the daemon dies while
	// it rebuilds.
	if err := os.RemoveAll(e.disks[1]); err != nil {
		t.Fatal(err)
	}
	newDisk := filepath.Join(e.root, "disk9")
	os.Mkdir(newDisk, 0o700)
	replace := exec.Command(binPath, "pool", "replace", "1", newDisk)
	replace.Env = append(os.Environ(), "TRESOR_DATA_DIR="+e.dataDir)
	if err := replace.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(newDisk, "tresor", "format.json")); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	e.d.cmd.Process.Signal(syscall.SIGKILL)
	<-e.d.exited
	replace.Wait()
	if strings.Contains(readFile(t, filepath.Join(e.dataDir, "pool.json")), newDisk) {
		t.Skip("the rebuild finished before the kill")
	}
	e.d = startDaemon(t, e.dataDir)
	cl.connect()

	if out, errOut, code := e.run("pool", "replace", "1", newDisk); code != 0 {
		t.Fatalf("replace again after the crash: exit %d: %s %s", code, out, errOut)
	}
	var st struct{ Health string }
	if err := json.Unmarshal([]byte(e.must("pool", "status", "--json")), &st); err != nil || st.Health != "ok" {
		t.Fatalf("pool health after the resumed replace: %q (%v)", st.Health, err)
	}
	var rep struct {
		Damaged  int      `json:"damaged_shard_files"`
		Unhealed []string `json:"unhealed_objects"`
		Errors   []string `json:"errors"`
	}
	out := e.must("pool", "scrub", "--json")
	if err := json.Unmarshal([]byte(lastJSON(out)), &rep); err != nil || rep.Damaged != 0 || len(rep.Unhealed) != 0 || len(rep.Errors) != 0 {
		t.Fatalf("scrub after the resumed replace: %v\n%s", err, out)
	}
	for name, h := range files {
		if got, ok := cl.state(name); !ok || got != h {
			t.Fatalf("%s after the resumed replace: there %v, right content %v", name, ok, got == h)
		}
	}
	stopRestarted(t, e)
}

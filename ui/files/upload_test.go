package files

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tresor/appliance/gate"
)

// prng is an endless deterministic incompressible stream; the test never
// holds the file it uploads.
type prng struct{ x uint64 }

func (p *prng) Read(b []byte) (int, error) {
	for i := range b {
		p.x ^= p.x << 13
		p.x ^= p.x >> 7
		p.x ^= p.x << 17
		b[i] = byte(p.x >> 32)
	}
	return len(b), nil
}

func (c *client) json(method, path string, body io.Reader, size int64, into any) int {
	c.e.t.Helper()
	req, err := http.NewRequest(method, c.e.srv.URL+path, body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	req.ContentLength = size
	req.Header.Set("Accept", "application/json")
	req.Header.Set(gate.CSRFHeader, c.csrf)
	req.Header.Set("Origin", c.e.srv.URL)
	res, err := c.c.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if into != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(b, into); err != nil {
			c.e.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	if res.StatusCode >= 300 {
		c.e.t.Logf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	return res.StatusCode
}

// cutChunk sends a PUT of chunk n announcing size bytes, sends half of
// them and drops the connection, as a train entering a tunnel does.
func (c *client) cutChunk(id string, n int, body io.Reader, size int64) {
	c.e.t.Helper()
	u, _ := url.Parse(c.e.srv.URL)
	conn, err := tls.Dial("tcp", u.Host, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		c.e.t.Fatal(err)
	}
	var cookies []string
	for _, ck := range c.c.Jar.Cookies(u) {
		cookies = append(cookies, ck.Name+"="+ck.Value)
	}
	w := bufio.NewWriter(conn)
	fmt.Fprintf(w, "PUT /t/%s/uploads/%s/%d HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nCookie: %s\r\n%s: %s\r\nOrigin: %s\r\n\r\n",
		c.slug, id, n, u.Host, size, strings.Join(cookies, "; "), gate.CSRFHeader, c.csrf, c.e.srv.URL)
	if _, err := io.CopyN(w, body, size/2); err != nil {
		c.e.t.Fatal(err)
	}
	w.Flush()
	conn.Close()
}

// TestResumableUpload uploads a file in 8 MiB chunks over HTTP, cuts the
// connection in the middle of a chunk, asks where to resume, resumes, and
// commits; the stored file has the hash of what was sent. It samples the
// heap all along: memory stays bounded by the chunking, not by the file
// (200 MiB; 40 MiB with -short).
func TestResumableUpload(t *testing.T) {
	size, chunk := int64(200<<20), int64(8<<20)
	if testing.Short() {
		size, chunk = 10<<20+12345, 2<<20
	}
	e := newEnv(t, Options{ChunkSize: chunk})

	c := e.login("kanzlei")

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseHeap := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	})

	var st uploadState
	begin := fmt.Sprintf(`{"path":"/Scans/Akte 2024.pdf","size":%d,"mtime":1714564800000,"parents":true}`, size)
	if code := c.json("POST", "/t/kanzlei/uploads", strings.NewReader(begin), int64(len(begin)), &st); code != 201 || st.ChunkSize != chunk {
		t.Fatalf("begin: %d %+v", code, st)
	}
	src := &prng{x: 42}
	sum := sha256.New()
	start := time.Now()
	cut := 2
	for n := 0; int64(n)*chunk < size; n++ {
		// A resend must send the same bytes: a real client slices the
		// file again, this test restarts the generator from the chunk's
		// start.
		at := *src
		sz := min(chunk, size-int64(n)*chunk)
		if n == cut {
			p := at
			c.cutChunk(st.ID, n, &p, sz)
			// The server acknowledged chunks 0..n-1 only.
			var now uploadState
			deadline := time.Now().Add(5 * time.Second)
			for {
				if code := c.json("GET", "/t/kanzlei/uploads/"+st.ID, nil, 0, &now); code != 200 {
					t.Fatalf("state: %d", code)
				}
				if now.Chunks == n || time.Now().After(deadline) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if now.Chunks != n || now.Received != int64(n)*chunk {
				t.Fatalf("after the cut: %+v, want %d chunks", now, n)
			}
		}
		if code := c.json("PUT", fmt.Sprintf("/t/kanzlei/uploads/%s/%d", st.ID, n), io.TeeReader(io.LimitReader(src, sz), sum), sz, &st); code != 200 {
			t.Fatalf("chunk %d: %d", n, code)
		}
	}
	// A chunk out of order is refused, and an acknowledged one repeated is
	// accepted without change.
	if code := c.json("PUT", fmt.Sprintf("/t/kanzlei/uploads/%s/%d", st.ID, st.Chunks+1), strings.NewReader("x"), 1, nil); code != 409 {
		t.Errorf("chunk after the end: %d, want 409", code)
	}
	var done committed
	if code := c.json("POST", "/t/kanzlei/uploads/"+st.ID+"/commit", nil, 0, &done); code != 200 || done.Size != size {
		t.Fatalf("commit: %d %+v", code, done)
	}
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	grown := int64(peak.Load()) - int64(baseHeap)
	t.Logf("uploaded %d MiB in %v (%.0f MB/s, with one cut and resume); heap peak %d MiB above the start",
		size>>20, elapsed.Round(time.Millisecond), float64(size)/elapsed.Seconds()/1e6, grown>>20)
	if grown > 160<<20 || !testing.Short() && grown > size/2 {
		t.Errorf("heap grew by %d MiB for a %d MiB upload: not bounded by the chunks", grown>>20, size>>20)
	}

	// What is stored is what was sent.
	f, err := e.tree("kanzlei").Open(context.Background(), "Scans/Akte 2024.pdf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := sha256.New()
	if _, err := io.Copy(got, f); err != nil {
		t.Fatal(err)
	}
	if string(got.Sum(nil)) != string(sum.Sum(nil)) {
		t.Fatal("stored content differs from what was sent")
	}
	if mt := f.Info().ModTime; !mt.Equal(time.UnixMilli(1714564800000)) {
		t.Errorf("mtime %v", mt)
	}
	if code := c.json("GET", "/t/kanzlei/uploads/"+st.ID, nil, 0, nil); code != 404 {
		t.Errorf("session after commit: %d, want 404", code)
	}
}

// TestUploadAPIRefusals: the session API refuses what it must.
func TestUploadAPIRefusals(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.login("kanzlei")
	other := e.login("praxis")
	var st uploadState
	begin := `{"path":"/a.txt","size":3}`
	if code := c.json("POST", "/t/kanzlei/uploads", strings.NewReader(begin), int64(len(begin)), &st); code != 201 {
		t.Fatal(code)
	}
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
	}{
		{"bad json", "POST", "/t/kanzlei/uploads", `{`, 400},
		{"no parent", "POST", "/t/kanzlei/uploads", `{"path":"/fehlt/a.txt","size":1}`, 404},
		{"bad name", "POST", "/t/kanzlei/uploads", `{"path":"/a\u0000b","size":1}`, 422},
		{"bad id", "GET", "/t/kanzlei/uploads/xyz", ``, 404},
		{"bad chunk number", "PUT", "/t/kanzlei/uploads/" + st.ID + "/-1", `abc`, 400},
		{"too long", "PUT", "/t/kanzlei/uploads/" + st.ID + "/0", `abcd`, 422},
		{"early commit", "POST", "/t/kanzlei/uploads/" + st.ID + "/commit", ``, 409},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code := c.json(tc.method, tc.path, strings.NewReader(tc.body), int64(len(tc.body)), nil); code != tc.code {
				t.Errorf("%s %s: %d, want %d", tc.method, tc.path, code, tc.code)
			}
		})
	}
	// Another tenant's session does not reach this upload.
	if code := other.json("GET", "/t/kanzlei/uploads/"+st.ID, nil, 0, nil); code != 401 {
		t.Errorf("other tenant: %d, want 401", code)
	}
	if code := c.json("DELETE", "/t/kanzlei/uploads/"+st.ID, nil, 0, nil); code != 204 {
		t.Errorf("abort: %d", code)
	}
}

// TestUploadIntoVanishedFolder: an upload into a folder that was deleted
// (or moved) since the page was loaded fails; it does not make a new,
// empty folder of that name, which would lack the old one's grants and
// sensitivity marks. Folders of a folder upload are made below it only.
func TestUploadIntoVanishedFolder(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.login("kanzlei")
	tr := e.tree("kanzlei")
	ctx := context.Background()
	if _, err := tr.Mkdir(ctx, "Akten"); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Delete(ctx, "Akten"); err != nil {
		t.Fatal(err)
	}
	gone := func(step string) {
		t.Helper()
		if _, err := tr.Stat(ctx, "Akten"); err == nil {
			t.Fatalf("%s: the deleted folder was made again", step)
		}
	}
	// The form without script: a file, and a folder chosen whole.
	if code, _ := c.upload("/t/kanzlei/files/Akten/", map[string][]byte{"brief.txt": []byte("x")}); code != 404 {
		t.Errorf("form upload of a file: %d, want 404", code)
	}
	gone("form upload of a file")
	if code, _ := c.upload("/t/kanzlei/files/Akten/", map[string][]byte{"Neu/brief.txt": []byte("x")}); code != 404 {
		t.Errorf("form upload of a folder: %d, want 404", code)
	}
	gone("form upload of a folder")
	// The script's folder upload names the folder of the page.
	begin := `{"path":"/Akten/Neu/brief.txt","size":1,"parents":true,"dir":"/Akten"}`
	if code := c.json("POST", "/t/kanzlei/uploads", strings.NewReader(begin), int64(len(begin)), nil); code != 404 {
		t.Errorf("script upload of a folder: %d, want 404", code)
	}
	gone("script upload of a folder")
	outside := `{"path":"/Anderes/brief.txt","size":1,"parents":true,"dir":"/Akten"}`
	if code := c.json("POST", "/t/kanzlei/uploads", strings.NewReader(outside), int64(len(outside)), nil); code != 400 {
		t.Errorf("script upload outside its folder: %d, want 400", code)
	}
	// Below an existing folder, the folder upload makes what it needs.
	ok := `{"path":"/Neu/Unter/brief.txt","size":1,"parents":true,"dir":"/"}`
	if code := c.json("POST", "/t/kanzlei/uploads", strings.NewReader(ok), int64(len(ok)), nil); code != 201 {
		t.Errorf("script upload of a folder at the root: %d, want 201", code)
	}
	if info, err := tr.Stat(ctx, "Neu/Unter"); err != nil || !info.IsDir() {
		t.Errorf("folder of the folder upload: %+v, %v", info, err)
	}
}

package tenantadmin

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"tresor/appliance/gate"
	"tresor/appliance/share"
)

// shareServices holds each test backend's share service (the daemon's
// App has one per appliance).
var shareServices sync.Map // *backend → *share.Service

// Shares makes the test backend a Shares backend, as the daemon's App is.
func (b *backend) Shares() *share.Service {
	s, _ := shareServices.LoadOrStore(b, share.New(b, share.Options{FailFloor: time.Millisecond}))
	return s.(*share.Service)
}

// getLang returns status and body of path in language lang.
func (c *client) getLang(path, lang string) (int, string) {
	c.e.t.Helper()
	req, _ := http.NewRequest("GET", c.e.srv.URL+path, nil)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Accept-Language", lang)
	res, err := c.c.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// formLang posts a form in language lang; status, Location, body.
func (c *client) formLang(path, lang string, v url.Values) (int, string, string) {
	c.e.t.Helper()
	if v.Get(gate.CSRFField) == "" {
		v.Set(gate.CSRFField, c.csrf)
	}
	req, _ := http.NewRequest("POST", c.e.srv.URL+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept-Language", lang)
	req.Header.Set("Origin", c.e.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := c.c.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Location"), string(b)
}

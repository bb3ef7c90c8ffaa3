package webdav

import "testing"

func TestProbe(t *testing.T) {
	e := newEnv(t, 0)
	for _, d := range []string{"/Mandanten", "/Mandanten/M%C3%BCller", "/Mandanten/Schmidt", "/Ablage"} {
		e.expect(req{"MKCOL", dav + d, nil, ""}, 201)
	}
	e.expect(req{"PUT", dav + "/Mandanten/Schmidt/Vergleich.docx", nil, "geheim"}, 201)
	e.grant("/Mandanten/Müller", "bert", "read,write")
	e.grant("/Ablage", "bert", "read,write")
	e.expect(req{"GET", "/bert/Mandanten/Schmidt/Vergleich.docx", nil, ""}, 404)
	resp, body := e.do(req{"COPY", "/bert/Mandanten", h("Destination", "/dav/kanzlei/Ablage/x"), ""})
	t.Logf("COPY -> %d %s", resp.StatusCode, body)
	resp, body = e.do(req{"GET", "/bert/Ablage/x/Schmidt/Vergleich.docx", nil, ""})
	t.Logf("GET copy -> %d %s", resp.StatusCode, body)
	resp, body = e.do(req{"MOVE", "/bert/Mandanten", h("Destination", "/dav/kanzlei/Ablage/y"), ""})
	t.Logf("MOVE -> %d %s", resp.StatusCode, body)
}

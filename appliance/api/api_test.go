package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

func startServer(t *testing.T, m *Mux) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "api") // short path: unix socket names are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "s.sock")
	s, err := Listen(path, m)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return path
}

func TestCallAndErrors(t *testing.T) {
	m := NewMux(slog.Default())
	m.Handle("POST /v1/echo", func(ctx context.Context, body json.RawMessage) (any, error) {
		var in struct{ Name string }
		if err := Decode(body, &in); err != nil {
			return nil, err
		}
		if in.Name == "" {
			return nil, Errorf(http.StatusBadRequest, "name is required")
		}
		return map[string]string{"hello": in.Name}, nil
	})
	path := startServer(t, m)
	c := NewClient(path)
	var out map[string]string
	if err := c.Call(context.Background(), "POST", "/v1/echo", map[string]string{"Name": "anna"}, &out); err != nil {
		t.Fatal(err)
	}
	if out["hello"] != "anna" {
		t.Fatalf("got %v", out)
	}
	err := c.Call(context.Background(), "POST", "/v1/echo", map[string]string{"Name": ""}, &out)
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Msg != "name is required" {
		t.Fatalf("error = %#v, want 400 'name is required'", err)
	}
	err = c.Call(context.Background(), "POST", "/v1/echo", map[string]any{"Bogus": 1}, &out)
	if !errors.As(err, &ae) || ae.Status != 400 {
		t.Fatalf("unknown field: error = %v, want 400", err)
	}
	if err := c.Call(context.Background(), "GET", "/v1/nothing", nil, nil); err == nil {
		t.Fatal("unknown path succeeded")
	}
}

func TestSocketMode(t *testing.T) {
	path := startServer(t, NewMux(slog.Default()))
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode = %v, want 0600", fi.Mode().Perm())
	}
}

func TestNoDaemon(t *testing.T) {
	c := NewClient(filepath.Join(t.TempDir(), "absent.sock"))
	err := c.Call(context.Background(), "GET", "/v1/status", nil, nil)
	if !errors.Is(err, ErrNoDaemon) {
		t.Fatalf("error = %v, want ErrNoDaemon", err)
	}
}

func TestStream(t *testing.T) {
	m := NewMux(slog.Default())
	m.HandleStream("POST /v1/long", func(ctx context.Context, body json.RawMessage, progress func(Progress)) (any, error) {
		for i := int64(1); i <= 3; i++ {
			progress(Progress{Done: i, Total: 3, Message: "step"})
		}
		return map[string]int{"steps": 3}, nil
	})
	m.HandleStream("POST /v1/fail", func(ctx context.Context, body json.RawMessage, progress func(Progress)) (any, error) {
		progress(Progress{Done: 1, Total: 2})
		return nil, errors.New("disk 3 vanished")
	})
	c := NewClient(startServer(t, m))
	var got []Progress
	var out map[string]int
	if err := c.Stream(context.Background(), "POST", "/v1/long", nil, &out, func(p Progress) { got = append(got, p) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[2].Done != 3 || out["steps"] != 3 {
		t.Fatalf("progress %v, result %v", got, out)
	}
	err := c.Stream(context.Background(), "POST", "/v1/fail", nil, nil, nil)
	if err == nil || err.Error() != "disk 3 vanished" {
		t.Fatalf("stream error = %v", err)
	}
}

package files

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	tfiles "tresor/appliance/files"
	"tresor/appliance/gate"
)

// beginRequest is the script's request to start an upload.
type beginRequest struct {
	Path string `json:"path"` // the file's path from the tenant's root
	Size int64  `json:"size"`
	// MTime is the file's modification time in milliseconds since the
	// epoch (File.lastModified); 0: now.
	MTime int64 `json:"mtime"`
	// Parents makes missing folders (a folder upload) below Dir, the
	// folder of the page, which must exist ("" is the root).
	Parents bool   `json:"parents"`
	Dir     string `json:"dir"`
}

// uploadState is the answer to every upload request.
type uploadState struct {
	ID        string `json:"id"`
	Size      int64  `json:"size"`
	Chunks    int    `json:"chunks"`   // acknowledged; send this one next
	Received  int64  `json:"received"` // bytes acknowledged
	ChunkSize int64  `json:"chunkSize"`
}

func (h *Handler) state(u tfiles.Upload) uploadState {
	return uploadState{ID: u.ID.String(), Size: u.Size, Chunks: u.Chunks, Received: u.Received, ChunkSize: h.opt.ChunkSize}
}

// Begin is a begin request as ParseBegin reads it.
type Begin struct {
	Path    string
	Size    int64
	MTime   time.Time // zero: now
	Parents bool
	Dir     string
}

// ParseBegin reads the JSON body of a begin request (at most 64 KiB).
func ParseBegin(b []byte) (Begin, error) {
	var req beginRequest
	if err := json.Unmarshal(b, &req); err != nil {
		return Begin{}, fmt.Errorf("%w: %v", errBadRequest, err)
	}
	if req.Size < 0 {
		return Begin{}, fmt.Errorf("%w: negative size", errBadRequest)
	}
	bg := Begin{Path: req.Path, Size: req.Size, Parents: req.Parents, Dir: req.Dir}
	if req.MTime > 0 && req.MTime < 1<<50 {
		bg.MTime = time.UnixMilli(req.MTime).UTC()
	}
	return bg, nil
}

func (h *Handler) beginUpload(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	b, err := readSmall(w, r)
	if err != nil {
		h.fail(w, r, q, err)
		return
	}
	bg, err := ParseBegin(b)
	if err != nil {
		h.fail(w, r, q, err)
		return
	}
	p, err := tfiles.ParsePath(bg.Path)
	if err != nil {
		h.fail(w, r, q, err)
		return
	}
	tr := h.tree(q)
	if bg.Parents && !p.IsRoot() {
		dir, err := tfiles.ParsePath(bg.Dir)
		if err == nil {
			err = mkdirBelow(r.Context(), tr, dir, p.Parent())
		}
		if err != nil {
			h.fail(w, r, q, err)
			return
		}
	}
	u, err := tr.BeginUpload(r.Context(), p.String(), bg.Size, bg.MTime)
	if err != nil {
		h.fail(w, r, q, err)
		return
	}
	writeJSON(w, http.StatusCreated, h.state(u))
}

// readSmall reads a small request body (a JSON request).
func readSmall(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
}

func uploadID(r *http.Request) (tfiles.UploadID, error) {
	id, err := tfiles.ParseID(r.PathValue("id"))
	if err != nil {
		return id, fmt.Errorf("%w: %v", tfiles.ErrNotFound, err)
	}
	return id, nil
}

func (h *Handler) uploadState(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	id, err := uploadID(r)
	if err == nil {
		var u tfiles.Upload
		if u, err = h.tree(q).Upload(r.Context(), id); err == nil {
			writeJSON(w, http.StatusOK, h.state(u))
			return
		}
	}
	h.fail(w, r, q, err)
}

// putChunk stores one chunk; the body streams into the storage engine.
func (h *Handler) putChunk(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	id, err := uploadID(r)
	if err != nil {
		h.fail(w, r, q, err)
		return
	}
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 {
		h.fail(w, r, q, fmt.Errorf("%w: chunk number %q", errBadRequest, r.PathValue("n")))
		return
	}
	if r.ContentLength < 0 {
		w.Header().Set("Accept", "Content-Length")
		h.fail(w, r, q, fmt.Errorf("%w: Content-Length required", errBadRequest))
		return
	}
	body := http.MaxBytesReader(w, r.Body, tfiles.MaxChunk)
	u, err := h.tree(q).PutChunk(r.Context(), id, n, body, r.ContentLength)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			err = fmt.Errorf("%w: over %d bytes", tfiles.ErrChunkSize, tfiles.MaxChunk)
		}
		h.fail(w, r, q, err)
		return
	}
	writeJSON(w, http.StatusOK, h.state(u))
}

// committed is the answer to a commit.
type committed struct {
	Path string `json:"path"`
	URL  string `json:"url"`
	Size int64  `json:"size"`
}

func (h *Handler) commitUpload(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	id, err := uploadID(r)
	if err != nil {
		h.fail(w, r, q, err)
		return
	}
	info, err := h.tree(q).CommitUpload(r.Context(), id)
	if err != nil {
		h.fail(w, r, q, err)
		return
	}
	writeJSON(w, http.StatusOK, committed{Path: info.Path.String(), URL: urls{q.Tenant.Slug()}.File(info.Path), Size: info.Size})
}

func (h *Handler) abortUpload(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	id, err := uploadID(r)
	if err == nil {
		err = h.tree(q).AbortUpload(r.Context(), id)
	}
	if err != nil {
		h.fail(w, r, q, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

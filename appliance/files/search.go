package files

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"tresor/appliance/access"
	"tresor/appliance/audit"
)

// Search bounds. Names are sealed, so a search opens every name below the
// folder; the bounds keep one search from occupying the appliance.
const (
	// DefaultSearchResults is the result limit when SearchOptions.Limit
	// is 0.
	DefaultSearchResults = 200
	// DefaultSearchVisits is how many files and folders a search looks at
	// when SearchOptions.MaxVisit is 0 (about a second's work).
	DefaultSearchVisits = 200_000
	// MaxSearchQuery is the longest query, in bytes.
	MaxSearchQuery = 255
)

// ErrBadQuery: the search query is empty, too long or not valid UTF-8.
var ErrBadQuery = errors.New("bad search query")

// SearchOptions bound a search.
type SearchOptions struct {
	Limit    int // results; 0: DefaultSearchResults
	MaxVisit int // files and folders looked at; 0: DefaultSearchVisits
}

// SearchResult says how a search ended.
type SearchResult struct {
	Found   int
	Visited int
	// Truncated is set when a bound ended the search early: there may be
	// more matches.
	Truncated bool
}

// FoldName is the form names and queries are compared in: NFC, then
// lower case (so "akte" finds "Akte.pdf" and "MÜLLER" finds "Müller").
func FoldName(s string) string { return strings.ToLower(norm.NFC.String(s)) }

// Search calls fn with every file and folder below the folder under whose
// name contains query (compared with [FoldName]), breadth first: nearer
// matches come first. Each folder is read in its own short transaction
// and fn runs outside any, so fn may stream results to a slow client.
// Search stops at the bounds of opt (Truncated), when fn returns an error
// (returned), or when ctx ends. The search is logged as a listing of
// under with the query.
func (tr *Tree) Search(ctx context.Context, under, query string, opt SearchOptions, fn func(Info) error) (SearchResult, error) {
	var res SearchResult
	if err := tr.canRead(); err != nil {
		return res, err
	}
	p, err := ParsePath(under)
	if err != nil {
		return res, err
	}
	if !utf8.ValidString(query) {
		return res, fmt.Errorf("search %s: %w: not UTF-8", p, ErrBadQuery)
	}
	q := FoldName(strings.TrimSpace(query))
	if q == "" || len(q) > MaxSearchQuery {
		return res, fmt.Errorf("search %s: %w", p, ErrBadQuery)
	}
	if opt.Limit <= 0 {
		opt.Limit = DefaultSearchResults
	}
	if opt.MaxVisit <= 0 {
		opt.MaxVisit = DefaultSearchVisits
	}
	type dir struct {
		id    ID
		p     Path
		chain []ID // node IDs from below the root to id, for the access policy
	}
	var start ID
	var chain []ID
	if err := tr.view(ctx, func(x txn) error {
		if start, err = x.folder(p); err != nil {
			return err
		}
		chain, _, err = x.resolveChain(p)
		return err
	}); err != nil {
		return res, fmt.Errorf("search %s: %w", p, err)
	}
	queue := []dir{{start, p, chain}}
	for len(queue) > 0 && !res.Truncated {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		d := queue[0]
		queue = queue[1:]
		var hits []Info
		err := tr.view(ctx, func(x txn) error {
			return x.children(d.id, func(id ID) error {
				if res.Visited >= opt.MaxVisit || res.Found+len(hits) >= opt.Limit {
					res.Truncated = true
					return errStop
				}
				res.Visited++
				// Only what the principal may see (access policy), and
				// nothing below what it may not.
				cc := append(d.chain[:len(d.chain):len(d.chain)], id)
				if err := x.may(cc, d.p, access.Read); errors.Is(err, ErrNotFound) {
					return nil
				} else if err != nil {
					return err
				}
				// Only the kind and the name of each visited node; the
				// whole record of the hits.
				n, err := x.kindName(id)
				if err != nil {
					return err
				}
				name, err := x.name(id, n)
				if err != nil {
					return err
				}
				var cp Path
				if n.Kind == KindFolder {
					cp = d.p.Child(name)
					queue = append(queue, dir{id, cp, cc})
				}
				if strings.Contains(FoldName(name), q) {
					if cp == nil {
						cp = d.p.Child(name)
					}
					full, err := x.head(id)
					if err != nil {
						return err
					}
					i, err := x.info(id, full, cp)
					if err != nil {
						return err
					}
					hits = append(hits, i)
				}
				return nil
			})
		})
		if err != nil && !errors.Is(err, errStop) {
			return res, fmt.Errorf("search %s: %w", p, err)
		}
		for _, i := range hits {
			res.Found++
			if err := fn(i); err != nil {
				return res, err
			}
		}
	}
	err = tr.t.Log(ctx, audit.Entry{Actor: tr.actor(), Action: audit.ActionFileList,
		Object: audit.Object{Path: p.String(), ID: start.String()}, Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"search": q, "found": fmt.Sprint(res.Found), "truncated": fmt.Sprint(res.Truncated)}})
	return res, err
}

// kindName reads only the kind and the sealed name of node id: what a
// search looks at in every node it visits (decoding the whole record,
// with its times, took half of a search's time).
func (x txn) kindName(id ID) (*node, error) {
	v := x.b(bucketNodes).Get(id[:])
	if v == nil {
		return nil, fmt.Errorf("node %s: %w", id, ErrNotFound)
	}
	var kn struct {
		Name []byte `json:"name"`
		Kind Kind   `json:"kind"`
	}
	if err := json.Unmarshal(v, &kn); err != nil {
		return nil, fmt.Errorf("node %s: bad record: %w", id, err)
	}
	return &node{Name: kn.Name, Kind: kn.Kind}, nil
}

// errStop ends a scan early.
var errStop = errors.New("stop")

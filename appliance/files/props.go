package files

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"tresor/appliance/access"
	"tresor/appliance/audit"
)

// Dead properties (WebDAV PROPPATCH) of files and folders.
//
// A node's properties are one record in the bucket ("files", "props"):
// node ID → the JSON list of its properties, sealed under the tenant key
// with "files/props/<node ID>" as context (property values are set by
// clients: Office writes authors and titles there). The record follows
// the node: a move or rename keeps the node ID and so the properties; a
// node in the trash keeps them for its restore. The tree does not
// interpret names or values; the WebDAV layer keeps each value as a
// self-contained XML fragment.

// ErrPropsTooLarge: a node's properties would exceed MaxPropsSize.
var ErrPropsTooLarge = errors.New("properties too large")

// MaxPropsSize bounds the stored size of one node's properties (names
// and values together), so a client cannot grow the metadata database
// without end through PROPPATCH.
const MaxPropsSize = 64 << 10

var bucketProps = []string{"files", "props"}

func propsContext(id ID) []byte { return []byte("files/props/" + id.String()) }

// PropName names a property: an XML namespace and a local name.
type PropName struct {
	Space string `json:"ns"`
	Local string `json:"name"`
}

// String returns the name in Clark notation ({space}local).
func (n PropName) String() string { return "{" + n.Space + "}" + n.Local }

// Prop is a property and its value (opaque bytes to the tree).
type Prop struct {
	Name  PropName `json:"n"`
	Value []byte   `json:"v"`
}

// PropPatch is one instruction of PatchProps: set Name to Value, or
// remove Name (removing an absent property is no error, RFC 4918 14.23).
type PropPatch struct {
	Name   PropName
	Value  []byte
	Remove bool
}

// Props returns the properties of the file or folder at path, sorted by
// name.
func (tr *Tree) Props(ctx context.Context, path string) ([]Prop, error) {
	if err := tr.canRead(); err != nil {
		return nil, err
	}
	p, err := ParsePath(path)
	if err != nil {
		return nil, err
	}
	var props []Prop
	err = tr.view(ctx, func(x txn) error {
		id, _, err := x.resolve(p)
		if err != nil {
			return err
		}
		props, err = x.props(id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("props %s: %w", p, err)
	}
	return props, nil
}

// PropsOf returns the properties of many nodes in one transaction (a
// folder listing); nodes without properties are absent from the map.
func (tr *Tree) PropsOf(ctx context.Context, ids []ID) (map[ID][]Prop, error) {
	if err := tr.canRead(); err != nil {
		return nil, err
	}
	out := make(map[ID][]Prop)
	err := tr.view(ctx, func(x txn) error {
		for _, id := range ids {
			props, err := x.props(id)
			if err != nil {
				return err
			}
			if len(props) > 0 {
				out[id] = props
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("props: %w", err)
	}
	return out, nil
}

// PatchProps applies patch to the properties of the file or folder at
// path, in order and atomically: either every instruction takes effect or
// none does. The change is logged as file.props with the names (not the
// values) that were set and removed.
func (tr *Tree) PatchProps(ctx context.Context, path string, patch []PropPatch) error {
	if err := tr.canWrite(); err != nil {
		return err
	}
	p, err := ParsePath(path)
	if err != nil {
		return err
	}
	err = tr.updateAs(ctx, audit.ActionFileProps, func(x txn) error {
		id, _, err := x.resolve(p)
		if err != nil {
			return err
		}
		props, err := x.props(id)
		if err != nil {
			return err
		}
		var set, removed []string
		for _, pp := range patch {
			i := slices.IndexFunc(props, func(q Prop) bool { return q.Name == pp.Name })
			switch {
			case pp.Remove:
				if i >= 0 {
					props = slices.Delete(props, i, i+1)
				}
				removed = append(removed, pp.Name.String())
			case i >= 0:
				props[i].Value = slices.Clone(pp.Value)
				set = append(set, pp.Name.String())
			default:
				props = append(props, Prop{Name: pp.Name, Value: slices.Clone(pp.Value)})
				set = append(set, pp.Name.String())
			}
		}
		if err := x.putProps(id, props); err != nil {
			return err
		}
		d := map[string]string{}
		if len(set) > 0 {
			d["set"] = clip(strings.Join(set, " "))
		}
		if len(removed) > 0 {
			d["removed"] = clip(strings.Join(removed, " "))
		}
		return x.log(audit.ActionFileProps, id, p, d)
	})
	if err != nil {
		return fmt.Errorf("patch props %s: %w", p, err)
	}
	return nil
}

// CopyProps copies the properties of the node at src onto the node at dst
// (replacing dst's), and of everything below a folder onto the node of
// the same path below dst, for a WebDAV COPY, which copies dead
// properties. Nodes of src without a counterpart under dst are skipped.
func (tr *Tree) CopyProps(ctx context.Context, src, dst string) error {
	if err := tr.canWrite(); err != nil {
		return err
	}
	sp, err := ParsePath(src)
	if err != nil {
		return err
	}
	dp, err := ParsePath(dst)
	if err != nil {
		return err
	}
	err = tr.updateAs(ctx, audit.ActionFileProps, func(x txn) error {
		// A copy reads its source (resolve in an update would ask for
		// write), as Copy does.
		sid, _, err := x.resolveFor(sp, access.Read)
		if err != nil {
			return err
		}
		did, _, err := x.resolve(dp)
		if err != nil {
			return err
		}
		return x.copyProps(sid, did, 0)
	})
	if err != nil {
		return fmt.Errorf("copy props %s to %s: %w", sp, dp, err)
	}
	return nil
}

// copyProps copies the properties of src onto dst and recurses into
// folders, pairing children by name.
func (x txn) copyProps(src, dst ID, depth int) error {
	if depth > MaxDepth {
		return fmt.Errorf("%w: deeper than %d", ErrBadPath, MaxDepth)
	}
	props, err := x.props(src)
	if err != nil {
		return err
	}
	if len(props) > 0 {
		if err := x.putProps(dst, props); err != nil {
			return err
		}
	}
	return x.children(src, func(c ID) error {
		n, err := x.node(c)
		if err != nil {
			return err
		}
		name, err := x.name(c, n)
		if err != nil {
			return err
		}
		if dc, ok := x.lookup(dst, name); ok {
			return x.copyProps(c, dc, depth+1)
		}
		return nil
	})
}

// props reads the properties of node id (none: nil).
func (x txn) props(id ID) ([]Prop, error) {
	b := x.b(bucketProps)
	if b == nil {
		return nil, nil
	}
	sealed := b.Get(id[:])
	if sealed == nil {
		return nil, nil
	}
	v, err := x.tr.t.OpenValue(propsContext(id), sealed)
	if err != nil {
		return nil, fmt.Errorf("node %s: props: %w", id, err)
	}
	var props []Prop
	if err := json.Unmarshal(v, &props); err != nil {
		return nil, fmt.Errorf("node %s: bad props record: %w", id, err)
	}
	return props, nil
}

// putProps stores the properties of node id, sorted by name; none
// deletes the record. What they take counts to the tenant's used bytes
// (and so to its quota), as content does: else an account could fill the
// appliance's disks with 64 KiB of properties on each of any number of
// empty files, whatever its tenant's quota.
func (x txn) putProps(id ID, props []Prop) error {
	b, err := x.tx.CreateBucketIfNotExists(bucketProps...)
	if err != nil {
		return err
	}
	old := len(b.Get(id[:]))
	if len(props) == 0 {
		if err := x.countProps(old, 0); err != nil {
			return err
		}
		return b.Delete(id[:])
	}
	slices.SortFunc(props, func(a, b Prop) int {
		if c := strings.Compare(a.Name.Space, b.Name.Space); c != 0 {
			return c
		}
		return strings.Compare(a.Name.Local, b.Name.Local)
	})
	v, err := json.Marshal(props)
	if err != nil {
		return err
	}
	if len(v) > MaxPropsSize {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrPropsTooLarge, len(v), MaxPropsSize)
	}
	sealed, err := x.tr.t.SealValue(propsContext(id), v)
	if err != nil {
		return err
	}
	if err := x.countProps(old, len(sealed)); err != nil {
		return err
	}
	return b.Put(id[:], sealed)
}

// dropProps deletes the properties of node id, which goes (purge).
func (x txn) dropProps(id ID) error {
	b := x.b(bucketProps)
	if b == nil {
		return nil
	}
	if v := b.Get(id[:]); v != nil {
		if err := x.countProps(len(v), 0); err != nil {
			return err
		}
	}
	return b.Delete(id[:])
}

// countProps moves the used bytes by a node's properties going from old
// to new stored bytes; a change that would pass the quota fails with
// ErrQuota. A tree from before properties were counted has them all
// counted first, once (the node's old ones among them).
func (x txn) countProps(old, new int) error {
	if x.b(bucketMeta).Get([]byte(keyPropsCounted)) == nil {
		var all int64
		if b := x.b(bucketProps); b != nil {
			err := b.Scan(nil, nil, func(_, v []byte) (bool, error) {
				all += int64(len(v))
				return true, nil
			})
			if err != nil {
				return err
			}
		}
		if err := x.setUsed(x.used() + all); err != nil {
			return err
		}
		if err := x.b(bucketMeta).Put([]byte(keyPropsCounted), []byte{1}); err != nil {
			return err
		}
	}
	grow := int64(new - old)
	if quota := x.tr.t.Quota(); grow > 0 && quota > 0 && x.used()+grow > quota {
		return fmt.Errorf("%w: properties of %d bytes, %d left", ErrQuota, new, max(0, quota-x.used()))
	}
	return x.setUsed(max(0, x.used()+grow))
}

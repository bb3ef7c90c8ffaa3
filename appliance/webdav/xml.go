package webdav

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"tresor/appliance/files"
)

// Errors of request bodies.
var (
	// ErrBadXML: a body that is not well-formed, namespace-valid XML of the
	// expected shape (400).
	ErrBadXML = errors.New("bad XML body")
	// ErrBodyTooLarge: an XML body over MaxXMLBody bytes (413).
	ErrBodyTooLarge = errors.New("XML body too large")
)

// Bounds of XML request bodies: PROPFIND, PROPPATCH and LOCK bodies of
// real clients are a few KiB.
const (
	MaxXMLBody     = 1 << 20
	maxXMLDepth    = 64
	maxXMLElements = 20_000
	// maxOwner bounds a lock's DAV:owner as stored: locks live in memory,
	// up to MaxLocks of them, so each must stay small. Clients send a
	// name or a mailto: URL.
	maxOwner = 4 << 10
)

const nsDAV = "DAV:"

// readBody reads a request body of at most MaxXMLBody bytes.
func readBody(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxXMLBody+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if len(b) > MaxXMLBody {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, MaxXMLBody)
	}
	return b, nil
}

// node is an element of a parsed body, its namespaces resolved.
type node struct {
	Name     xml.Name
	Attrs    []xml.Attr // resolved; namespace declarations removed
	Children []*node
	Text     []string // character data, in order; interleaved with Children by Seq
	// seq records the order of children and text: -1-i is Text[i], i is
	// Children[i].
	seq []int
}

// parseXML parses b into a tree of elements with namespaces resolved by
// hand (encoding/xml's RawToken), so that undeclared prefixes and empty
// prefix bindings (xmlns:p="", forbidden by Namespaces in XML 1.0) are
// errors rather than silently mistranslated names.
func parseXML(b []byte) (*node, error) {
	bad := func(why string, args ...any) (*node, error) {
		return nil, fmt.Errorf("%w: %s", ErrBadXML, fmt.Sprintf(why, args...))
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	type frame struct {
		n      *node
		raw    xml.Name
		scope  map[string]string
		parent *frame
	}
	var root *node
	var top *frame
	count := 0
	depth := 0
	lookup := func(f *frame, prefix string) (string, bool) {
		switch prefix {
		case "xml":
			return "http://www.w3.org/XML/1998/namespace", true
		case "xmlns":
			return "", false
		}
		for ; f != nil; f = f.parent {
			if v, ok := f.scope[prefix]; ok {
				return v, true
			}
		}
		return "", prefix == ""
	}
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return bad("%v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && top == nil {
				return bad("more than one root element")
			}
			if count++; count > maxXMLElements {
				return bad("more than %d elements", maxXMLElements)
			}
			if depth++; depth > maxXMLDepth {
				return bad("nested deeper than %d", maxXMLDepth)
			}
			f := &frame{n: &node{}, raw: t.Name, scope: map[string]string{}, parent: top}
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "xmlns":
					if a.Value == "" {
						return bad("prefix %q bound to the empty namespace", a.Name.Local)
					}
					f.scope[a.Name.Local] = a.Value
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					f.scope[""] = a.Value
				}
			}
			space, ok := lookup(f, t.Name.Space)
			if !ok {
				return bad("undeclared prefix %q", t.Name.Space)
			}
			f.n.Name = xml.Name{Space: space, Local: t.Name.Local}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					continue
				}
				as := ""
				if a.Name.Space != "" {
					if as, ok = lookup(f, a.Name.Space); !ok || as == "" {
						return bad("undeclared prefix %q", a.Name.Space)
					}
				}
				f.n.Attrs = append(f.n.Attrs, xml.Attr{Name: xml.Name{Space: as, Local: a.Name.Local}, Value: a.Value})
			}
			if top != nil {
				top.n.seq = append(top.n.seq, len(top.n.Children))
				top.n.Children = append(top.n.Children, f.n)
			} else {
				root = f.n
			}
			top = f
		case xml.EndElement:
			if top == nil || top.raw != t.Name {
				return bad("mismatched end element %q", t.Name.Local)
			}
			top = top.parent
			depth--
		case xml.CharData:
			if top == nil {
				if len(bytes.TrimSpace(t)) > 0 {
					return bad("text outside the root element")
				}
				continue
			}
			top.n.seq = append(top.n.seq, -1-len(top.n.Text))
			top.n.Text = append(top.n.Text, string(t))
		case xml.Directive:
			return bad("directives (DOCTYPE) are not accepted")
		}
	}
	if root == nil {
		return bad("no root element")
	}
	if top != nil {
		return bad("unclosed element %q", top.raw.Local)
	}
	return root, nil
}

// is reports whether n is the DAV: element local.
func (n *node) is(local string) bool { return n.Name.Space == nsDAV && n.Name.Local == local }

// child returns the first DAV: child called local.
func (n *node) child(local string) *node {
	for _, c := range n.Children {
		if c.is(local) {
			return c
		}
	}
	return nil
}

// inner serialises n's content (not n itself) as self-contained XML:
// every element declares its namespace, so the fragment means the same
// wherever it is pasted (a dead property's value, a lock's owner).
func (n *node) inner() []byte {
	var b bytes.Buffer
	n.writeContent(&b)
	return b.Bytes()
}

func (n *node) writeContent(b *bytes.Buffer) {
	for _, s := range n.seq {
		if s < 0 {
			_ = xml.EscapeText(b, []byte(n.Text[-1-s]))
			continue
		}
		n.Children[s].writeElement(b)
	}
}

func (n *node) writeElement(b *bytes.Buffer) {
	b.WriteString("<" + n.Name.Local + ` xmlns="`)
	_ = xml.EscapeText(b, []byte(n.Name.Space))
	b.WriteString(`"`)
	for i, a := range n.Attrs {
		name := a.Name.Local
		switch a.Name.Space {
		case "":
		case "http://www.w3.org/XML/1998/namespace":
			name = "xml:" + a.Name.Local
		default:
			p := fmt.Sprintf("a%d", i)
			b.WriteString(" xmlns:" + p + `="`)
			_ = xml.EscapeText(b, []byte(a.Name.Space))
			b.WriteString(`"`)
			name = p + ":" + a.Name.Local
		}
		b.WriteString(" " + name + `="`)
		_ = xml.EscapeText(b, []byte(a.Value))
		b.WriteString(`"`)
	}
	if len(n.seq) == 0 {
		b.WriteString("/>")
		return
	}
	b.WriteString(">")
	n.writeContent(b)
	b.WriteString("</" + n.Name.Local + ">")
}

// propfind is a parsed PROPFIND body.
type propfind struct {
	AllProp  bool
	PropName bool
	Props    []xml.Name // with Prop: the requested properties
	Include  []xml.Name // with AllProp: extra properties
}

// parsePropfind reads a PROPFIND body; an empty body means allprop
// (RFC 4918 9.1).
func parsePropfind(b []byte) (propfind, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return propfind{AllProp: true}, nil
	}
	root, err := parseXML(b)
	if err != nil {
		return propfind{}, err
	}
	if !root.is("propfind") {
		return propfind{}, fmt.Errorf("%w: root is not DAV:propfind", ErrBadXML)
	}
	var pf propfind
	kinds := 0
	for _, c := range root.Children {
		switch {
		case c.is("allprop"):
			pf.AllProp = true
			kinds++
		case c.is("propname"):
			pf.PropName = true
			kinds++
		case c.is("prop"):
			kinds++
			for _, p := range c.Children {
				pf.Props = append(pf.Props, p.Name)
			}
		case c.is("include"):
			for _, p := range c.Children {
				pf.Include = append(pf.Include, p.Name)
			}
		}
	}
	if kinds != 1 {
		return propfind{}, fmt.Errorf("%w: propfind needs exactly one of allprop, propname, prop", ErrBadXML)
	}
	return pf, nil
}

// parseProppatch reads a PROPPATCH body into patch instructions in
// document order.
func parseProppatch(b []byte) ([]files.PropPatch, error) {
	root, err := parseXML(b)
	if err != nil {
		return nil, err
	}
	if !root.is("propertyupdate") {
		return nil, fmt.Errorf("%w: root is not DAV:propertyupdate", ErrBadXML)
	}
	var patch []files.PropPatch
	for _, op := range root.Children {
		remove := op.is("remove")
		if !remove && !op.is("set") {
			continue
		}
		prop := op.child("prop")
		if prop == nil {
			return nil, fmt.Errorf("%w: %s without DAV:prop", ErrBadXML, op.Name.Local)
		}
		for _, p := range prop.Children {
			pp := files.PropPatch{Name: files.PropName{Space: p.Name.Space, Local: p.Name.Local}, Remove: remove}
			if !remove {
				pp.Value = p.inner()
			}
			patch = append(patch, pp)
		}
	}
	if len(patch) == 0 {
		return nil, fmt.Errorf("%w: propertyupdate without properties", ErrBadXML)
	}
	return patch, nil
}

// lockinfo is a parsed LOCK body.
type lockinfo struct {
	Shared bool
	Owner  []byte // the DAV:owner element, self-contained XML, or nil
}

// parseLockinfo reads a LOCK body (exclusive or shared write lock).
func parseLockinfo(b []byte) (lockinfo, error) {
	root, err := parseXML(b)
	if err != nil {
		return lockinfo{}, err
	}
	if !root.is("lockinfo") {
		return lockinfo{}, fmt.Errorf("%w: root is not DAV:lockinfo", ErrBadXML)
	}
	var li lockinfo
	scope, typ := root.child("lockscope"), root.child("locktype")
	if scope == nil || typ == nil || typ.child("write") == nil {
		return lockinfo{}, fmt.Errorf("%w: lockinfo needs lockscope and a write locktype", ErrBadXML)
	}
	switch {
	case scope.child("exclusive") != nil:
	case scope.child("shared") != nil:
		li.Shared = true
	default:
		return lockinfo{}, fmt.Errorf("%w: lockscope is neither exclusive nor shared", ErrBadXML)
	}
	if o := root.child("owner"); o != nil {
		var buf bytes.Buffer
		o.writeElement(&buf)
		if buf.Len() > maxOwner {
			return lockinfo{}, fmt.Errorf("%w: owner of %d bytes, at most %d", ErrBadXML, buf.Len(), maxOwner)
		}
		li.Owner = buf.Bytes()
	}
	return li, nil
}

// parseTimeout reads a Timeout header ("Second-600, Infinite"): the
// first value understood; 0 for none or Infinite (the default applies).
func parseTimeout(h string) time.Duration {
	for _, v := range strings.Split(h, ",") {
		v = strings.TrimSpace(v)
		if strings.EqualFold(v, "Infinite") {
			return 0
		}
		if len(v) > 7 && strings.EqualFold(v[:7], "Second-") {
			var n int64
			if _, err := fmt.Sscanf(v[7:], "%d", &n); err == nil && n > 0 {
				if n > int64(MaxTimeout/time.Second) {
					return MaxTimeout
				}
				return time.Duration(n) * time.Second
			}
		}
	}
	return 0
}

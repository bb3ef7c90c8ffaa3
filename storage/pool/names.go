package pool

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// ErrBadName reports a namespace name that is not a slug: 1 to 63 of
// [a-z0-9-], not starting or ending with '-'.
var ErrBadName = errors.New("bad namespace name")

// CheckNamespaceName reports whether name may name a namespace. Names
// become directory names on every disk, so nothing else is ever accepted.
func CheckNamespaceName(name string) error {
	if len(name) < 1 || len(name) > 63 {
		return fmt.Errorf("%w %q: want 1 to 63 characters", ErrBadName, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return fmt.Errorf("%w %q: only a-z, 0-9 and '-' are allowed", ErrBadName, name)
		}
	}
	if name[0] == '-' || name[len(name)-1] == '-' {
		return fmt.Errorf("%w %q: must not start or end with '-'", ErrBadName, name)
	}
	return nil
}

// Names of things on a pool disk, relative to its root. Every function
// here takes a checked namespace name.
const (
	dirTresor   = "tresor"
	fileLabel   = "tresor/format.json"
	fileKeyring = "tresor/keyring"
	dirSystem   = "tresor/system"
	fileSystem  = "tresor/system/system.db"
	dirNS       = "tresor/ns"
)

func nsDir(ns string) string      { return dirNS + "/" + ns }
func nsMetaFile(ns string) string { return nsDir(ns) + "/meta.db" }
func nsShardDir(ns string) string { return nsDir(ns) + "/shards" }

func shardFile(ns string, id ID) string {
	s := id.String()
	return nsShardDir(ns) + "/" + s[:2] + "/" + s
}

// parseShardFile returns the object ID of a shard file name found under
// nsShardDir(ns), and false for anything that is not exactly such a name.
func parseShardFile(ns, name string) (ID, bool) {
	rest, ok := strings.CutPrefix(name, nsShardDir(ns)+"/")
	if !ok {
		return ID{}, false
	}
	dir, base := path.Split(rest)
	id, err := ParseID(base)
	if err != nil || dir != base[:2]+"/" {
		return ID{}, false
	}
	return id, true
}

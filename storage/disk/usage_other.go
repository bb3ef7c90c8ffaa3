//go:build !(linux || darwin)

package disk

import "errors"

func statfs(string) (total, free uint64, err error) {
	return 0, 0, errors.New("not supported on this system")
}

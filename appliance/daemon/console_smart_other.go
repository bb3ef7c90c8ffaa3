//go:build !linux

package daemon

import "os"

// deviceDir finds no block device outside Linux.
func deviceDir(os.FileInfo) string { return "" }

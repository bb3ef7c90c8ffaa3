// Package gctune sets the Go garbage collector for the appliance daemon.
//
// The daemon's live heap is small (metadata pages, a bounded budget of
// blocks in flight), but it allocates briskly: every logged read makes an
// audit entry, its canonical encoding, a sealed copy and the database's
// pages. With Go's default GOGC=100 the collector ran so often that it
// took a third of the CPU of a 10,000-entries-per-second audit load
// (BenchmarkAppend: 78 µs of CPU per entry at GOGC=100, 51 µs at 400).
// A higher GOGC trades that for memory, which a soft limit caps: the
// collector works harder only when the heap nears a quarter of the
// machine's memory.
package gctune

import (
	"bufio"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// Percent is the GOGC the daemon runs with.
const Percent = 400

// Apply sets GOGC and a soft memory limit of a quarter of the machine's
// memory (at least 256 MiB), unless GOGC or GOMEMLIMIT are set in the
// environment, which always win. It returns the limit set (0: none).
func Apply() int64 {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(Percent)
	}
	if os.Getenv("GOMEMLIMIT") != "" {
		return 0
	}
	total := memTotal()
	if total <= 0 {
		return 0
	}
	limit := max(total/4, 256<<20)
	debug.SetMemoryLimit(limit)
	return limit
}

// memTotal reads MemTotal from /proc/meminfo (0 if unknown).
func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	return parseMemTotal(bufio.NewScanner(f))
}

func parseMemTotal(s *bufio.Scanner) int64 {
	for s.Scan() {
		rest, ok := strings.CutPrefix(s.Text(), "MemTotal:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil || kb <= 0 || kb > 1<<40 {
			return 0
		}
		return kb << 10
	}
	return 0
}

package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"tresor/appliance/api"
)

// progressPrinter shows a long operation's progress: a redrawn bar on a
// terminal, plain lines (at most one every few seconds) otherwise.
type progressPrinter struct {
	w     io.Writer
	tty   bool
	last  time.Time
	drawn bool
}

func newProgress(f *os.File) *progressPrinter {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return &progressPrinter{w: f, tty: err == nil}
}

func (p *progressPrinter) update(ev api.Progress) {
	now := time.Now()
	if p.tty {
		const width = 30
		bar := strings.Repeat(" ", width)
		pct := 0.0
		if ev.Total > 0 {
			pct = float64(ev.Done) / float64(ev.Total)
			if pct > 1 {
				pct = 1
			}
			n := int(pct * width)
			bar = strings.Repeat("#", n) + strings.Repeat(".", width-n)
		}
		fmt.Fprintf(p.w, "\r[%s] %5.1f%% %s\x1b[K", bar, pct*100, ev.Message)
		p.drawn = true
		return
	}
	if now.Sub(p.last) < 2*time.Second && ev.Done != ev.Total {
		return
	}
	p.last = now
	if ev.Total > 0 {
		fmt.Fprintf(p.w, "progress: %d/%d %s\n", ev.Done, ev.Total, ev.Message)
	} else {
		fmt.Fprintf(p.w, "progress: %s\n", ev.Message)
	}
}

// done ends the bar's line.
func (p *progressPrinter) done() {
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
	}
}

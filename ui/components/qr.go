package components

import (
	"fmt"
	"strings"

	goqr "github.com/piglig/go-qr"
)

// QRSVG draws text as a QR code (error correction M) in SVG: one path of
// unit squares with a four-module quiet zone, black on white, scaled by
// the page's CSS (class "qr"). The wizard's recovery key and every TOTP
// enrolment use it; no script, no image request.
func QRSVG(text string) (string, error) {
	q, err := goqr.EncodeText(text, goqr.Medium)
	if err != nil {
		return "", fmt.Errorf("QR code: %w", err)
	}
	n := q.Size()
	const quiet = 4
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges" role="img" class="qr">`, n+2*quiet, n+2*quiet)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#fff"/><path fill="#000" d="`)
	for y := range n {
		for x := range n {
			if q.Module(x, y) {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x+quiet, y+quiet)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return b.String(), nil
}

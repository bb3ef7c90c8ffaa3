package signin

import (
	"encoding/base64"

	"tresor/ui/components"
)

// qrSVG is the QR code of text in SVG (components.QRSVG).
func qrSVG(text string) (string, error) { return components.QRSVG(text) }

// qrDataURI is the QR code of text as a data: URI for an <img>; empty if
// the text does not fit a QR code (the secret is shown as text anyway).
func qrDataURI(text string) string {
	svg, err := qrSVG(text)
	if err != nil {
		return ""
	}
	return "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString([]byte(svg))
}

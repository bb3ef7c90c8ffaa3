package admin

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"tresor/ui/i18n"
)

func parsePoints(t *testing.T, s string) [][2]float64 {
	t.Helper()
	var out [][2]float64
	for _, p := range strings.Fields(s) {
		x, y, ok := strings.Cut(p, ",")
		fx, err1 := strconv.ParseFloat(x, 64)
		fy, err2 := strconv.ParseFloat(y, 64)
		if !ok || err1 != nil || err2 != nil {
			t.Fatalf("bad point %q", p)
		}
		out = append(out, [2]float64{fx, fy})
	}
	return out
}

// TestChartScales: the first sample sits at the left edge, the last at
// the right, a sample at half the top value halfway up, time in
// proportion; the axis labels are in the reader's language.
func TestChartScales(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	const tb = 1_000_000_000_000
	pts := []CapacityPoint{
		{Time: t0, Used: 0, Capacity: 4 * tb},
		{Time: t0.Add(24 * time.Hour), Used: 2 * tb, Capacity: 4 * tb},
		{Time: t0.Add(4 * 24 * time.Hour), Used: 3 * tb, Capacity: 4 * tb, Tenants: []int64{2 * tb, tb / 2}},
	}
	v := buildChart(pts, i18n.DE)
	if v.Empty || v.Dot {
		t.Fatalf("chart of 3 samples: %+v", v)
	}
	used := parsePoints(t, v.UsedLine)
	if len(used) != 3 {
		t.Fatalf("used line %q", v.UsedLine)
	}
	near := func(a, b float64) bool { return a-b < 0.11 && b-a < 0.11 }
	mid := (v.Top + v.Base) / 2
	if !near(used[0][0], v.Left) || !near(used[2][0], v.Right) || !near(used[0][1], v.Base) || !near(used[1][1], mid) {
		t.Fatalf("points not scaled: %v (left %v right %v top %v base %v)", used, v.Left, v.Right, v.Top, v.Base)
	}
	if want := v.Left + (v.Right-v.Left)/4; !near(used[1][0], want) {
		t.Fatalf("day 1 of 4 at x=%v, want %v", used[1][0], want)
	}
	for _, p := range parsePoints(t, v.CapLine) {
		if !near(p[1], v.Top) {
			t.Fatalf("capacity (the top value) not at the top: %v", v.CapLine)
		}
	}
	if v.YTicks[len(v.YTicks)-1].Label != "4\u00a0TB" || v.YTicks[2].Label != "2\u00a0TB" || v.XTicks[0].Label != "01.11." {
		t.Fatalf("German labels: %+v %+v", v.YTicks, v.XTicks)
	}
	if len(v.Rows) != 3 || v.Rows[0].Used != "3\u00a0TB" || v.Rows[0].Tenants != "2 · 2,5\u00a0TB" {
		t.Fatalf("table rows (newest first): %+v", v.Rows)
	}
	en := buildChart(pts, i18n.EN)
	if en.XTicks[0].Label != "1 Nov" || !strings.Contains(en.Summary, "1 Nov 2026") {
		t.Fatalf("English labels: %+v %q", en.XTicks, en.Summary)
	}
	// Rendered: an SVG with the lines and its text alternative.
	var b bytes.Buffer
	if err := capacityChart(&req{lang: i18n.EN}, en).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, want := range []string{`<svg viewBox="0 0 640 220"`, `role="img"`, `class="used-line" points="` + en.UsedLine, "<desc id=\"capacity-chart-desc\">", `id="capacity-table"`} {
		if !strings.Contains(html, want) {
			t.Errorf("rendered chart lacks %s", want)
		}
	}
	if strings.Contains(html, "style=") {
		t.Error("chart uses a style attribute (the CSP forbids inline styles)")
	}
}

// TestChartEmptyAndSingle: no samples give the empty state, one sample a
// dot in the middle.
func TestChartEmptyAndSingle(t *testing.T) {
	v := buildChart(nil, i18n.DE)
	if !v.Empty {
		t.Fatal("no samples, but not empty")
	}
	var b bytes.Buffer
	capacityChart(&req{lang: i18n.DE}, v).Render(context.Background(), &b)
	if strings.Contains(b.String(), "<svg") || !strings.Contains(b.String(), "Noch keine Messwerte") {
		t.Fatalf("empty chart rendered as %s", b.String())
	}
	one := buildChart([]CapacityPoint{{Time: time.Now(), Used: 5, Capacity: 10}}, i18n.DE)
	if !one.Dot || one.DotX != (one.Left+one.Right)/2 || one.DotY != (one.Top+one.Base)/2 || one.UsedLine != "" {
		t.Fatalf("single sample: %+v", one)
	}
	zero := buildChart([]CapacityPoint{{Time: time.Now()}, {Time: time.Now().Add(time.Hour)}}, i18n.EN)
	for _, p := range parsePoints(t, zero.UsedLine) {
		if p[1] != zero.Base {
			t.Fatalf("zero capacity not on the base line: %q", zero.UsedLine)
		}
	}
}

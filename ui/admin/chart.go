package admin

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"tresor/ui/i18n"
)

// The dashboard's capacity chart: an inline SVG drawn on the server (no
// script, nothing the CSP has to allow), with axis labels in the reader's
// language and the same numbers as a table for screen readers and for
// reading exact values.

// CapacityPoint is one sample of the pool's capacity history.
type CapacityPoint struct {
	Time           time.Time
	Used, Capacity uint64
	// Tenants holds each tenant's used bytes (no names).
	Tenants []int64
}

// Chart geometry (viewBox units).
const (
	chartW, chartH                            = 640, 220
	chartLeft, chartRight, chartTop, chartBot = 78, 12, 12, 28
)

// chartTick is an axis label at a position.
type chartTick struct {
	Pos   float64
	Label string
	// Anchor is the label's text-anchor: the last time label ends at the
	// right edge instead of running over it.
	Anchor string
}

// chartRow is a row of the table fallback.
type chartRow struct {
	When, Used, Capacity, Tenants string
}

// chartView is what the template draws.
type chartView struct {
	Empty                  bool
	W, H                   int
	Left, Right, Top, Base float64
	// UsedLine and CapLine are polyline points; UsedArea closes UsedLine
	// down to the base line.
	UsedLine, CapLine, UsedArea string
	// Dot is set when there is a single sample (no line to draw).
	Dot            bool
	DotX, DotY     float64
	XTicks, YTicks []chartTick
	Summary        string
	Rows           []chartRow
}

// maxChartRows bounds the table fallback (newest first).
const maxChartRows = 48

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// buildChart scales points (oldest first) into the chart.
func buildChart(points []CapacityPoint, l i18n.Lang) chartView {
	v := chartView{W: chartW, H: chartH, Left: chartLeft, Right: chartW - chartRight, Top: chartTop, Base: chartH - chartBot}
	if len(points) == 0 {
		v.Empty = true
		return v
	}
	var top uint64
	for _, p := range points {
		top = max(top, p.Capacity, p.Used)
	}
	if top == 0 {
		top = 1
	}
	t0, t1 := points[0].Time, points[len(points)-1].Time
	span := t1.Sub(t0)
	x := func(t time.Time) float64 {
		if span <= 0 {
			return (v.Left + v.Right) / 2
		}
		return v.Left + (v.Right-v.Left)*float64(t.Sub(t0))/float64(span)
	}
	y := func(n uint64) float64 { return v.Base - (v.Base-v.Top)*float64(n)/float64(top) }
	var used, capl []string
	for _, p := range points {
		used = append(used, fmtNum(x(p.Time))+","+fmtNum(y(p.Used)))
		capl = append(capl, fmtNum(x(p.Time))+","+fmtNum(y(p.Capacity)))
	}
	if len(points) == 1 {
		v.Dot, v.DotX, v.DotY = true, x(t0), y(points[0].Used)
	} else {
		v.UsedLine, v.CapLine = strings.Join(used, " "), strings.Join(capl, " ")
		v.UsedArea = fmtNum(x(t0)) + "," + fmtNum(v.Base) + " " + v.UsedLine + " " + fmtNum(x(t1)) + "," + fmtNum(v.Base)
	}
	for i := range 5 {
		n := top / 4 * uint64(i)
		if i == 4 {
			n = top
		}
		v.YTicks = append(v.YTicks, chartTick{Pos: y(n), Label: l.Bytes(n)})
	}
	if span <= 0 {
		v.XTicks = []chartTick{{Pos: x(t0), Label: chartTime(l, t0, 0), Anchor: "middle"}}
	} else {
		for i := range 4 {
			t := t0.Add(span * time.Duration(i) / 3)
			anchor := "middle"
			if i == 3 {
				anchor = "end"
			}
			v.XTicks = append(v.XTicks, chartTick{Pos: x(t), Label: chartTime(l, t, span), Anchor: anchor})
		}
	}
	first, last := points[0], points[len(points)-1]
	v.Summary = l.T("console.chart.summary", l.Date(first.Time), l.Bytes(first.Used), l.Date(last.Time), l.Bytes(last.Used), l.Bytes(last.Capacity))
	for i := len(points) - 1; i >= 0 && len(v.Rows) < maxChartRows; i-- {
		p := points[i]
		var sum int64
		for _, n := range p.Tenants {
			sum += n
		}
		v.Rows = append(v.Rows, chartRow{When: l.Date(p.Time), Used: l.Bytes(p.Used), Capacity: l.Bytes(p.Capacity),
			Tenants: fmt.Sprintf("%d · %s", len(p.Tenants), l.Bytes(uint64(max(sum, 0))))})
	}
	return v
}

// chartTime labels the time axis: the hour within two days, else the day.
func chartTime(l i18n.Lang, t time.Time, span time.Duration) string {
	t = t.UTC()
	switch {
	case span > 0 && span <= 48*time.Hour && l == i18n.DE:
		return t.Format("02.01. 15:04")
	case span > 0 && span <= 48*time.Hour:
		return t.Format("2 Jan 15:04")
	case span > 365*24*time.Hour && l == i18n.DE:
		return t.Format("01/2006")
	case span > 365*24*time.Hour:
		return t.Format("Jan 2006")
	case l == i18n.DE:
		return t.Format("02.01.")
	}
	return t.Format("2 Jan")
}

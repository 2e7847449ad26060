package bench

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Chart is one chart of a report: an SVG file drawn with gonum.org/v1/plot. The same
// results always give the same bytes (no time stamps, no map order, no embedded fonts), so
// that charts committed to git diff cleanly; the text is set in Liberation Sans, with
// Arial, Helvetica and sans-serif (metrically the same) as fallbacks for viewers without it.
type Chart struct {
	// File is the chart's file name in the report directory, e.g. "ingest-throughput.svg".
	File string
	// Title says what the chart shows (also the image's alt text in the report).
	Title string
	SVG   []byte
}

// IngestCharts draws the ingest results: records/s while ingesting and settled per peer,
// and the batch latency (p50, p99, max) per peer.
func IngestCharts(results []Result) ([]Chart, error) {
	if len(results) == 0 {
		return nil, nil
	}
	r0 := results[0]
	sync := "no fsync"
	if r0.Sync {
		sync = "fsync per batch"
	}
	setup := fmt.Sprintf("%s contacts, batches of %d, %d writer(s), %s", thousands(float64(r0.Records)), r0.Batch, r0.Writers, sync)
	peers := make([]string, len(results))
	ingest, settled := make([]float64, len(results)), make([]float64, len(results))
	p50, p99, mx := make([]float64, len(results)), make([]float64, len(results)), make([]float64, len(results))
	for i, r := range results {
		peers[i] = r.Peer
		ingest[i], settled[i] = r.RecordsPerSec, r.SettledRecordsPerSec
		p50[i], p99[i], mx[i] = ms(r.P50), ms(r.P99), ms(r.Max)
	}
	tp, err := barChart(barSpec{
		file:       "ingest-throughput.svg",
		title:      "Ingest throughput (higher is better)\n" + setup,
		axis:       "records/s",
		categories: peers,
		series: []series{
			{"ingest (until the last batch is acknowledged)", ingest},
			{"settled (compactions finished)", settled},
		},
		label: func(v float64) string { return thousands(v) + "/s" },
		tick:  thousands,
	})
	if err != nil {
		return nil, err
	}
	lat, err := barChart(barSpec{
		file:       "ingest-latency.svg",
		title:      "Ingest: latency of one batch (lower is better)\n" + setup,
		axis:       "batch latency (ms)",
		categories: peers,
		series:     []series{{"p50", p50}, {"p99", p99}, {"max", mx}},
		label:      msLabel,
		tick:       number,
		autoLog:    true,
	})
	if err != nil {
		return nil, err
	}
	return []Chart{tp, lat}, nil
}

// ExpiryCharts draws the expiry results: the time until the expired contacts were
// unreadable, until the deletion call returned and until their space was reclaimed, per
// peer and N (on a log scale when they span more than two orders of magnitude, as they
// usually do); and the disk size before and after.
func ExpiryCharts(results []ExpiryResult) ([]Chart, error) {
	if len(results) == 0 {
		return nil, nil
	}
	cats := make([]string, len(results))
	unread, deleted, reclaimed := make([]float64, len(results)), make([]float64, len(results)), make([]float64, len(results))
	before, after, live := make([]float64, len(results)), make([]float64, len(results)), make([]float64, len(results))
	hasLive := false
	for i, r := range results {
		cats[i] = fmt.Sprintf("%s, N=%s", r.Peer, thousands(float64(r.Expiring)))
		unread[i], deleted[i], reclaimed[i] = ms(r.Unreadable), ms(r.Deleted), ms(r.Reclaimed)
		before[i], after[i], live[i] = mibf(r.DiskBefore), mibf(r.DiskAfter), mibf(r.LiveOnly)
		hasLive = hasLive || r.LiveOnly > 0
	}
	rl := results[len(results)-1]
	setup := fmt.Sprintf("N contacts due on one day among N/10 that stay (largest N: %s due, %s stay)",
		thousands(float64(rl.Expiring)), thousands(float64(rl.Live)))
	times, err := barChart(barSpec{
		file:       "expiry-times.svg",
		title:      "Expiry: time from the start of the deletion (lower is better)\n" + setup,
		axis:       "time (ms)",
		categories: cats,
		series: []series{
			{"until unreadable", unread},
			{"until the deletion returned", deleted},
			{"until the space was reclaimed", reclaimed},
		},
		label:   msLabel,
		tick:    number,
		autoLog: true,
	})
	if err != nil {
		return nil, err
	}
	ss := []series{{"disk before", before}, {"disk after", after}}
	if hasLive {
		ss = append(ss, series{"live data alone", live})
	}
	disk, err := barChart(barSpec{
		file:       "expiry-disk.svg",
		title:      "Expiry: disk size, settled, before and after the deletion\n" + setup,
		axis:       "disk size (MiB, sum of file sizes)",
		categories: cats,
		series:     ss,
		label:      func(v float64) string { return fmt.Sprintf("%.1f MiB", v) },
		tick:       number,
	})
	if err != nil {
		return nil, err
	}
	return []Chart{times, disk}, nil
}

// ExportCharts draws the export results: contacts/s per peer (median round), and the peak
// memory per peer above its baseline (heap in use, live heap, RSS).
func ExportCharts(results []ExportResult) ([]Chart, error) {
	if len(results) == 0 {
		return nil, nil
	}
	r0 := results[0]
	setup := fmt.Sprintf("one customer's %s contacts (%.1f MB of JSON), median of %d round(s)",
		thousands(float64(r0.Contacts)), float64(r0.InputBytes)/1e6, r0.Rounds)
	peers := make([]string, len(results))
	rate := make([]float64, len(results))
	inuse, liveHeap, rss := make([]float64, len(results)), make([]float64, len(results)), make([]float64, len(results))
	for i, r := range results {
		peers[i] = r.Peer
		rate[i] = r.ContactsPerSec
		inuse[i], liveHeap[i], rss[i] = mibf(int64(r.Mem.HeapInuse())), mibf(int64(r.Mem.HeapLive())), mibf(int64(r.Mem.RSS()))
	}
	tp, err := barChart(barSpec{
		file:       "export-throughput.svg",
		title:      "Export throughput (higher is better)\n" + setup,
		axis:       "contacts/s",
		categories: peers,
		series:     []series{{"contacts/s", rate}},
		label:      func(v float64) string { return thousands(v) + "/s" },
		tick:       thousands,
	})
	if err != nil {
		return nil, err
	}
	mem, err := barChart(barSpec{
		file:       "export-memory.svg",
		title:      "Export: peak memory above the baseline (lower is better)\n" + setup,
		axis:       "memory (MiB)",
		categories: peers,
		series:     []series{{"Go heap in use", inuse}, {"live Go heap", liveHeap}, {"RSS", rss}},
		label:      func(v float64) string { return fmt.Sprintf("%.1f MiB", v) },
		tick:       number,
	})
	if err != nil {
		return nil, err
	}
	return []Chart{tp, mem}, nil
}

// series is one kind of bar: one value per category, one colour, one legend entry.
// GetCharts draws the get results: the latency of reading one customer's whole history
// (p50, p99, max) per peer, and the throughput in customers/s and contacts/s.
func GetCharts(results []GetResult) ([]Chart, error) {
	if len(results) == 0 {
		return nil, nil
	}
	r0 := results[0]
	setup := fmt.Sprintf("%s random customers of %s contacts (%s customers)",
		thousands(float64(r0.Latency.Ops)), thousands(float64(r0.N)), thousands(float64(r0.Customers)))
	peers := make([]string, len(results))
	custRate, contRate := make([]float64, len(results)), make([]float64, len(results))
	lats := make([]LatencyStats, len(results))
	for i, r := range results {
		peers[i] = r.Peer
		custRate[i], contRate[i] = r.Latency.OpsPerSec, r.ContactsPerSec
		lats[i] = r.Latency
	}
	lat, err := latencyChart("get-latency.svg", "Get: latency of one customer's whole history (lower is better)\n"+setup,
		"latency per customer (ms)", peers, lats)
	if err != nil {
		return nil, err
	}
	tp, err := barChart(barSpec{
		file:       "get-throughput.svg",
		title:      "Get throughput (higher is better)\n" + setup,
		axis:       "per second",
		categories: peers,
		series:     []series{{"customers/s", custRate}, {"contacts/s", contRate}},
		label:      func(v float64) string { return thousands(v) + "/s" },
		tick:       thousands,
		autoLog:    true,
	})
	if err != nil {
		return nil, err
	}
	return []Chart{lat, tp}, nil
}

// EraseCharts draws the erase results: the latency of erasing one customer (p50, p99,
// max) per peer, and the throughput in erasures/s.
func EraseCharts(results []EraseResult) ([]Chart, error) {
	if len(results) == 0 {
		return nil, nil
	}
	r0 := results[0]
	setup := fmt.Sprintf("%s random customers (%s contacts) of %s contacts (%s customers)",
		thousands(float64(r0.Erased)), thousands(float64(r0.Contacts)), thousands(float64(r0.N)), thousands(float64(r0.Customers)))
	peers := make([]string, len(results))
	rate := make([]float64, len(results))
	lats := make([]LatencyStats, len(results))
	for i, r := range results {
		peers[i] = r.Peer
		rate[i] = r.Latency.OpsPerSec
		lats[i] = r.Latency
	}
	lat, err := latencyChart("erase-latency.svg", "Erase: latency of erasing one customer (lower is better)\n"+setup,
		"latency per erasure (ms)", peers, lats)
	if err != nil {
		return nil, err
	}
	tp, err := barChart(barSpec{
		file:       "erase-throughput.svg",
		title:      "Erase throughput, one after the other (higher is better)\n" + setup,
		axis:       "erasures/s",
		categories: peers,
		series:     []series{{"erasures/s", rate}},
		label:      func(v float64) string { return thousands(v) + "/s" },
		tick:       thousands,
	})
	if err != nil {
		return nil, err
	}
	return []Chart{lat, tp}, nil
}

// latencyChart draws p50, p99 and max per peer, on a log scale when they span widely.
func latencyChart(file, title, axis string, peers []string, lats []LatencyStats) (Chart, error) {
	p50, p99, mx := make([]float64, len(lats)), make([]float64, len(lats)), make([]float64, len(lats))
	for i, l := range lats {
		p50[i], p99[i], mx[i] = ms(l.P50), ms(l.P99), ms(l.Max)
	}
	return barChart(barSpec{
		file:       file,
		title:      title,
		axis:       axis,
		categories: peers,
		series:     []series{{"p50", p50}, {"p99", p99}, {"max", mx}},
		label:      msLabel,
		tick:       number,
		autoLog:    true,
	})
}

type series struct {
	name   string
	values []float64
}

// barSpec describes a horizontal grouped bar chart: one group of bars per category
// (first category on top), one bar per series in each group.
type barSpec struct {
	file, title string
	// axis is the value axis's label, with its unit.
	axis       string
	categories []string
	series     []series
	// label formats a bar's value next to it; tick a value axis tick.
	label, tick func(float64) string
	// autoLog draws the value axis on a log scale when the positive values span more than
	// logSpread (a factor).
	autoLog bool
}

const logSpread = 100

// palette is the bars' colours: Okabe–Ito, distinguishable with colour blindness.
var palette = []color.Color{
	color.RGBA{0x00, 0x72, 0xB2, 0xff}, // blue
	color.RGBA{0xE6, 0x9F, 0x00, 0xff}, // orange
	color.RGBA{0x00, 0x9E, 0x73, 0xff}, // green
	color.RGBA{0xCC, 0x79, 0xA7, 0xff}, // purple
	color.RGBA{0x56, 0xB4, 0xE9, 0xff}, // sky blue
	color.RGBA{0xD5, 0x5E, 0x00, 0xff}, // vermillion
}

// Sizes of the chart, in points.
const (
	chartWidth = 16 * vg.Centimeter
	barHeight  = vg.Length(13)
	groupGap   = vg.Length(10)
)

// barChart draws spec as SVG.
func barChart(spec barSpec) (Chart, error) {
	p, height, err := barPlot(spec)
	if err != nil {
		return Chart{}, err
	}
	c := vgsvg.New(chartWidth, height)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return Chart{}, fmt.Errorf("bench: chart %s: %w", spec.file, err)
	}
	svg := strings.ReplaceAll(buf.String(), "font-family:Liberation Sans;", "font-family:Liberation Sans,Arial,Helvetica,sans-serif;")
	title, _, _ := strings.Cut(spec.title, "\n")
	return Chart{File: spec.file, Title: title, SVG: []byte(svg)}, nil
}

// barPlot builds spec's plot and returns it with the height to draw it at.
func barPlot(spec barSpec) (*plot.Plot, vg.Length, error) {
	nc, ns := len(spec.categories), len(spec.series)
	if nc == 0 || ns == 0 {
		return nil, 0, fmt.Errorf("bench: chart %s: no data", spec.file)
	}
	for _, s := range spec.series {
		if len(s.values) != nc {
			return nil, 0, fmt.Errorf("bench: chart %s: series %q has %d values for %d categories", spec.file, s.name, len(s.values), nc)
		}
	}

	// Log scale when the values spread widely: bars then start at a power of ten below
	// the smallest positive value (a bar cannot start at 0 on a log axis).
	minPos, maxV := math.Inf(1), 0.0
	for _, s := range spec.series {
		for _, v := range s.values {
			if v > 0 && !math.IsInf(v, 0) && !math.IsNaN(v) {
				minPos, maxV = math.Min(minPos, v), math.Max(maxV, v)
			}
		}
	}
	logScale := spec.autoLog && maxV > 0 && maxV/minPos > logSpread
	base := 0.0
	if logScale {
		base = math.Pow10(int(math.Floor(math.Log10(minPos))))
	}

	p := plot.New()
	p.Title.Text = spec.title
	p.X.Label.Text = spec.axis
	if logScale {
		p.X.Label.Text += ", log scale"
	}
	sansSerif(&p.Title.TextStyle, &p.X.Label.TextStyle, &p.X.Tick.Label, &p.Y.Label.TextStyle, &p.Y.Tick.Label, &p.Legend.TextStyle)
	p.Title.TextStyle.Font.Size = 11
	p.X.Label.TextStyle.Font.Size = 10
	p.X.Tick.Label.Font.Size = 9
	p.Y.Tick.Label.Font.Size = 10
	p.Legend.TextStyle.Font.Size = 9
	p.Legend.Top = true
	p.Legend.Padding = 2

	// Category i is drawn at y = nc-1-i, so that the first category is on top.
	names := make([]string, nc)
	for i, c := range spec.categories {
		names[nc-1-i] = c
	}

	var baseBar *plotter.BarChart
	if logScale {
		vals := make(plotter.Values, nc)
		for i := range vals {
			vals[i] = base
		}
		var err error
		if baseBar, err = plotter.NewBarChart(vals, barHeight); err != nil {
			return nil, 0, err
		}
		baseBar.Horizontal = true
	}
	for j, s := range spec.series {
		vals := make(plotter.Values, nc)
		labels := make([]string, nc)
		xys := make(plotter.XYs, nc)
		for i, v := range s.values {
			y := float64(nc - 1 - i)
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				v = 0
			}
			labels[nc-1-i] = spec.label(v)
			shown := v
			if logScale {
				shown = math.Max(v-base, 0)
			}
			vals[nc-1-i] = shown
			xys[nc-1-i] = plotter.XY{X: math.Max(v, base), Y: y}
		}
		bar, err := plotter.NewBarChart(vals, barHeight)
		if err != nil {
			return nil, 0, err
		}
		bar.Horizontal = true
		if baseBar != nil {
			bar.StackOn(baseBar)
		}
		// Series 0 on top within its group.
		bar.Offset = (vg.Length(ns-1)/2 - vg.Length(j)) * barHeight
		bar.Color = palette[j%len(palette)]
		bar.LineStyle.Width = 0
		p.Add(bar)
		if ns > 1 {
			p.Legend.Add(s.name, bar)
		}

		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
		if err != nil {
			return nil, 0, err
		}
		for i := range lb.TextStyle {
			sansSerif(&lb.TextStyle[i])
			lb.TextStyle[i].Font.Size = 8
			lb.TextStyle[i].YAlign = draw.YCenter
		}
		lb.Offset = vg.Point{X: 3, Y: bar.Offset}
		p.Add(lb)
	}
	p.Add(plotter.NewGrid())
	p.NominalY(names...)

	// The value axis: from 0 (linear) or the bars' base (log) to the largest value, with
	// room on the right for the value labels (the labels' glyph boxes pad the axis) and on
	// top for the legend.
	if logScale {
		p.X.Scale = plot.LogScale{}
		p.X.Min, p.X.Max = base, math.Max(maxV, base*10)
	} else {
		p.X.Min = 0
		p.X.Max = math.Max(maxV, 1e-9)
	}
	p.X.Tick.Marker = tickFormat{log: logScale, format: spec.tick}
	// Height: one band per category, the legend's rows above them, and what the title and
	// the value axis take, measured on a trial canvas; the legend gets room of its own
	// above the bars.
	band := vg.Length(ns)*barHeight + groupGap
	legendH := vg.Length(0)
	if ns > 1 {
		legendH = vg.Length(ns)*(p.Legend.TextStyle.Font.Size+4) + 6
	}
	const trial = vg.Length(400)
	dc := p.DataCanvas(draw.New(vgsvg.New(chartWidth, trial)))
	overhead := trial - (dc.Max.Y - dc.Min.Y)
	p.Y.Min = -0.5
	p.Y.Max = float64(nc) - 0.5 + float64(legendH/band)
	return p, vg.Length(nc)*band + legendH + overhead, nil
}

// sansSerif sets text styles in Liberation Sans (plot's default is Liberation Serif).
func sansSerif(styles ...*text.Style) {
	for _, s := range styles {
		s.Font.Typeface = "Liberation"
		s.Font.Variant = "Sans"
	}
}

// tickFormat is the value axis's ticker: plot's default (linear) or log ticks, the labels
// formatted.
type tickFormat struct {
	log    bool
	format func(float64) string
}

func (t tickFormat) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	if t.log {
		ts = plot.LogTicks{Prec: -1}.Ticks(lo, hi)
	} else {
		ts = linearTicks(lo, hi)
	}
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = t.format(ts[i].Value)
		}
	}
	return ts
}

// linearTicks returns four to eight labelled ticks at round values (1, 2 or 5 × 10^k apart)
// from lo to hi, with an unlabelled one between each two.
func linearTicks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: "x"}}
	}
	raw := (hi - lo) / 5
	mag := math.Pow10(int(math.Floor(math.Log10(raw))))
	step := mag
	for _, m := range []float64{2, 5, 10} {
		if math.Abs(math.Log(m*mag/raw)) < math.Abs(math.Log(step/raw)) {
			step = m * mag
		}
	}
	var ts []plot.Tick
	for i := math.Ceil(lo / step * 2); i/2*step <= hi*(1+1e-12); i++ {
		v := i / 2 * step
		t := plot.Tick{Value: v}
		if int64(i)%2 == 0 {
			t.Label = "x" // replaced by the formatted value
		}
		ts = append(ts, t)
	}
	return ts
}

// ms returns d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// mibf returns n bytes in MiB.
func mibf(n int64) float64 { return float64(n) / (1 << 20) }

// msLabel formats milliseconds as a duration label: "850 µs", "12.3 ms", "4.20 s".
func msLabel(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 1000:
		return fmt.Sprintf("%.3g s", v/1000)
	case v >= 1:
		return fmt.Sprintf("%.3g ms", v)
	}
	return fmt.Sprintf("%.3g µs", v*1000)
}

// number formats a tick value: grouped thousands from 1,000 on, else as short as exact.
func number(v float64) string {
	if math.Abs(v) >= 1000 {
		return thousands(v)
	}
	return fmt.Sprintf("%g", math.Round(v*1e6)/1e6)
}

// LookupCharts draws the lookup results: the latency of one lookup (p50, p99, max) per
// peer, and p50 and p99 by kind of lookup (e-mail, phone, miss) per peer.
func LookupCharts(results []LookupResult) ([]Chart, error) {
	if len(results) == 0 {
		return nil, nil
	}
	r0 := results[0]
	setup := fmt.Sprintf("%s lookups in a store of %s customers (%s contacts)",
		thousands(float64(r0.Latency.Ops)), thousands(float64(r0.Customers)), thousands(float64(r0.N)))
	peers := make([]string, len(results))
	lats := make([]LatencyStats, len(results))
	var kinds [6][]float64
	for i, r := range results {
		peers[i] = r.Peer
		lats[i] = r.Latency
		for j, l := range []LatencyStats{r.EmailLatency, r.PhoneLatency, r.MissLatency} {
			kinds[2*j] = append(kinds[2*j], ms(l.P50))
			kinds[2*j+1] = append(kinds[2*j+1], ms(l.P99))
		}
	}
	lat, err := latencyChart("lookup-latency.svg", "Lookup: latency of one lookup (lower is better)\n"+setup,
		"latency per lookup (ms)", peers, lats)
	if err != nil {
		return nil, err
	}
	byKind, err := barChart(barSpec{
		file:       "lookup-kinds.svg",
		title:      "Lookup latency by kind (lower is better)\n" + setup,
		axis:       "latency per lookup (ms)",
		categories: peers,
		series: []series{
			{"e-mail p50", kinds[0]}, {"e-mail p99", kinds[1]},
			{"phone p50", kinds[2]}, {"phone p99", kinds[3]},
			{"miss p50", kinds[4]}, {"miss p99", kinds[5]},
		},
		label:   msLabel,
		tick:    number,
		autoLog: true,
	})
	if err != nil {
		return nil, err
	}
	return []Chart{lat, byKind}, nil
}

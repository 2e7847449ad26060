package bench

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

func chartIngestResults() []Result {
	return []Result{
		{Peer: "contactstore", Records: 2000, Batch: 100, Writers: 1, Sync: true, RecordsPerSec: 27947, SettledRecordsPerSec: 24586,
			P50: 30 * time.Millisecond, P99: 87 * time.Millisecond, Max: 120 * time.Millisecond},
		{Peer: "pebble-default", Records: 2000, Batch: 100, Writers: 1, Sync: true, RecordsPerSec: 10345, SettledRecordsPerSec: 9433,
			P50: 48 * time.Millisecond, P99: 705 * time.Millisecond, Max: 2 * time.Second},
		{Peer: "pebble-tuned", Records: 2000, Batch: 100, Writers: 1, Sync: true, RecordsPerSec: 28814, SettledRecordsPerSec: 21402,
			P50: 26 * time.Millisecond, P99: 102 * time.Millisecond, Max: 300 * time.Millisecond},
	}
}

func chartExpiryResults() []ExpiryResult {
	var rs []ExpiryResult
	for _, n := range []int{100, 1000} {
		f := time.Duration(n / 100)
		rs = append(rs,
			ExpiryResult{Peer: "contactstore", Expiring: n, Live: n / 10, Unreadable: 4 * time.Millisecond, Deleted: 30 * f * time.Millisecond,
				Reclaimed: 2 * f * time.Second, DiskBefore: 300 << 20, DiskAfter: 40 << 20, LiveOnly: 30 << 20},
			ExpiryResult{Peer: "pebble-rangedel", Expiring: n, Live: n / 10, Unreadable: 20 * time.Millisecond, Deleted: 20 * time.Millisecond,
				Reclaimed: 0, DiskBefore: 300 << 20, DiskAfter: 35 << 20, LiveOnly: 30 << 20}, // Reclaimed 0: a bar of no length
			ExpiryResult{Peer: "pebble-pointdel", Expiring: n, Live: n / 10, Unreadable: 2 * f * time.Second, Deleted: 2 * f * time.Second,
				Reclaimed: 3 * f * time.Second, DiskBefore: 300 << 20, DiskAfter: 38 << 20, LiveOnly: 30 << 20})
	}
	return rs
}

func chartExportResults() []ExportResult {
	return []ExportResult{
		{Peer: "contactstore", Contacts: 300, InputBytes: 1e6, Rounds: 2, ContactsPerSec: 25000,
			Mem: MemPeak{BaseHeapInuse: 10 << 20, PeakHeapInuse: 30 << 20, BaseHeapLive: 5 << 20, PeakHeapLive: 9 << 20, BaseRSS: 50 << 20, PeakRSS: 90 << 20}},
		{Peer: "contactstore-age", Contacts: 300, InputBytes: 1e6, Rounds: 2, ContactsPerSec: 24000,
			Mem: MemPeak{BaseHeapInuse: 10 << 20, PeakHeapInuse: 32 << 20}},
		{Peer: "pebble-tuned-nocompress", Contacts: 300, InputBytes: 1e6, Rounds: 2, ContactsPerSec: 60000},
	}
}

// allCharts draws every scenario's charts from the fixed results above.
func allCharts(t *testing.T) []Chart {
	t.Helper()
	var all []Chart
	in, err := IngestCharts(chartIngestResults())
	if err != nil {
		t.Fatal(err)
	}
	ex, err := ExpiryCharts(chartExpiryResults())
	if err != nil {
		t.Fatal(err)
	}
	out, err := ExportCharts(chartExportResults())
	if err != nil {
		t.Fatal(err)
	}
	all = append(append(append(all, in...), ex...), out...)
	return all
}

// svgText parses an SVG document as XML (failing the test if it is not well-formed, or its
// root is not <svg>) and returns its character data.
func svgText(t *testing.T, name string, doc []byte) string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	var text strings.Builder
	root := ""
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: not well-formed XML: %v", name, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
		case xml.CharData:
			text.Write(tok)
			text.WriteByte('\n')
		}
	}
	if root != "svg" {
		t.Fatalf("%s: root element %q, want svg", name, root)
	}
	return text.String()
}

func TestChartsDeterministicValidXML(t *testing.T) {
	a, b := allCharts(t), allCharts(t)
	wantFiles := []string{"ingest-throughput.svg", "ingest-latency.svg", "expiry-times.svg", "expiry-disk.svg", "export-throughput.svg", "export-memory.svg"}
	if len(a) != len(wantFiles) {
		t.Fatalf("%d charts, want %d", len(a), len(wantFiles))
	}
	peers := map[string][]string{
		"ingest": {"contactstore", "pebble-default", "pebble-tuned"},
		"expiry": {"contactstore, N=100", "pebble-rangedel, N=1,000", "pebble-pointdel, N=100"},
		"export": {"contactstore", "contactstore-age", "pebble-tuned-nocompress"},
	}
	for i, c := range a {
		if c.File != wantFiles[i] {
			t.Errorf("chart %d: file %q, want %q", i, c.File, wantFiles[i])
		}
		if !bytes.Equal(c.SVG, b[i].SVG) {
			t.Errorf("%s: two drawings of the same results differ", c.File)
		}
		if c.Title == "" || strings.Contains(c.Title, "\n") {
			t.Errorf("%s: title %q", c.File, c.Title)
		}
		text := svgText(t, c.File, c.SVG)
		scenario, _, _ := strings.Cut(c.File, "-")
		for _, p := range peers[scenario] {
			if !strings.Contains(text, p+"\n") {
				t.Errorf("%s: no label %q in the chart's text:\n%s", c.File, p, text)
			}
		}
		if !strings.Contains(string(c.SVG), "font-family:Liberation Sans,Arial,Helvetica,sans-serif;") {
			t.Errorf("%s: text not set in a sans-serif font with fallbacks", c.File)
		}
	}
	// Values, units and scales.
	for file, want := range map[string][]string{
		"ingest-throughput.svg": {"27,947/s", "21,402/s", "records/s", "settled (compactions finished)", "fsync per batch"},
		"ingest-latency.svg":    {"30 ms", "705 ms", "2 s", "batch latency (ms)", "p99"},
		"expiry-times.svg":      {"4 ms", "20 s", "time (ms), log scale", "until unreadable", "until the space was reclaimed"},
		"expiry-disk.svg":       {"300.0 MiB", "35.0 MiB", "live data alone"},
		"export-throughput.svg": {"25,000/s", "60,000/s", "contacts/s"},
		"export-memory.svg":     {"20.0 MiB", "40.0 MiB", "memory (MiB)", "RSS"},
	} {
		var c *Chart
		for i := range a {
			if a[i].File == file {
				c = &a[i]
			}
		}
		if c == nil {
			t.Fatalf("no chart %s", file)
		}
		text := svgText(t, file, c.SVG)
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s: %q missing from the text:\n%s", file, w, text)
			}
		}
	}
	// The latency spread (26 ms to 2 s) stays linear; the expiry times (4 ms to 20 s) do not.
	if strings.Contains(svgText(t, "latency", a[1].SVG), "log scale") {
		t.Error("ingest latency drawn on a log scale, spread below the threshold")
	}

	// Other results give another drawing.
	rs := chartIngestResults()
	rs[0].RecordsPerSec = 30000
	c, err := IngestCharts(rs)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(c[0].SVG, a[0].SVG) {
		t.Error("different throughput, same chart")
	}
	if !bytes.Equal(c[1].SVG, a[1].SVG) {
		t.Error("same latencies, different latency chart")
	}
}

func TestChartsEdgeCases(t *testing.T) {
	for _, fn := range []func() ([]Chart, error){
		func() ([]Chart, error) { return IngestCharts(nil) },
		func() ([]Chart, error) { return ExpiryCharts(nil) },
		func() ([]Chart, error) { return ExportCharts(nil) },
		func() ([]Chart, error) { return GetCharts(nil) },
		func() ([]Chart, error) { return EraseCharts(nil) },
	} {
		if cs, err := fn(); err != nil || len(cs) != 0 {
			t.Errorf("no results: %d charts, %v", len(cs), err)
		}
	}
	// Zero, negative, NaN and infinite values draw (as empty bars), on both scales.
	for _, log := range []bool{false, true} {
		c, err := barChart(barSpec{file: "x.svg", title: "t", axis: "a", categories: []string{"p", "q"},
			series:  []series{{"s", []float64{0, math.NaN()}}, {"u", []float64{math.Inf(1), -1}}, {"v", []float64{0.5, 5000}}},
			label:   number,
			tick:    number,
			autoLog: log})
		if err != nil {
			t.Fatal(err)
		}
		text := svgText(t, "x.svg", c.SVG)
		if strings.Contains(text, "NaN") || strings.Contains(text, "Inf") {
			t.Errorf("log=%v: NaN or Inf drawn:\n%s", log, text)
		}
		if got := strings.Contains(text, "log scale"); got != log {
			t.Errorf("autoLog=%v with a spread of 10,000: log scale %v", log, got)
		}
	}
	// All values zero.
	if _, err := barChart(barSpec{file: "z.svg", title: "t", axis: "a", categories: []string{"p"},
		series: []series{{"s", []float64{0}}}, label: number, tick: number, autoLog: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := barChart(barSpec{file: "e.svg", categories: []string{"p", "q"}, series: []series{{"s", []float64{1}}}, label: number, tick: number}); err == nil {
		t.Error("a series shorter than the categories was drawn")
	}
	if _, err := barChart(barSpec{file: "e.svg", label: number, tick: number}); err == nil {
		t.Error("a chart without data was drawn")
	}
}

func TestLinearTicks(t *testing.T) {
	for _, r := range [][2]float64{{0, 1}, {0, 28814}, {0, 705}, {0, 3.3}, {0, 1e7}, {0, 0.004}} {
		ts := linearTicks(r[0], r[1])
		var labelled []float64
		for _, tk := range ts {
			if tk.Value < r[0] || tk.Value > r[1]*(1+1e-9) {
				t.Errorf("%v: tick %v outside the range", r, tk.Value)
			}
			if tk.Label != "" {
				labelled = append(labelled, tk.Value)
			}
		}
		if len(labelled) < 4 || len(labelled) > 9 {
			t.Errorf("%v: %d labelled ticks %v", r, len(labelled), labelled)
			continue
		}
		step := labelled[1] - labelled[0]
		mant := step / math.Pow10(int(math.Floor(math.Log10(step)+1e-9)))
		if m := math.Round(mant*1e6) / 1e6; m != 1 && m != 2 && m != 5 {
			t.Errorf("%v: step %v is not 1, 2 or 5 × 10^k", r, step)
		}
	}
}

func TestChartLabels(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 0.85: "850 µs", 12.34: "12.3 ms", 4200: "4.2 s", 1000: "1 s"} {
		if got := msLabel(v); got != want {
			t.Errorf("msLabel(%v) = %q, want %q", v, got, want)
		}
	}
	for v, want := range map[float64]string{0: "0", 0.5: "0.5", 250: "250", 25000: "25,000", 0.1 + 0.2: "0.3"} {
		if got := number(v); got != want {
			t.Errorf("number(%v) = %q, want %q", v, got, want)
		}
	}
}

// TestChartsOfARealRun draws the charts of a tiny real ingest run.
func TestChartsOfARealRun(t *testing.T) {
	rs, err := RunIngest(t.Context(), Config{N: 200, Seed: 3, Batch: 50, Peers: []string{PeerPebbleDefault, PeerPebbleTuned}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := IngestCharts(rs)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		text := svgText(t, c.File, c.SVG)
		for _, p := range []string{PeerPebbleDefault, PeerPebbleTuned} {
			if !strings.Contains(text, p) {
				t.Errorf("%s: no %s", c.File, p)
			}
		}
	}
}

func chartGetResults() []GetResult {
	return []GetResult{
		{Peer: "contactstore", N: 1000, Customers: 50, Contacts: 400, ContactsPerSec: 52000,
			Latency: LatencyStats{Ops: 20, P50: 2 * time.Millisecond, P99: 9 * time.Millisecond, Max: 15 * time.Millisecond, OpsPerSec: 410}},
		{Peer: "pebble-tuned-nocompress", N: 1000, Customers: 50, Contacts: 400, ContactsPerSec: 180000,
			Latency: LatencyStats{Ops: 20, P50: 600 * time.Microsecond, P99: 3 * time.Millisecond, Max: 4 * time.Millisecond, OpsPerSec: 1450}},
	}
}

func chartEraseResults() []EraseResult {
	return []EraseResult{
		{Peer: "contactstore", N: 1000, Customers: 50, Erased: 10, Contacts: 230,
			Latency: LatencyStats{Ops: 10, P50: 7 * time.Millisecond, P99: 22 * time.Millisecond, Max: 25 * time.Millisecond, OpsPerSec: 120}},
		{Peer: "pebble-tuned-nocompress", N: 1000, Customers: 50, Erased: 10, Contacts: 230,
			Latency: LatencyStats{Ops: 10, P50: 3 * time.Millisecond, P99: 5 * time.Millisecond, Max: 6 * time.Millisecond, OpsPerSec: 310}},
	}
}

// TestGetEraseCharts checks the get and erase charts and sections: files, well-formed
// deterministic SVG, every peer and the values with their units, and the sections' parts.
func TestGetEraseCharts(t *testing.T) {
	draw := func() []Chart {
		g, err := GetCharts(chartGetResults())
		if err != nil {
			t.Fatal(err)
		}
		e, err := EraseCharts(chartEraseResults())
		if err != nil {
			t.Fatal(err)
		}
		return append(g, e...)
	}
	a, b := draw(), draw()
	want := []struct {
		file  string
		texts []string
	}{
		{"get-latency.svg", []string{"p50", "p99", "max", "600 µs", "2 ms", "15 ms", "latency per customer (ms)", "20 random customers of 1,000 contacts"}},
		{"get-throughput.svg", []string{"customers/s", "contacts/s", "410/s", "180,000/s"}},
		{"erase-latency.svg", []string{"p50", "p99", "max", "7 ms", "25 ms", "latency per erasure (ms)", "10 random customers (230 contacts)"}},
		{"erase-throughput.svg", []string{"erasures/s", "120/s", "310/s"}},
	}
	if len(a) != len(want) {
		t.Fatalf("%d charts, want %d", len(a), len(want))
	}
	for i, c := range a {
		if c.File != want[i].file {
			t.Errorf("chart %d: file %q, want %q", i, c.File, want[i].file)
		}
		if !bytes.Equal(c.SVG, b[i].SVG) {
			t.Errorf("%s: two drawings of the same results differ", c.File)
		}
		if c.Title == "" || strings.Contains(c.Title, "\n") {
			t.Errorf("%s: title %q", c.File, c.Title)
		}
		text := svgText(t, c.File, c.SVG)
		for _, w := range append([]string{"contactstore\n", "pebble-tuned-nocompress\n"}, want[i].texts...) {
			if !strings.Contains(text, w) {
				t.Errorf("%s: %q missing from the text:\n%s", c.File, w, text)
			}
		}
	}
	// Other latencies give another latency chart.
	rs := chartGetResults()
	rs[0].Latency.P99 = 11 * time.Millisecond
	c, err := GetCharts(rs)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(c[0].SVG, a[0].SVG) {
		t.Error("different latencies, same chart")
	}
	if !bytes.Equal(c[1].SVG, a[1].SVG) {
		t.Error("same throughput, different throughput chart")
	}

	gs, err := GetSection(chartGetResults())
	if err != nil || gs.Scenario != "get" || len(gs.Charts) != 2 || !strings.Contains(gs.Markdown, "| peer | customers/s |") {
		t.Errorf("get section: %+v, %v", gs, err)
	}
	es, err := EraseSection(chartEraseResults())
	if err != nil || es.Scenario != "erase" || len(es.Charts) != 2 || !strings.Contains(es.Markdown, "| peer | erasures/s |") {
		t.Errorf("erase section: %+v, %v", es, err)
	}
}

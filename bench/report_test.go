package bench

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

func testReport(t *testing.T) Report {
	t.Helper()
	in, err := IngestSection(chartIngestResults())
	if err != nil {
		t.Fatal(err)
	}
	ex, err := ExpirySection(chartExpiryResults())
	if err != nil {
		t.Fatal(err)
	}
	out, err := ExportSection(chartExportResults())
	if err != nil {
		t.Fatal(err)
	}
	return Report{
		Command:  "contactstore bench --scenario all --n 300 --report rep",
		Machine:  Machine{Cores: 2, GOMAXPROCS: 2, GOOS: "linux", GOARCH: "amd64", Go: "go1.26.8", CPU: "Test CPU", Memory: 24 << 30},
		Started:  time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC),
		Elapsed:  61 * time.Second,
		Sections: []Section{in, ex, out},
	}
}

func TestReportMarkdown(t *testing.T) {
	r := testReport(t)
	md := r.Markdown()
	if !strings.HasPrefix(md, "# contactstore bench\n\n`contactstore bench --scenario all --n 300 --report rep`\n\n") {
		t.Errorf("report does not begin with the title and the command line:\n%s", md)
	}
	for _, want := range []string{
		"Machine: 2 cores (GOMAXPROCS 2), linux/amd64, Test CPU, 24.0 GiB RAM, go1.26.8. Run started 2025-03-04 05:06 UTC, took 1m1s.",
		"\n## Ingest\n\n![Ingest throughput (higher is better)](ingest-throughput.svg)\n\n![Ingest: latency of one batch (lower is better)](ingest-latency.svg)\n\n" +
			Markdown(chartIngestResults()),
		"\n## Expiry\n\n![Expiry: time from the start of the deletion (lower is better)](expiry-times.svg)\n",
		ExpiryMarkdown(chartExpiryResults()),
		"\n## Export\n\n![Export throughput (higher is better)](export-throughput.svg)\n",
		ExportMarkdown(chartExportResults()),
	} {
		if !strings.Contains(md, want) {
			t.Errorf("missing %q in\n%s", want, md)
		}
	}
	// Sections in order.
	if i, j, k := strings.Index(md, "## Ingest"), strings.Index(md, "## Expiry"), strings.Index(md, "## Export"); !(i >= 0 && i < j && j < k) {
		t.Errorf("sections out of order: %d %d %d", i, j, k)
	}
	// Without a start time, no time is given.
	r.Started = time.Time{}
	if md := r.Markdown(); strings.Contains(md, "Run started") {
		t.Error("a run start without a time")
	}
}

func TestReportWrite(t *testing.T) {
	r := testReport(t)
	dir := filepath.Join(t.TempDir(), "rep")
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if string(md) != r.Markdown() {
		t.Error("report.md is not the report's Markdown")
	}
	// Every image the Markdown links is a file beside it holding the chart.
	links := regexp.MustCompile(`!\[[^\]]*\]\(([^)]+)\)`).FindAllStringSubmatch(string(md), -1)
	if len(links) != 6 {
		t.Fatalf("%d image links, want 6", len(links))
	}
	charts := map[string][]byte{}
	for _, s := range r.Sections {
		for _, c := range s.Charts {
			charts[c.File] = c.SVG
		}
	}
	for _, l := range links {
		if filepath.IsAbs(l[1]) || strings.Contains(l[1], "/") {
			t.Errorf("link %q is not relative to the report", l[1])
		}
		b, err := os.ReadFile(filepath.Join(dir, l[1]))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != string(charts[l[1]]) {
			t.Errorf("%s: file differs from the chart", l[1])
		}
	}

	// A chart name that is not a plain file name, or is used twice, is refused.
	for _, name := range []string{"../x.svg", "", "report.md", "ingest-latency.svg"} {
		bad := r
		bad.Sections = append([]Section{}, r.Sections...)
		bad.Sections[2].Charts = append([]Chart{}, bad.Sections[2].Charts...)
		bad.Sections[2].Charts[0].File = name
		if err := bad.Write(t.TempDir()); err == nil {
			t.Errorf("chart file %q written", name)
		}
	}
}

func TestThisMachine(t *testing.T) {
	m := ThisMachine()
	if m.Cores != runtime.NumCPU() || m.GOMAXPROCS < 1 || m.GOOS != runtime.GOOS || m.GOARCH != runtime.GOARCH || m.Go != runtime.Version() {
		t.Errorf("machine %+v", m)
	}
	if s := m.String(); !strings.Contains(s, runtime.GOOS+"/"+runtime.GOARCH) || !strings.Contains(s, " cores (GOMAXPROCS ") {
		t.Errorf("machine %q", s)
	}
	if runtime.GOOS == "linux" && (m.Memory == 0 || m.CPU == "") {
		t.Logf("no CPU model or memory from /proc: %+v", m)
	}
}

package bench

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Report is a benchmark report: report.md with the command line, the machine, and a
// section per scenario (its Markdown and its charts), written with the charts' SVG files
// beside it into one directory (Write), so that the Markdown links them by relative path.
type Report struct {
	// Command is the command line that produced the results.
	Command string
	Machine Machine
	// Started and Elapsed, if set, say when the run began and how long it took.
	Started time.Time
	Elapsed time.Duration
	// Sections are the scenarios, in the order they ran.
	Sections []Section
}

// Section is one scenario's part of a report.
type Section struct {
	// Scenario is the scenario's name ("ingest", "expiry", "export"); Title its heading.
	Scenario, Title string
	// Markdown is the scenario's results as rendered by Markdown, ExpiryMarkdown or
	// ExportMarkdown.
	Markdown string
	Charts   []Chart
}

// IngestSection returns the report section of ingest results.
func IngestSection(results []Result) (Section, error) {
	charts, err := IngestCharts(results)
	return Section{Scenario: "ingest", Title: "Ingest", Markdown: Markdown(results), Charts: charts}, err
}

// ExpirySection returns the report section of expiry results.
func ExpirySection(results []ExpiryResult) (Section, error) {
	charts, err := ExpiryCharts(results)
	return Section{Scenario: "expiry", Title: "Expiry", Markdown: ExpiryMarkdown(results), Charts: charts}, err
}

// GetSection is the get scenario's section: GetMarkdown and GetCharts.
func GetSection(results []GetResult) (Section, error) {
	charts, err := GetCharts(results)
	return Section{Scenario: "get", Title: "Get: one customer's whole history", Markdown: GetMarkdown(results), Charts: charts}, err
}

// EraseSection is the erase scenario's section: EraseMarkdown and EraseCharts.
func EraseSection(results []EraseResult) (Section, error) {
	charts, err := EraseCharts(results)
	return Section{Scenario: "erase", Title: "Erasure latency", Markdown: EraseMarkdown(results), Charts: charts}, err
}

// LookupSection is the lookup scenario's section: LookupMarkdown and LookupCharts.
func LookupSection(results []LookupResult) (Section, error) {
	charts, err := LookupCharts(results)
	return Section{Scenario: "lookup", Title: "Lookup: the customer behind an address or a number", Markdown: LookupMarkdown(results), Charts: charts}, err
}

// ExportSection returns the report section of export results.
func ExportSection(results []ExportResult) (Section, error) {
	charts, err := ExportCharts(results)
	return Section{Scenario: "export", Title: "Export", Markdown: ExportMarkdown(results), Charts: charts}, err
}

// Markdown renders the report: a title, the command line, the machine, then each section
// under its heading with its charts (linked as files in the same directory) before its
// tables.
func (r Report) Markdown() string {
	var b strings.Builder
	b.WriteString("# contactstore bench\n\n")
	fmt.Fprintf(&b, "`%s`\n\n", r.Command)
	fmt.Fprintf(&b, "Machine: %s.", r.Machine)
	if !r.Started.IsZero() {
		fmt.Fprintf(&b, " Run started %s", r.Started.UTC().Format("2006-01-02 15:04 MST"))
		if r.Elapsed > 0 {
			fmt.Fprintf(&b, ", took %s", r.Elapsed.Round(time.Second))
		}
		b.WriteString(".")
	}
	b.WriteString("\n")
	for _, s := range r.Sections {
		fmt.Fprintf(&b, "\n## %s\n\n", s.Title)
		for _, c := range s.Charts {
			fmt.Fprintf(&b, "![%s](%s)\n\n", mdAlt(c.Title), c.File)
		}
		b.WriteString(s.Markdown)
	}
	return b.String()
}

// mdAlt makes s safe as an image's alt text.
func mdAlt(s string) string {
	return strings.NewReplacer("[", "(", "]", ")", "\n", " ").Replace(s)
}

// Write writes report.md and every section's charts into dir, creating it if needed.
// Files of the same names are replaced; nothing else in dir is touched.
func (r Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("bench: report: %w", err)
	}
	seen := map[string]bool{"report.md": true}
	var errs []error
	for _, s := range r.Sections {
		for _, c := range s.Charts {
			if c.File == "" || filepath.Base(c.File) != c.File || seen[c.File] {
				return fmt.Errorf("bench: report: chart file name %q is empty, not a plain name or used twice", c.File)
			}
			seen[c.File] = true
			errs = append(errs, os.WriteFile(filepath.Join(dir, c.File), c.SVG, 0o644))
		}
	}
	errs = append(errs, os.WriteFile(filepath.Join(dir, "report.md"), []byte(r.Markdown()), 0o644))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bench: report: %w", err)
	}
	return nil
}

// Machine describes the computer a benchmark ran on.
type Machine struct {
	// Cores is the number of logical CPUs; GOMAXPROCS how many the run could use at once.
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	Go         string `json:"go"`
	// CPU is the processor's model name, Memory the total RAM in bytes (empty or 0 where
	// the platform does not say: both come from /proc).
	CPU    string `json:"cpu,omitempty"`
	Memory uint64 `json:"memory,omitempty"`
}

// ThisMachine describes the machine the process runs on.
func ThisMachine() Machine {
	m := Machine{
		Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, Go: runtime.Version(),
	}
	m.CPU = procField("/proc/cpuinfo", "model name", ':')
	if kb := procField("/proc/meminfo", "MemTotal", ':'); kb != "" {
		if n, err := strconv.ParseUint(strings.TrimSuffix(kb, " kB"), 10, 64); err == nil {
			m.Memory = n << 10
		}
	}
	return m
}

// String says it in one line: "2 cores (GOMAXPROCS 2), linux/amd64, AMD EPYC 7B13, 23.4 GiB
// RAM, go1.26.8".
func (m Machine) String() string {
	parts := []string{fmt.Sprintf("%d cores (GOMAXPROCS %d)", m.Cores, m.GOMAXPROCS), m.GOOS + "/" + m.GOARCH}
	if m.CPU != "" {
		parts = append(parts, m.CPU)
	}
	if m.Memory > 0 {
		parts = append(parts, fmt.Sprintf("%.1f GiB RAM", float64(m.Memory)/(1<<30)))
	}
	if m.Go != "" {
		parts = append(parts, m.Go)
	}
	return strings.Join(parts, ", ")
}

// procField returns the value of the first line of file that starts with key, after sep,
// trimmed; "" if there is none.
func procField(file, key string, sep byte) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if k, v, ok := strings.Cut(line, string(sep)); ok && strings.TrimSpace(k) == key {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return ""
}

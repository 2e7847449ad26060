package bench

import (
	"fmt"
	"strings"
	"time"
)

// Markdown renders results as Markdown: a table of the measurements, then ratio tables
// (row ÷ column) of throughput, settled throughput and settled disk size between every
// pair of peers. Sizes are MiB; MB/s counts 10^6 bytes of JSON input a second.
func Markdown(results []Result) string {
	var b strings.Builder
	if len(results) == 0 {
		return "No results.\n"
	}
	r0 := results[0]
	sync := "no fsync"
	if r0.Sync {
		sync = "fsync per batch"
	}
	fmt.Fprintf(&b, "%d contacts (%.1f MB of JSON), batches of %d, %d writer(s), %s.\n\n",
		r0.Records, float64(r0.InputBytes)/1e6, r0.Batch, r0.Writers, sync)

	b.WriteString("| peer | records/s | MB/s | elapsed | CPU µs/record (ingest + settle) | batch p50 | p99 | max | stalls | peak heap | peak RSS | disk after ingest | settle | disk settled | of it sstables | of it WAL | settled records/s |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %s | %.1f | %s | %s | %s | %s | %s | %d (%s) | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.Peer, thousands(r.RecordsPerSec), r.MBPerSec, dur(r.Elapsed), cpuPerRecord(r), dur(r.P50), dur(r.P99), dur(r.Max),
			r.WriteStalls, dur(r.StallTime), mib(int64(r.PeakHeap)), mib(int64(r.PeakRSS)),
			mib(r.DiskIngest), dur(r.Settle), mib(r.DiskSettled), mib(r.SSTSettled), mib(r.WALSettled),
			thousands(r.SettledRecordsPerSec))
	}

	if len(results) > 1 {
		ratioTable(&b, "records/s", results, func(r Result) float64 { return r.RecordsPerSec })
		ratioTable(&b, "CPU per record, ingest + settle", results, func(r Result) float64 { return float64(r.CPUIngest + r.CPUSettle) })
		ratioTable(&b, "settled records/s", results, func(r Result) float64 { return r.SettledRecordsPerSec })
		ratioTable(&b, "disk settled", results, func(r Result) float64 { return float64(r.DiskSettled) })
		ratioTable(&b, "sstables settled", results, func(r Result) float64 { return float64(r.SSTSettled) })
	}

	b.WriteString("\nSettling:\n")
	seen := map[string]bool{}
	for _, r := range results {
		if r.SettleMethod != "" && !seen[r.SettleMethod] {
			seen[r.SettleMethod] = true
			var peers []string
			for _, o := range results {
				if o.SettleMethod == r.SettleMethod {
					peers = append(peers, o.Peer)
				}
			}
			fmt.Fprintf(&b, "- %s: %s.\n", strings.Join(peers, ", "), r.SettleMethod)
		}
	}
	return b.String()
}

func ratioTable(b *strings.Builder, what string, results []Result, f func(Result) float64) {
	fmt.Fprintf(b, "\n| %s, row ÷ column |", what)
	for _, c := range results {
		fmt.Fprintf(b, " %s |", c.Peer)
	}
	b.WriteString("\n|---|")
	for range results {
		b.WriteString("--:|")
	}
	b.WriteByte('\n')
	for _, r := range results {
		fmt.Fprintf(b, "| %s |", r.Peer)
		for _, c := range results {
			if f(c) == 0 {
				b.WriteString(" – |")
				continue
			}
			fmt.Fprintf(b, " %.2f× |", f(r)/f(c))
		}
		b.WriteByte('\n')
	}
}

func cpuPerRecord(r Result) string {
	if r.Records == 0 || r.CPUIngest == 0 {
		return "–"
	}
	us := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(r.Records) }
	return fmt.Sprintf("%.1f + %.1f", us(r.CPUIngest), us(r.CPUSettle))
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func dur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// thousands formats v rounded to an integer with grouping commas: 1234567 → 1,234,567.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

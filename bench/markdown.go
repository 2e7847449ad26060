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

// LookupMarkdown renders lookup results as Markdown: a table of the measurements per peer,
// the latencies by kind of lookup, and ratio tables (row ÷ column) of p50, p99 and
// throughput between every pair of peers.
func LookupMarkdown(results []LookupResult) string {
	if len(results) == 0 {
		return "No results.\n"
	}
	var b strings.Builder
	r0 := results[0]
	fmt.Fprintf(&b, "Lookup: %s lookups (%d e-mail addresses, %d phone numbers, %d misses) in a settled store of %s customers with %s contacts (%s as JSON).\n\n",
		thousands(float64(r0.Latency.Ops)), r0.Emails, r0.Phones, r0.Misses, thousands(float64(r0.Customers)), thousands(float64(r0.N)), mib(r0.InputBytes))
	b.WriteString("| peer | lookups | lookups/s | p50 | p99 | max | peak heap in use | peak RSS | load | settle | disk |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", r.Peer, thousands(float64(r.Latency.Ops)), latencyCells(r.Latency),
			memCells(r.Mem), dur(r.Load), dur(r.Settle), mib(r.Disk))
	}
	b.WriteString("\n| peer | e-mail p50 | p99 | phone p50 | p99 | miss p50 | p99 | customers returned per hit (mean) | most |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range results {
		mean := 0.0
		if hits := r.Emails + r.Phones; hits > 0 {
			mean = float64(r.Returned) / float64(hits)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %.2f | %d |\n", r.Peer,
			dur(r.EmailLatency.P50), dur(r.EmailLatency.P99), dur(r.PhoneLatency.P50), dur(r.PhoneLatency.P99),
			dur(r.MissLatency.P50), dur(r.MissLatency.P99), mean, r.MostReturned)
	}
	if len(results) > 1 {
		peers := make([]string, len(results))
		for i, r := range results {
			peers[i] = r.Peer
		}
		lookupRatios(&b, "p50 latency", peers, results, func(r LookupResult) float64 { return float64(r.Latency.P50) })
		lookupRatios(&b, "p99 latency", peers, results, func(r LookupResult) float64 { return float64(r.Latency.P99) })
		lookupRatios(&b, "lookups/s", peers, results, func(r LookupResult) float64 { return r.Latency.OpsPerSec })
		lookupRatios(&b, "disk", peers, results, func(r LookupResult) float64 { return float64(r.Disk) })
	}
	b.WriteString("\nHow each peer looks up:\n")
	for _, r := range results {
		fmt.Fprintf(&b, "- %s: %s. Verified: %s.\n", r.Peer, r.Method, r.Verified)
	}
	b.WriteString("\nThe customers returned can differ between peers where the store's normalisation joins forms that the others keep apart (\"+44 7700 900123\" and \"0044 7700 900123\"). " +
		"Peak memory is above a baseline taken after a GC just before the lookups; Pebble's block cache (512 MiB, outside the Go heap) counts in the RSS only. " +
		"Load is the time spent in the peer's writes (fsync per batch), generation excluded.\n")
	return b.String()
}

// lookupRatios writes a ratio table, row ÷ column, of f between the peers.
func lookupRatios(b *strings.Builder, what string, peers []string, results []LookupResult, f func(LookupResult) float64) {
	fmt.Fprintf(b, "\n| %s, row ÷ column | %s |\n|---|", what, strings.Join(peers, " | "))
	b.WriteString(strings.Repeat("--:|", len(peers)) + "\n")
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

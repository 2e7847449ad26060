package main

import (
	"contactstore/internal/progress"
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
)

func init() {
	register(command{name: "stats", summary: "show counts, sizes, engine health and service ratings", run: cmdStats})
}

func cmdStats(e *env, args []string) int {
	f := e.flags("stats", "--dir DIR [--json]")
	sf := addStoreFlags(f)
	asJSON := f.Bool("json", false, "print JSON")
	_, code, ok := parseArgs(f, args, func(pos []string) bool { return len(pos) > 0 || *sf.dir == "" })
	if !ok {
		return code
	}
	s, err := e.openStore(sf, nil)
	if err != nil {
		return e.exitFor(err)
	}
	defer s.Close()
	st, err := s.Stats(context.Background())
	if err != nil {
		return e.fail(err)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			return e.fail(err)
		}
		return exitOK
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "store\t%s\n", st.StoreID)
	fmt.Fprintf(w, "contacts\t%d\n", st.Contacts)
	fmt.Fprintf(w, "customers\t%d\n", st.Customers)
	fmt.Fprintf(w, "key vault\tgeneration %d, %d shard keys, %d bucket keys\n", st.VaultGeneration, st.Shards, st.Buckets)
	fmt.Fprintf(w, "disk\t%s total (tables %s, WAL %s, vault %s)\n", bytesStr(st.Disk.Total), bytesStr(st.Disk.SST), bytesStr(st.Disk.WAL), bytesStr(uint64(st.Disk.Vault)))
	p := st.Pebble
	fmt.Fprintf(w, "engine\tL0 %d files/%d sublevels, read amp %d, %d flushes, %d compactions, debt %s, %d write stalls (%s)\n",
		p.L0Files, p.L0Sublevels, p.ReadAmp, p.Flushes, p.Compactions, bytesStr(p.CompactionDebt), p.WriteStalls, p.WriteStallTime)
	w.Flush()
	if len(st.Ratings) > 0 {
		fmt.Fprintln(e.stdout, "\nService ratings by channel and month (1-10):")
		w = tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(w, "month\tchannel\tcontacts\trated\taverage\t")
		for _, r := range st.Ratings {
			ch := r.Channel
			if ch == "" {
				ch = "-"
			}
			avg := "-"
			if r.Rated > 0 {
				avg = fmt.Sprintf("%.2f", r.Average)
			}
			fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t\n", r.Month, ch, r.Contacts, r.Rated, avg)
		}
		w.Flush()
	}
	return exitOK
}

func bytesStr(n uint64) string { return progress.Bytes(n) }

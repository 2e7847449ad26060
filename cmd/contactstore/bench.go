package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"contactstore/bench"
	"contactstore/internal/progress"
)

func init() {
	register(command{name: "bench", summary: "measure ingest side by side with plain Pebble on generated contacts", run: cmdBench})
}

func cmdBench(e *env, args []string) int {
	f := e.flags("bench", "[--scenario ingest] [--n N] [--seed S] [--json] [--report DIR]")
	scenario := f.String("scenario", "ingest", "what to measure (ingest)")
	n := f.Int("n", 100000, "contacts to generate")
	seed := f.Int64("seed", 1, "workload seed")
	customers := f.Int("customers", 0, "customers (default N/10)")
	batch := f.Int("batch", 1000, "contacts per batch")
	writers := f.Int("writers", 1, "concurrent writers")
	noSync := f.Bool("no-sync", false, "do not fsync each batch")
	peers := f.String("peers", strings.Join(bench.DefaultPeers, ","), "peers to run: "+strings.Join(bench.Peers, ", "))
	dir := f.String("dir", "", "where the stores go (default: a temporary directory)")
	asJSON := f.Bool("json", false, "print the results as JSON instead of Markdown")
	report := f.String("report", "", "also write report.md and results.json into this directory")
	_, code, ok := parseArgs(f, args, func(pos []string) bool { return len(pos) > 0 || *n < 1 })
	if !ok {
		return code
	}
	if *scenario != "ingest" {
		return e.exitFor(errUsage(fmt.Sprintf("--scenario %q: only ingest is implemented so far", *scenario)))
	}
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "contactstore-bench-")
		if err != nil {
			return e.fail(err)
		}
		defer os.RemoveAll(tmp)
		*dir = tmp
	}
	ps := strings.Split(*peers, ",")
	bar := progress.New(e.stderrFile, "bench", 0)
	res, err := bench.RunIngest(context.Background(), bench.Config{
		N: *n, Seed: *seed, Customers: *customers, Batch: *batch, Writers: *writers, Sync: !*noSync,
		Dir: filepath.Join(*dir, "run"), Peers: ps,
	}, func(done int) { bar.Update(0, int64(done)) })
	bar.Done()
	if err != nil {
		return e.fail(err)
	}
	md := bench.Markdown(res)
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return e.fail(err)
	}
	if *asJSON {
		fmt.Fprintln(e.stdout, string(js))
	} else {
		fmt.Fprint(e.stdout, md)
	}
	if *report != "" {
		if err := os.MkdirAll(*report, 0o755); err != nil {
			return e.fail(err)
		}
		cmdline := "contactstore bench " + strings.Join(args, " ")
		werr := errors.Join(
			os.WriteFile(filepath.Join(*report, "report.md"), []byte("# contactstore bench\n\n`"+cmdline+"`\n\n"+md), 0o644),
			os.WriteFile(filepath.Join(*report, "results.json"), js, 0o644))
		if werr != nil {
			return e.fail(werr)
		}
	}
	return exitOK
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"contactstore/bench"
	"contactstore/internal/progress"
)

func init() {
	register(command{name: "bench", summary: "measure ingest, expiry or export side by side with plain Pebble on generated contacts", run: cmdBench})
}

func cmdBench(e *env, args []string) int {
	f := e.flags("bench", "[--scenario ingest|expiry|export] [--n N] [--seed S] [--json] [--report DIR]")
	scenario := f.String("scenario", "ingest", "what to measure: ingest, expiry (N contacts that fall due together, among N/10 that stay), or export (one customer's N contacts, plain and age-encrypted)")
	n := f.Int("n", 100000, "contacts to generate (expiry: contacts that fall due together, default 1000000)")
	seed := f.Int64("seed", 1, "workload seed")
	customers := f.Int("customers", 0, "customers (default N/20; expiry: (N + N/10)/20)")
	batch := f.Int("batch", 1000, "contacts per batch")
	writers := f.Int("writers", 1, "concurrent writers")
	noSync := f.Bool("no-sync", false, "do not fsync each batch")
	peers := f.String("peers", strings.Join(bench.DefaultPeers, ","), "peers to run: "+strings.Join(bench.Peers, ", ")+
		" (expiry: "+strings.Join(bench.ExpiryPeers, ", ")+", default all; export: "+strings.Join(bench.ExportPeers, ", ")+
		", default "+strings.Join(bench.DefaultExportPeers, ",")+")")
	scale := f.Bool("scale", true, "expiry: also run with N/10 contacts, to show how the costs grow with N")
	reference := f.Bool("reference", true, "expiry: also load the live contacts alone, to measure the live data's size")
	rounds := f.Int("rounds", bench.DefaultExportRounds, "export: exports per peer (the report gives the median time and the highest memory)")
	dir := f.String("dir", "", "where the stores go (default: a temporary directory)")
	asJSON := f.Bool("json", false, "print the results as JSON instead of Markdown")
	report := f.String("report", "", "also write report.md and results.json into this directory")
	_, code, ok := parseArgs(f, args, func(pos []string) bool { return len(pos) > 0 || *n < 1 || *rounds < 1 })
	if !ok {
		return code
	}
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	switch *scenario {
	case "ingest":
		for _, name := range []string{"scale", "reference"} {
			if set[name] {
				return e.exitFor(errUsage(fmt.Sprintf("--%s applies to --scenario expiry only", name)))
			}
		}
	case "expiry":
		if set["writers"] {
			return e.exitFor(errUsage("--writers applies to --scenario ingest only"))
		}
	case "export":
		// One customer, loaded without fsync (loading is not measured).
		for _, name := range []string{"customers", "writers", "no-sync", "scale", "reference"} {
			if set[name] {
				return e.exitFor(errUsage(fmt.Sprintf("--%s does not apply to --scenario export", name)))
			}
		}
	default:
		return e.exitFor(errUsage(fmt.Sprintf("--scenario %q: ingest or expiry or export", *scenario)))
	}
	if *scenario != "export" && set["rounds"] {
		return e.exitFor(errUsage("--rounds applies to --scenario export only"))
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
	if *scenario == "export" {
		cfg := bench.ExportConfig{N: *n, Seed: *seed, Batch: *batch, Rounds: *rounds, Dir: filepath.Join(*dir, "export")}
		if set["peers"] {
			cfg.Peers = ps
		}
		res, err := bench.RunExport(context.Background(), cfg, func(msg string) { e.infof("bench: %s", msg) })
		if err != nil {
			return e.fail(err)
		}
		return e.benchOutput(args, bench.ExportMarkdown(res), res, *asJSON, *report)
	}
	if *scenario == "expiry" {
		cfg := bench.ExpiryConfig{
			Seed: *seed, Customers: *customers, Batch: *batch, Sync: !*noSync,
			Scale: *scale, Reference: *reference, Dir: filepath.Join(*dir, "expiry"),
		}
		if set["n"] {
			cfg.N = *n
		}
		if set["peers"] {
			cfg.Peers = ps
		}
		res, err := bench.RunExpiry(context.Background(), cfg, func(msg string) { e.infof("bench: %s", msg) })
		if err != nil {
			return e.fail(err)
		}
		return e.benchOutput(args, bench.ExpiryMarkdown(res), res, *asJSON, *report)
	}
	bar := progress.New(e.stderrFile, "bench", 0)
	res, err := bench.RunIngest(context.Background(), bench.Config{
		N: *n, Seed: *seed, Customers: *customers, Batch: *batch, Writers: *writers, Sync: !*noSync,
		Dir: filepath.Join(*dir, "run"), Peers: ps,
	}, func(done int) { bar.Update(0, int64(done)) })
	bar.Done()
	if err != nil {
		return e.fail(err)
	}
	return e.benchOutput(args, bench.Markdown(res), res, *asJSON, *report)
}

// benchOutput prints a scenario's results (Markdown, or JSON with --json) and writes them
// into the report directory if one is given.
func (e *env) benchOutput(args []string, md string, res any, asJSON bool, report string) int {
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return e.fail(err)
	}
	if asJSON {
		fmt.Fprintln(e.stdout, string(js))
	} else {
		fmt.Fprint(e.stdout, md)
	}
	if report != "" {
		if err := os.MkdirAll(report, 0o755); err != nil {
			return e.fail(err)
		}
		cmdline := "contactstore bench " + strings.Join(args, " ")
		werr := errors.Join(
			os.WriteFile(filepath.Join(report, "report.md"), []byte("# contactstore bench\n\n`"+cmdline+"`\n\n"+md), 0o644),
			os.WriteFile(filepath.Join(report, "results.json"), js, 0o644))
		if werr != nil {
			return e.fail(werr)
		}
	}
	return exitOK
}

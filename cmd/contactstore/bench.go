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
	"time"

	"contactstore/bench"
	"contactstore/internal/progress"
)

func init() {
	register(command{name: "bench", summary: "measure ingest, expiry, export, get, erase or lookup (or the first three together) side by side with plain Pebble and SQLite on generated contacts", run: cmdBench})
}

func cmdBench(e *env, args []string) int {
	f := e.flags("bench", "[--scenario ingest|expiry|export|get|erase|lookup|all] [--n N] [--seed S] [--json] [--report DIR]")
	scenario := f.String("scenario", "ingest", "what to measure: ingest, expiry (N contacts that fall due together, among N/10 that stay), or export (one customer's N contacts, plain and age-encrypted), or get (whole histories of random customers), or erase (erasure latency), or lookup (customers found by e-mail address and phone number, in a store of --customers customers, default 1,000,000; not part of all: loading its three peers takes minutes even at 100,000), or all (ingest, expiry and export in turn, at N each, default 100,000, with one report)")
	n := f.Int("n", 100000, "contacts to generate (expiry: contacts that fall due together, default 1000000; lookup: default --customers)")
	seed := f.Int64("seed", 1, "workload seed")
	customers := f.Int("customers", 0, "customers (default N/20; expiry: (N + N/10)/20; lookup: default N, or 1000000 without --n)")
	batch := f.Int("batch", 1000, "contacts per batch")
	writers := f.Int("writers", 1, "concurrent writers")
	noSync := f.Bool("no-sync", false, "do not fsync each batch")
	peers := f.String("peers", strings.Join(bench.DefaultPeers, ","), "peers to run: "+strings.Join(bench.Peers, ", ")+
		" (expiry: "+strings.Join(bench.ExpiryPeers, ", ")+", default all; export: "+strings.Join(bench.ExportPeers, ", ")+
		", default "+strings.Join(bench.DefaultExportPeers, ",")+"; lookup: "+strings.Join(bench.LookupPeers, ", ")+", default all)")
	scale := f.Bool("scale", true, "expiry: also run with N/10 contacts, to show how the costs grow with N")
	reference := f.Bool("reference", true, "expiry: also load the live contacts alone, to measure the live data's size")
	rounds := f.Int("rounds", bench.DefaultExportRounds, "export: exports per peer (the report gives the median time and the highest memory)")
	lookups := f.Int("lookups", bench.DefaultGetLookups, "get: random customers whose whole history is read; lookup: lookups per peer (default 10000)")
	erasures := f.Int("erasures", bench.DefaultEraseM, "erase: random customers erased one after the other")
	dir := f.String("dir", "", "where the stores go (default: a temporary directory)")
	asJSON := f.Bool("json", false, "print the results as JSON instead of Markdown")
	report := f.String("report", "", "also write report.md (with the command line and the machine), charts (SVG) and results.json into this directory")
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
	case "get", "erase":
		for _, name := range []string{"writers", "no-sync", "scale", "reference", "peers"} {
			if set[name] {
				return e.exitFor(errUsage(fmt.Sprintf("--%s does not apply to --scenario %s", name, *scenario)))
			}
		}
	case "lookup":
		for _, name := range []string{"writers", "no-sync", "scale", "reference"} {
			if set[name] {
				return e.exitFor(errUsage(fmt.Sprintf("--%s does not apply to --scenario lookup", name)))
			}
		}
	case "all":
		// Each scenario runs its default peers; the other flags go to the scenarios they
		// apply to.
		if set["peers"] {
			return e.exitFor(errUsage("--peers does not apply to --scenario all: run one scenario to choose its peers"))
		}
	default:
		return e.exitFor(errUsage(fmt.Sprintf("--scenario %q: ingest or expiry or export or all (or get, erase, lookup)", *scenario)))
	}
	if *scenario != "export" && *scenario != "all" && set["rounds"] {
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
	started := time.Now()
	say := func(msg string) { e.infof("bench: %s", msg) }

	runExport := func(n int) ([]bench.ExportResult, error) {
		cfg := bench.ExportConfig{N: n, Seed: *seed, Batch: *batch, Rounds: *rounds, Dir: filepath.Join(*dir, "export")}
		if set["peers"] {
			cfg.Peers = ps
		}
		return bench.RunExport(context.Background(), cfg, say)
	}
	runExpiry := func(n int) ([]bench.ExpiryResult, error) {
		cfg := bench.ExpiryConfig{
			N: n, Seed: *seed, Customers: *customers, Batch: *batch, Sync: !*noSync,
			Scale: *scale, Reference: *reference, Dir: filepath.Join(*dir, "expiry"),
		}
		if set["peers"] {
			cfg.Peers = ps
		}
		return bench.RunExpiry(context.Background(), cfg, say)
	}
	runIngest := func(n int) ([]bench.Result, error) {
		cfg := bench.Config{
			N: n, Seed: *seed, Customers: *customers, Batch: *batch, Writers: *writers, Sync: !*noSync,
			Dir: filepath.Join(*dir, "run"), Peers: ps,
		}
		if *scenario == "all" {
			cfg.Peers = nil // the default peers
		}
		label := "bench"
		if *scenario == "all" {
			label = "bench ingest"
		}
		bar := progress.New(e.stderrFile, label, 0)
		res, err := bench.RunIngest(context.Background(), cfg, func(done int) { bar.Update(0, int64(done)) })
		bar.Done()
		return res, err
	}

	out := benchOut{args: args, asJSON: *asJSON, report: *report, started: started}
	switch *scenario {
	case "get":
		res, err := bench.RunGet(context.Background(), bench.GetConfig{N: *n, Customers: *customers, Seed: *seed, Lookups: *lookups, Batch: *batch, Dir: filepath.Join(*dir, "get")}, say)
		if err != nil {
			return e.fail(err)
		}
		md := bench.GetMarkdown(res)
		return e.benchOutput(out, md, res, func() (bench.Section, error) { return bench.GetSection(res) })
	case "lookup":
		cfg := bench.LookupConfig{Seed: *seed, Batch: *batch, Dir: filepath.Join(*dir, "lookup")}
		if set["n"] {
			cfg.N = *n
		}
		if set["customers"] {
			cfg.Customers = *customers
		}
		if set["lookups"] {
			cfg.Lookups = *lookups
		}
		if set["peers"] {
			cfg.Peers = ps
		}
		res, err := bench.RunLookup(context.Background(), cfg, say)
		if err != nil {
			return e.fail(err)
		}
		return e.benchOutput(out, bench.LookupMarkdown(res), res, func() (bench.Section, error) { return bench.LookupSection(res) })
	case "erase":
		res, err := bench.RunErase(context.Background(), bench.EraseConfig{N: *n, Customers: *customers, Seed: *seed, M: *erasures, Batch: *batch, Dir: filepath.Join(*dir, "erase")}, say)
		if err != nil {
			return e.fail(err)
		}
		md := bench.EraseMarkdown(res)
		return e.benchOutput(out, md, res, func() (bench.Section, error) { return bench.EraseSection(res) })
	case "export":
		res, err := runExport(*n)
		if err != nil {
			return e.fail(err)
		}
		return e.benchOutput(out, bench.ExportMarkdown(res), res, func() (bench.Section, error) { return bench.ExportSection(res) })
	case "expiry":
		en := 0 // the scenario's default
		if set["n"] {
			en = *n
		}
		res, err := runExpiry(en)
		if err != nil {
			return e.fail(err)
		}
		return e.benchOutput(out, bench.ExpiryMarkdown(res), res, func() (bench.Section, error) { return bench.ExpirySection(res) })
	case "ingest":
		res, err := runIngest(*n)
		if err != nil {
			return e.fail(err)
		}
		return e.benchOutput(out, bench.Markdown(res), res, func() (bench.Section, error) { return bench.IngestSection(res) })
	}

	// --scenario all: ingest, expiry and export in turn, at N each (without --n:
	// allDefaultN each, expiry's own default being much larger).
	sn := *n
	if !set["n"] {
		sn = allDefaultN
	}
	var all struct {
		Ingest []bench.Result       `json:"ingest"`
		Expiry []bench.ExpiryResult `json:"expiry"`
		Export []bench.ExportResult `json:"export"`
	}
	var err error
	e.infof("bench: [1/3] ingest, N=%d", sn)
	if all.Ingest, err = runIngest(sn); err != nil {
		return e.fail(err)
	}
	e.infof("bench: [2/3] expiry, N=%d", sn)
	if all.Expiry, err = runExpiry(sn); err != nil {
		return e.fail(err)
	}
	e.infof("bench: [3/3] export, N=%d", sn)
	if all.Export, err = runExport(sn); err != nil {
		return e.fail(err)
	}
	md := "## Ingest\n\n" + bench.Markdown(all.Ingest) +
		"\n## Expiry\n\n" + bench.ExpiryMarkdown(all.Expiry) +
		"\n## Export\n\n" + bench.ExportMarkdown(all.Export)
	return e.benchOutput(out, md, all, func() (bench.Section, error) { return bench.IngestSection(all.Ingest) },
		func() (bench.Section, error) { return bench.ExpirySection(all.Expiry) },
		func() (bench.Section, error) { return bench.ExportSection(all.Export) })
}

// allDefaultN is the number of contacts of each scenario of --scenario all without --n.
const allDefaultN = 100_000

// benchOut is how to present a run's results.
type benchOut struct {
	args    []string
	asJSON  bool
	report  string
	started time.Time
}

// benchOutput prints a run's results (Markdown, or JSON with --json) and, if a report
// directory is given, writes into it report.md (the command line, the machine, each
// scenario's charts and tables), the charts (SVG) and results.json.
func (e *env) benchOutput(o benchOut, md string, res any, sections ...func() (bench.Section, error)) int {
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return e.fail(err)
	}
	if o.asJSON {
		fmt.Fprintln(e.stdout, string(js))
	} else {
		fmt.Fprint(e.stdout, md)
	}
	if o.report != "" {
		rep := bench.Report{
			Command: "contactstore bench " + strings.Join(o.args, " "),
			Machine: bench.ThisMachine(),
			Started: o.started,
			Elapsed: time.Since(o.started),
		}
		for _, section := range sections {
			s, err := section()
			if err != nil {
				return e.fail(err)
			}
			rep.Sections = append(rep.Sections, s)
		}
		werr := errors.Join(rep.Write(o.report), os.WriteFile(filepath.Join(o.report, "results.json"), js, 0o644))
		if werr != nil {
			return e.fail(werr)
		}
	}
	return exitOK
}

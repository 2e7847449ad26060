package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"contactstore/internal/progress"
	"contactstore/store"
	"contactstore/store/importers"
)

func init() {
	register(command{name: "ingest", summary: "store contacts from JSON Lines, mbox, Zendesk, Freshdesk, Help Scout or CSV", run: cmdIngest})
}

func cmdIngest(e *env, args []string) int {
	f := e.flags("ingest", "--dir DIR [--format F] [flags] [FILE...|-]")
	sf := addStoreFlags(f)
	batch := f.Int("batch", 1000, "contacts per committed batch")
	noSync := f.Bool("no-sync", false, "do not fsync each batch (faster; a crash may lose the last batches, never part of one)")
	ff := addFormatFlags(f)
	pos, code, ok := parseArgs(f, args, func(pos []string) bool { return *sf.dir == "" || *batch < 1 })
	if !ok {
		return code
	}
	opts, err := ff.options()
	if err != nil {
		return e.exitFor(err)
	}
	opts.BatchSize = *batch
	opts.MaxProblems = maxShownProblems
	inputs, name, err := e.ingestInputs(pos)
	if err != nil {
		return e.fail(err)
	}
	s, err := e.openStore(sf, &store.Options{NoSync: *noSync})
	if err != nil {
		return e.exitFor(err)
	}
	var total int64
	for _, in := range inputs {
		if in.Size < 0 {
			total = 0
			break
		}
		total += in.Size
	}
	if opts.Format == importers.Zendesk || opts.Format == importers.Freshdesk {
		total *= 2 // read twice
	}
	bar := progress.New(e.stderrFile, "ingest", total)
	log := e.logger()
	opts.Progress = func(p importers.Progress) {
		bar.Update(p.Bytes, int64(p.Records))
		// Counts only (CONTACTSTORE_LOG=debug): what is committed so far, for operators and
		// for the crash tests that kill ingest midway.
		if log != nil {
			log.Debug("ingest progress", "records", p.Records, "committed", p.Stored, "skipped", p.Skipped, "bytes", p.Bytes)
		}
	}
	res, ierr := importers.Import(context.Background(), s, inputs, opts)
	bar.Done()
	cerr := s.Close()
	return e.ingestReport(opts, name, res, ierr, cerr)
}

// ingestInputs turns the positional arguments into inputs and a name for the summary. A
// file that cannot be opened fails here, before the store is opened.
func (e *env) ingestInputs(pos []string) ([]importers.Input, string, error) {
	if len(pos) == 0 || len(pos) == 1 && pos[0] == "-" {
		return []importers.Input{importers.Stream("stdin", e.stdin, -1)}, "stdin", nil
	}
	inputs := make([]importers.Input, 0, len(pos))
	for _, p := range pos {
		if p == "-" {
			return nil, "", errUsage("stdin (-) cannot be combined with files")
		}
		file, err := os.Open(p)
		if err != nil {
			return nil, "", err
		}
		file.Close()
		inputs = append(inputs, importers.File(p))
	}
	if len(pos) == 1 {
		return inputs, pos[0], nil
	}
	return inputs, fmt.Sprintf("%d files", len(pos)), nil
}

// maxShownProblems bounds the problems printed with --skip-invalid.
const maxShownProblems = 100

// ingestReport prints the problems and the summary and returns the exit code.
func (e *env) ingestReport(opts importers.Options, name string, res importers.Result, ierr, cerr error) int {
	if opts.SkipInvalid {
		for _, p := range res.Problems {
			e.errorf("%s", p)
		}
		if more := res.ProblemCount - len(res.Problems); more > 0 {
			e.errorf("%d more problems not shown", more)
		}
	}
	rate := float64(res.Stored()) / max(res.Elapsed.Seconds(), 1e-9)
	summary := fmt.Sprintf("stored %d contacts (%d new, %d replaced) from %s in %s (%.0f contacts/s)",
		res.Stored(), res.Added, res.Replaced, name, res.Elapsed.Round(time.Millisecond), rate)
	if res.Expired > 0 {
		summary += fmt.Sprintf("; %d not stored: already past their retention term", res.Expired)
	}
	if res.Skipped > 0 {
		summary += fmt.Sprintf("; %d skipped (see above)", res.Skipped)
	}
	if res.Unindexed > 0 && opts.Format != importers.JSONL {
		summary += fmt.Sprintf("; %d e-mail or phone values not indexed (not normalisable)", res.Unindexed)
	}
	if ierr != nil {
		var pe *importers.ProblemError
		var ie *importers.InputError
		unit := "record"
		switch {
		case errors.As(ierr, &pe) && opts.Format == importers.JSONL:
			e.errorf("%s: line %d: %s", pe.File, pe.Line, pe.Reason)
			unit = "line"
		case errors.As(ierr, &pe):
			e.errorf("%s", pe.Problem)
		case errors.As(ierr, &ie) && ie.Name != "":
			e.errorf("%s: %v", ie.Name, ie.Err)
		case errors.As(ierr, &ie):
			e.errorf("%v", ie.Err)
		default:
			e.errorf("%s", strings.TrimPrefix(ierr.Error(), "importers: "))
		}
		if opts.Format == importers.JSONL {
			unit = "line"
		}
		e.infof("%s; every contact before the failing %s is committed", summary, unit)
		return exitFail
	}
	if cerr != nil {
		return e.fail(cerr)
	}
	e.infof("%s", summary)
	return exitOK
}

// formatFlags are ingest's flags that choose and configure the input format.
type formatFlags struct {
	format      *string
	mailboxes   []string
	mapping     *string
	comma       *string
	timeLayout  *string
	timeZone    *string
	hsMailboxes *string
	categories  *string
	skipInvalid *bool
	fs          *flag.FlagSet
}

func addFormatFlags(f *flag.FlagSet) *formatFlags {
	ff := &formatFlags{fs: f}
	ff.format = f.String("format", "jsonl", "input format: jsonl, mbox, zendesk, freshdesk, helpscout or csv")
	f.Func("mailbox", "mbox: an address (support@example.com) or domain (@example.com) of the company; repeat for more (required for mbox)", func(s string) error {
		ff.mailboxes = append(ff.mailboxes, s)
		return nil
	})
	ff.mapping = f.String("map", "", "csv: column mapping field=Column,... (fields: id, customer, time, channel, direction, category, agent, subject, body, email, phone, rating, tags)")
	ff.comma = f.String("comma", "", "csv: field separator, one character (default ,; \"tab\" for a tab)")
	ff.timeLayout = f.String("time-layout", "", "csv: Go time layout of the time column (default: RFC 3339 and other common layouts)")
	ff.timeZone = f.String("time-zone", "", "csv: zone of times written without one, e.g. Europe/Amsterdam (default UTC)")
	ff.hsMailboxes = f.String("helpscout-mailboxes", "", "helpscout: mailbox names by id, ID=Name,... (the category of conversations that carry only a mailboxId)")
	ff.categories = f.String("categories", "", "map source categories to retention categories: Source=category,...,*=default, or @FILE (a JSON object)")
	ff.skipInvalid = f.Bool("skip-invalid", false, "report invalid records and go on (default: stop at the first, after committing the ones before)")
	return ff
}

// options turns the flags into importers.Options; a wrong flag is a usage error.
func (ff *formatFlags) options() (importers.Options, error) {
	var opts importers.Options
	format, err := importers.ParseFormat(*ff.format)
	if err != nil {
		return opts, errUsage(strings.TrimPrefix(err.Error(), "importers: "))
	}
	opts.Format = format
	set := map[string]bool{}
	ff.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	for flagName, want := range map[string]importers.Format{"mailbox": importers.MBox, "map": importers.CSV,
		"comma": importers.CSV, "time-layout": importers.CSV, "time-zone": importers.CSV, "helpscout-mailboxes": importers.HelpScout} {
		if set[flagName] && format != want {
			return opts, errUsage(fmt.Sprintf("--%s applies to --format %s only", flagName, want))
		}
	}
	if format == importers.MBox && len(ff.mailboxes) == 0 {
		return opts, errUsage("--format mbox needs --mailbox: the company's address or @domain, to tell the customer from the company")
	}
	opts.Mailboxes = ff.mailboxes
	opts.SkipInvalid = *ff.skipInvalid
	if opts.CSV, err = ff.csvOptions(); err != nil {
		return opts, err
	}
	if *ff.hsMailboxes != "" {
		if opts.HelpScoutMailboxes, err = parsePairs(*ff.hsMailboxes); err != nil {
			return opts, errUsage("--helpscout-mailboxes: " + err.Error())
		}
	}
	if c := *ff.categories; c != "" {
		if path, ok := strings.CutPrefix(c, "@"); ok {
			opts.Categories, err = importers.LoadCategories(path)
			if err != nil {
				return opts, err
			}
		} else if opts.Categories, err = importers.ParseCategories(c); err != nil {
			return opts, errUsage("--categories: " + strings.TrimPrefix(err.Error(), "importers: categories: "))
		}
	}
	return opts, nil
}

func (ff *formatFlags) csvOptions() (importers.CSVOptions, error) {
	var co importers.CSVOptions
	var err error
	if *ff.mapping != "" {
		if co.Mapping, err = importers.ParseMapping(*ff.mapping); err != nil {
			return co, errUsage("--map: " + strings.TrimPrefix(err.Error(), "importers: csvfmt: "))
		}
	}
	switch c := *ff.comma; {
	case c == "":
	case c == "tab" || c == `\t`:
		co.Comma = '\t'
	case len([]rune(c)) == 1:
		co.Comma = []rune(c)[0]
	default:
		return co, errUsage("--comma must be one character (or \"tab\")")
	}
	co.TimeLayout = *ff.timeLayout
	if z := *ff.timeZone; z != "" {
		if co.Location, err = time.LoadLocation(z); err != nil {
			return co, errUsage(fmt.Sprintf("--time-zone: unknown zone %q", z))
		}
	}
	return co, nil
}

// parsePairs parses "k=v,k=v".
func parsePairs(s string) (map[string]string, error) {
	m := map[string]string{}
	for pair := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(pair, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, errors.New("want ID=Name,...")
		}
		m[k] = v
	}
	return m, nil
}

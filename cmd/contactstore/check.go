package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"text/tabwriter"

	"contactstore/store"
)

func init() {
	register(command{name: "check", summary: "check the store's consistency (records, keys, index, counters, ledger, audit log)", run: cmdCheck})
}

// cmdCheck runs store.Check and prints its report: exit 0 when it found no error
// (warnings allowed), 1 when it did.
func cmdCheck(e *env, args []string) int {
	f := e.flags("check", "--dir DIR [--json] [--fast]")
	sf := addStoreFlags(f)
	asJSON := f.Bool("json", false, "print the report as JSON")
	fast := f.Bool("fast", false, "do not open the records (keys, counters, index and chains only)")
	_, code, ok := parseArgs(f, args, func(pos []string) bool { return len(pos) > 0 || *sf.dir == "" })
	if !ok {
		return code
	}
	s, err := e.openStore(sf, nil)
	if err != nil {
		return e.exitFor(err)
	}
	defer s.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := s.Check(ctx, &store.CheckOptions{Records: !*fast})
	if err != nil {
		return e.fail(err)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return e.fail(err)
		}
	} else {
		writeCheck(e, rep, *fast)
	}
	if !rep.OK() {
		e.errorf("check: the store is inconsistent (see the problems above)")
		return exitFail
	}
	return exitOK
}

func writeCheck(e *env, rep *store.CheckReport, fast bool) {
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "vault\tgeneration %d, %d shards, %d bucket keys\n", rep.VaultGeneration, rep.Shards, rep.Buckets)
	fmt.Fprintf(w, "customers\t%d (erased: %d)\n", rep.Customers, rep.Erased)
	opened := fmt.Sprintf("%d opened", rep.RecordsOpened)
	if fast {
		opened = "not opened (--fast)"
	}
	fmt.Fprintf(w, "records\t%d, %s; %d locators, %d bucket memberships\n", rep.Records, opened, rep.Locators, rep.Memberships)
	fmt.Fprintf(w, "index\t%d entries, %d memberships\n", rep.IndexEntries, rep.IndexMemberships)
	fmt.Fprintf(w, "side data\t%d holds, %d objections, %d disclosures, %d receipts\n", rep.Holds, rep.Objections, rep.Disclosures, rep.Receipts)
	fmt.Fprintf(w, "chains\t%d ledger entries, %d audit entries\n", rep.LedgerEntries, rep.AuditEntries)
	w.Flush()
	if len(rep.Problems) == 0 {
		fmt.Fprintln(e.stdout, "no problems found")
		return
	}
	fmt.Fprintln(e.stdout, "\nProblems:")
	for _, p := range rep.Problems {
		fmt.Fprintf(e.stdout, "  %s %s: %d\n", p.Severity, p.Kind, p.Count)
		for _, ex := range p.Examples {
			fmt.Fprintf(e.stdout, "    %s\n", ex)
		}
	}
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
)

func init() {
	register(command{name: "audit", summary: "the audit log: audit --dir DIR verify | show [--customer ID]", run: cmdAudit})
}

func cmdAudit(e *env, args []string) int {
	f := e.flags("audit", "--dir DIR (verify | show [--customer ID])")
	sf := addStoreFlags(f)
	customer := f.String("customer", "", "show: only entries that name this customer (by pseudonym)")
	asJSON := f.Bool("json", false, "verify: print the report as JSON")
	pos, code, ok := parseArgs(f, args, func(pos []string) bool {
		return len(pos) != 1 || (pos[0] != "verify" && pos[0] != "show") || *sf.dir == ""
	})
	if !ok {
		return code
	}
	s, err := e.openStore(sf, nil)
	if err != nil {
		return e.exitFor(err)
	}
	defer s.Close()
	ctx := context.Background()
	if pos[0] == "verify" {
		rep, err := s.VerifyAudit(ctx)
		if err != nil {
			return e.fail(err)
		}
		if *asJSON {
			printJSON(e.stdout, rep)
		} else {
			e.infof("audit log verified: entries %d-%d, chain intact, last signed checkpoint at %d (%d entries after it)",
				rep.First, rep.Last, rep.LastCheckpoint, rep.Unsigned)
		}
		return exitOK
	}
	w := bufio.NewWriter(e.stdout)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	n := 0
	for entry, err := range s.Audit(ctx, *customer) {
		if err != nil {
			w.Flush()
			return e.fail(err)
		}
		if err := enc.Encode(entry); err != nil {
			return e.fail(err)
		}
		n++
	}
	if err := w.Flush(); err != nil {
		return e.fail(err)
	}
	if n == 0 && *customer != "" {
		return e.fail(errors.New("no audit entries name this customer"))
	}
	return exitOK
}

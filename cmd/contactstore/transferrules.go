package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"contactstore/store"
)

func init() {
	register(command{name: "transfer-rules", summary: "show the transfer guard's EEA and adequacy list (--show [--json])", run: cmdTransferRules})
}

// scopeLegend says whom each adequacy scope covers, as the guard applies it.
var scopeLegend = []struct{ scope, text string }{
	{"full", "any recipient"},
	{"dpf", "only recipients certified under the EU-US Data Privacy Framework (export --dpf)"},
	{"commercial", "only commercial organisations, PIPEDA (export --commercial)"},
	{"private-sector", "only private-sector business operators (export --commercial)"},
}

func cmdTransferRules(e *env, args []string) int {
	f := e.flags("transfer-rules", "--show [--json] [--transfer-rules FILE]")
	show := f.Bool("show", false, "print the EEA and the adequacy decisions the transfer guard decides by")
	asJSON := f.Bool("json", false, "print the list in its file form (what --transfer-rules and $"+transferRulesEnv+" read)")
	rulesFile := addTransferRulesFlag(f)
	_, code, ok := parseArgs(f, args, func(pos []string) bool { return len(pos) > 0 || !*show })
	if !ok {
		return code
	}
	r, source, err := e.transferRules(*rulesFile)
	if err != nil {
		return e.fail(err)
	}
	if r == nil {
		r = store.DefaultTransferRules()
	}
	if *asJSON {
		data, err := r.MarshalJSON()
		if err != nil {
			return e.fail(err)
		}
		fmt.Fprintf(e.stdout, "%s\n", data)
		return exitOK
	}
	w := e.stdout
	fmt.Fprintf(w, "Transfer rules version %s, current as of %s (%s)\n", r.Version(), r.AsOf(), source)
	if n := r.Note(); n != "" {
		fmt.Fprintf(w, "%s\n", n)
	}
	eea := r.EEA()
	fmt.Fprintf(w, "\nEEA member states (%d), allowed on ground \"eea\": %s\n", len(eea), strings.Join(eea, " "))
	if ts := r.EEATerritories(); len(ts) > 0 {
		parts := make([]string, len(ts))
		for i, t := range ts {
			parts[i] = t.Country + " (" + t.PartOf + ")"
		}
		fmt.Fprintf(w, "Territories within the EU, treated as their member state: %s\n", strings.Join(parts, " "))
	}
	ad := r.Adequate()
	fmt.Fprintf(w, "\nAdequacy decisions of the European Commission (%d), allowed within their scope on ground \"adequacy\" (\"adequacy-dpf\" for the US):\n\n", len(ad))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "COUNTRY\tNAME\tDECISION\tADOPTED\tSCOPE\tSTATUS\tSOURCE")
	today := time.Now().UTC().Format(time.DateOnly)
	for _, a := range ad {
		status := "in force"
		switch {
		case a.Adopted > today:
			status = "from " + a.Adopted
		case a.Expires != "" && a.Expires <= today:
			status = "expired " + a.Expires
		case a.Expires != "":
			status = "until " + a.Expires
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Country, a.Name, a.Decision, a.Adopted, a.Scope, status, a.Source)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nScopes:")
	for _, l := range scopeLegend {
		fmt.Fprintf(w, "  %-15s %s\n", l.scope, l.text)
	}
	fmt.Fprintln(w, "\nAnywhere else, or outside a decision's scope: only with --safeguard scc|bcr (Art. 46/47 GDPR)")
	fmt.Fprintln(w, "or consent|legal-claims (Art. 49 derogations). A customer's objection (object --scope) wins over all.")
	fmt.Fprintf(w, "Replace the list without a rebuild: transfer-rules --show --json > FILE, edit, then --transfer-rules FILE or $%s.\n", transferRulesEnv)
	return exitOK
}

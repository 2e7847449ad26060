package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"contactstore/store"
)

func init() {
	register(command{name: "policy", summary: "set (--set FILE) or show (--show) the retention policy", run: cmdPolicy})
}

// maxPolicySize bounds a policy file: a policy is a default and a few rules.
const maxPolicySize = 1 << 20

func cmdPolicy(e *env, args []string) int {
	f := e.flags("policy", "--dir DIR (--set FILE | --show)")
	sf := addStoreFlags(f)
	set := f.String("set", "", "replace the retention policy with the one in FILE (JSON; - for stdin) and apply it to the stored contacts")
	show := f.Bool("show", false, "print the retention policy in force (JSON)")
	_, code, ok := parseArgs(f, args, func(pos []string) bool {
		return len(pos) > 0 || *sf.dir == "" || (*set == "") == !*show
	})
	if !ok {
		return code
	}
	if *show {
		return policyShow(e, sf)
	}
	// Read and validate the file before the store is opened: an invalid policy changes nothing.
	p, err := readPolicy(e, *set)
	if err != nil {
		return e.fail(err)
	}
	s, err := e.openStore(sf, nil)
	if err != nil {
		return e.exitFor(err)
	}
	defer s.Close()
	ch, err := s.SetPolicy(context.Background(), p)
	if err != nil {
		if ch.Version > 0 {
			// The policy is in force (reads apply it); moving the stored contacts stopped.
			e.errorf("retention policy version %d is in force, but applying it to the stored contacts stopped; the next expire finishes it", ch.Version)
		}
		return e.fail(err)
	}
	printJSON(e.stdout, ch)
	e.infof("retention policy version %d in force: %d of %d stored contacts moved to a new expiry day, %d past their new term deleted",
		ch.Version, ch.Moved, ch.Scanned, ch.Expired)
	return exitOK
}

// readPolicy reads and validates a policy file ("-" is stdin). Errors name the file.
func readPolicy(e *env, name string) (*store.Policy, error) {
	var r io.Reader = e.stdin
	label := "stdin"
	if name != "-" {
		file, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer file.Close()
		r, label = file, name
	}
	data, err := io.ReadAll(io.LimitReader(r, maxPolicySize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", label, err)
	}
	if len(data) > maxPolicySize {
		return nil, fmt.Errorf("%s: larger than %d bytes: not a retention policy", label, maxPolicySize)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%s: empty: a retention policy needs at least a default term, such as {\"default\":\"P2Y\"}", label)
	}
	p, err := store.ParsePolicy(data)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), store.ErrInvalid.Error()+": ")
		return nil, fmt.Errorf("%s: %s", label, msg)
	}
	return p, nil
}

func policyShow(e *env, sf storeFlags) int {
	s, err := e.openStore(sf, nil)
	if err != nil {
		return e.exitFor(err)
	}
	defer s.Close()
	st, err := s.Stats(context.Background())
	if err != nil {
		return e.fail(err)
	}
	rs := st.Retention
	if rs.Policy == nil {
		e.infof("no retention policy is set: contacts are kept until one is (contactstore policy --dir DIR --set FILE)")
		return exitOK
	}
	printJSON(e.stdout, rs.Policy)
	msg := fmt.Sprintf("retention policy version %d", rs.PolicyVersion)
	if rs.PolicyPending {
		msg += " (reads apply it; moving the stored contacts to their new expiry days is not finished: the next expire finishes it)"
	}
	e.infof("%s", msg)
	return exitOK
}

// policySummary renders a policy on one line: "default P2Y; category chat P30D; …".
func policySummary(p *store.Policy) string {
	if p == nil {
		return ""
	}
	parts := []string{"default " + p.Default.String()}
	for _, r := range p.Rules {
		var who []string
		if r.Category != "" {
			who = append(who, "category "+r.Category)
		}
		if r.Channel != "" {
			who = append(who, "channel "+r.Channel)
		}
		parts = append(parts, strings.Join(who, " and ")+" "+r.Retention.String())
	}
	return strings.Join(parts, "; ")
}

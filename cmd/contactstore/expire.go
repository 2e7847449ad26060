package main

import (
	"context"
	"fmt"
	"time"

	"contactstore/store"
)

func init() {
	register(command{name: "expire", summary: "run expiry now (or as of --now): destroy the keys and contacts of days that have ended", run: cmdExpire})
}

func cmdExpire(e *env, args []string) int {
	f := e.flags("expire", "--dir DIR [--now T]")
	sf := addStoreFlags(f)
	nowFlag := f.String("now", "", "run expiry as of this instant (RFC 3339, or YYYY-MM-DD for 00:00 UTC), for testing and catch-up; default the present")
	_, code, ok := parseArgs(f, args, func(pos []string) bool { return len(pos) > 0 || *sf.dir == "" })
	if !ok {
		return code
	}
	now, err := parseTimeFlag("now", *nowFlag)
	if err != nil {
		return e.exitFor(err)
	}
	s, err := e.openStore(sf, nil)
	if err != nil {
		return e.exitFor(err)
	}
	defer s.Close()
	if !now.IsZero() && now.After(time.Now()) {
		e.infof("warning: --now is in the future: contacts whose term ends before %s are destroyed now, before their term", now.UTC().Format(time.RFC3339))
	}
	res, err := s.Expire(context.Background(), now)
	if err != nil {
		return e.fail(err)
	}
	printJSON(e.stdout, res)
	e.infof("%s", expireSummary(res))
	return exitOK
}

// expireSummary describes an expiry run on one line.
func expireSummary(res store.ExpireResult) string {
	msg := fmt.Sprintf("expiry as of %s: ", res.Now.UTC().Format(time.RFC3339))
	if res.Buckets == 0 {
		msg += "no expiry day was due"
	} else {
		msg += fmt.Sprintf("%d expiry day(s) through %s destroyed (their keys are gone): %d contacts removed, %d customers with no contact left removed entirely",
			res.Buckets, res.Through, res.Contacts, res.Customers)
	}
	if res.Held > 0 {
		msg += fmt.Sprintf("; %d contacts of customers under a legal hold kept", res.Held)
	}
	if res.PolicyMoved > 0 || res.PolicyExpired > 0 {
		msg += fmt.Sprintf("; a policy change was finished first (%d moved, %d deleted)", res.PolicyMoved, res.PolicyExpired)
	}
	return msg
}

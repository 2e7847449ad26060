package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"contactstore/store"
)

func init() {
	register(command{name: "get", summary: "print one customer's contacts as JSON Lines, in time order", run: cmdGet})
}

func parseTimeFlag(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		if d, derr := time.Parse("2006-01-02", v); derr == nil {
			return d, nil
		}
		return time.Time{}, errUsage(fmt.Sprintf("--%s: not an RFC 3339 time or a date (YYYY-MM-DD)", name))
	}
	return t, nil
}

func cmdGet(e *env, args []string) int {
	f := e.flags("get", "--dir DIR --customer ID [--since T] [--until T] [--grep TEXT]")
	sf := addStoreFlags(f)
	customer := f.String("customer", "", "the customer's id (required)")
	since := f.String("since", "", "only contacts at or after this time (RFC 3339 or YYYY-MM-DD)")
	until := f.String("until", "", "only contacts before this time (RFC 3339 or YYYY-MM-DD)")
	grep := f.String("grep", "", "only contacts whose subject, body, agent, category, tags or attachment names contain TEXT (any case, Unicode-aware)")
	_, code, ok := parseArgs(f, args, func(pos []string) bool { return len(pos) > 0 || *sf.dir == "" || *customer == "" })
	if !ok {
		return code
	}
	var r store.TimeRange
	var err error
	if r.Since, err = parseTimeFlag("since", *since); err != nil {
		return e.exitFor(err)
	}
	if r.Until, err = parseTimeFlag("until", *until); err != nil {
		return e.exitFor(err)
	}
	s, err := e.openStore(sf, nil)
	if err != nil {
		return e.exitFor(err)
	}
	defer s.Close()
	w := bufio.NewWriterSize(e.stdout, 1<<16)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	n := 0
	contacts := s.Contacts(context.Background(), *customer, r)
	if *grep != "" {
		contacts = s.Search(context.Background(), *customer, *grep, r)
	}
	for c, err := range contacts {
		if err != nil {
			w.Flush()
			if errors.Is(err, store.ErrErased) {
				return e.fail(fmt.Errorf("no contacts: %s", strings.TrimPrefix(err.Error(), "contactstore: ")))
			}
			if errors.Is(err, store.ErrNotFound) {
				return e.fail(errors.New("no contacts: the store holds no customer with this id"))
			}
			return e.fail(err)
		}
		if err := enc.Encode(c); err != nil {
			return e.fail(err)
		}
		n++
	}
	if err := w.Flush(); err != nil {
		return e.fail(err)
	}
	return exitOK
}

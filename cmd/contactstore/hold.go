package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"contactstore/store"
)

func init() {
	register(command{name: "hold", summary: "place a customer under a legal hold (no expiry, no erasure until released)", run: cmdHold})
	register(command{name: "release", summary: "release a legal hold; carries out an erasure requested during it", run: cmdRelease})
}

func cmdHold(e *env, args []string) int {
	f := e.flags("hold", "--dir DIR --customer ID (--reason TEXT | --status)")
	sf := addStoreFlags(f)
	customer := f.String("customer", "", "the customer's id (required)")
	reason := f.String("reason", "", "why: a matter or case number, not personal data (sealed in the store; the audit log keeps its SHA-256)")
	status := f.Bool("status", false, "print the customer's hold (JSON) instead of placing one; exit 1 when none")
	_, code, ok := parseArgs(f, args, func(pos []string) bool {
		return len(pos) > 0 || *sf.dir == "" || *customer == "" || (*reason == "") == !*status
	})
	if !ok {
		return code
	}
	s, err := e.openStore(sf, nil)
	if err != nil {
		return e.exitFor(err)
	}
	defer s.Close()
	if !*status {
		if err := s.Hold(context.Background(), *customer, *reason); err != nil {
			return e.fail(customerErr("hold", err))
		}
	}
	h, err := s.HoldStatus(*customer)
	if errors.Is(err, store.ErrNotHeld) {
		return e.fail(errors.New("the customer is not under a legal hold"))
	}
	if err != nil {
		return e.fail(customerErr("hold", err))
	}
	printJSON(e.stdout, h)
	if !*status {
		e.infof("legal hold in force since %s: the customer's contacts neither expire nor can be erased until contactstore release",
			h.Since.UTC().Format(time.RFC3339))
	}
	return exitOK
}

func cmdRelease(e *env, args []string) int {
	f := e.flags("release", "--dir DIR --customer ID")
	sf := addStoreFlags(f)
	customer := f.String("customer", "", "the customer's id (required)")
	_, code, ok := parseArgs(f, args, func(pos []string) bool { return len(pos) > 0 || *sf.dir == "" || *customer == "" })
	if !ok {
		return code
	}
	s, err := e.openStore(sf, nil)
	if err != nil {
		return e.exitFor(err)
	}
	defer s.Close()
	res, err := s.Release(context.Background(), *customer)
	if errors.Is(err, store.ErrNotHeld) {
		return e.fail(errors.New("release: the customer is not under a legal hold"))
	}
	if err != nil {
		if _, herr := s.HoldStatus(*customer); errors.Is(herr, store.ErrNotHeld) {
			e.errorf("the hold is released, but the erasure requested during it did not complete; it is carried out when the store is next opened")
		}
		return e.fail(customerErr("release", err))
	}
	printJSON(e.stdout, res)
	e.infof("legal hold released: %d contacts back on their expiry days, %d kept only by the hold and past their term deleted",
		res.Resealed, res.Expired)
	if rc := res.Receipt; rc != nil {
		e.infof("the erasure requested during the hold has been carried out: %d records, data key destroyed; the signed receipt is \"receipt\" on stdout (verify-receipt accepts this output as it is)",
			rc.Destroyed.Records)
	}
	return exitOK
}

// customerErr words the store's "no such customer" errors for a command (never repeating the
// customer's id).
func customerErr(what string, err error) error {
	switch {
	case errors.Is(err, store.ErrErased):
		return fmt.Errorf("%s: %s", what, strings.TrimPrefix(err.Error(), "contactstore: "))
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%s: the store holds no customer with this id", what)
	}
	return err
}

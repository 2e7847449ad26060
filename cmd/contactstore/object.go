package main

import (
	"context"
	"errors"
	"fmt"

	"contactstore/internal/transfer"
	"contactstore/store"
)

func init() {
	register(command{name: "object", summary: "record a customer's objection (Art. 21): --scope non-eea|all; --list shows them", run: cmdObject})
	register(command{name: "withdraw-objection", summary: "withdraw a customer's objection (non-eea or all)", run: cmdWithdrawObjection})
}

// scopeText says what an objection forbids.
var scopeText = map[string]string{
	store.ObjectNonEEA: "no transfer of the customer's data outside the EEA",
	store.ObjectAll:    "no disclosure of the customer's data to any third party",
}

func cmdObject(e *env, args []string) int {
	f := e.flags("object", "--dir DIR --customer ID (--scope non-eea|all | --list)")
	sf := addStoreFlags(f)
	customer := f.String("customer", "", "the customer's id (required)")
	scope := f.String("scope", "", "non-eea: no transfer outside the EEA; all: no disclosure to any third party (Art. 21 GDPR)")
	list := f.Bool("list", false, "print the customer's objections in force (JSON) instead of recording one")
	_, code, ok := parseArgs(f, args, func(pos []string) bool {
		return len(pos) > 0 || *sf.dir == "" || *customer == "" || (*scope == "") == !*list || !validScope(e, *scope)
	})
	if !ok {
		return code
	}
	s, err := e.openStore(sf, nil)
	if err != nil {
		return e.exitFor(err)
	}
	defer s.Close()
	if !*list {
		sc, _ := transfer.ParseObjection(*scope)
		if err := s.Object(context.Background(), *customer, sc); err != nil {
			return e.fail(customerErr("object", err))
		}
		e.infof("objection (scope %s) in force: %s until the customer withdraws it; it overrides every other legal ground", sc, scopeText[sc])
	}
	obj, err := s.Objections(*customer)
	if err != nil {
		return e.fail(customerErr("object", err))
	}
	printJSON(e.stdout, obj)
	return exitOK
}

func cmdWithdrawObjection(e *env, args []string) int {
	f := e.flags("withdraw-objection", "--dir DIR --customer ID --scope non-eea|all")
	sf := addStoreFlags(f)
	customer := f.String("customer", "", "the customer's id (required)")
	scope := f.String("scope", "", "the objection to withdraw: non-eea or all (required)")
	_, code, ok := parseArgs(f, args, func(pos []string) bool {
		return len(pos) > 0 || *sf.dir == "" || *customer == "" || *scope == "" || !validScope(e, *scope)
	})
	if !ok {
		return code
	}
	s, err := e.openStore(sf, nil)
	if err != nil {
		return e.exitFor(err)
	}
	defer s.Close()
	sc, _ := transfer.ParseObjection(*scope)
	err = s.Withdraw(context.Background(), *customer, sc)
	if errors.Is(err, store.ErrNoObjection) {
		return e.fail(fmt.Errorf("withdraw-objection: the customer has no objection of scope %s in force; nothing withdrawn", sc))
	}
	if err != nil {
		return e.fail(customerErr("withdraw-objection", err))
	}
	e.infof("objection (scope %s) withdrawn", sc)
	obj, err := s.Objections(*customer)
	if err != nil {
		return e.fail(customerErr("withdraw-objection", err))
	}
	printJSON(e.stdout, obj)
	return exitOK
}

// validScope reports whether scope is empty or a known objection scope, saying why not.
func validScope(e *env, scope string) bool {
	if scope == "" {
		return true
	}
	if _, err := transfer.ParseObjection(scope); err != nil {
		e.errorf("--scope: %v", err)
		return false
	}
	return true
}

package main

import (
	"context"
	"fmt"

	"contactstore/index"
)

func init() {
	register(command{name: "find", summary: "find the customers behind an e-mail address, phone number or customer id (blind index)", run: cmdFind})
}

func cmdFind(e *env, args []string) int {
	f := e.flags("find", "--dir DIR (--email E | --phone P | --customer ID) [--json]")
	sf := addStoreFlags(f)
	email := f.String("email", "", "an e-mail address, as the customer writes it")
	phone := f.String("phone", "", "a phone number, in any usual writing (national numbers in the store's phone region)")
	customer := f.String("customer", "", "a customer id: prints it if the store holds that customer")
	asJSON := f.Bool("json", false, "print a JSON array of customer ids instead of one per line")
	_, code, ok := parseArgs(f, args, func(pos []string) bool {
		given := 0
		for _, v := range []string{*email, *phone, *customer} {
			if v != "" {
				given++
			}
		}
		return len(pos) > 0 || *sf.dir == "" || given != 1
	})
	if !ok {
		return code
	}
	var t index.Term
	switch {
	case *email != "":
		t = index.Email(*email)
	case *phone != "":
		t = index.Phone(*phone)
	default:
		t = index.Customer(*customer)
	}
	s, err := e.openStore(sf, nil)
	if err != nil {
		return e.exitFor(err)
	}
	defer s.Close()
	ids, err := s.Find(context.Background(), t)
	if err != nil {
		return e.fail(fmt.Errorf("find: %w", err))
	}
	if *asJSON {
		if ids == nil {
			ids = []string{}
		}
		printJSON(e.stdout, ids)
		return exitOK
	}
	for _, id := range ids {
		fmt.Fprintln(e.stdout, id)
	}
	if len(ids) == 0 {
		e.infof("no customer found")
	}
	return exitOK
}

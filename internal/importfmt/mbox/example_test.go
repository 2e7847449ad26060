package mbox_test

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"contactstore/internal/importfmt"
	"contactstore/internal/importfmt/mbox"
)

func Example() {
	archive := `From ann@example.org Mon Mar  4 10:00:00 2024
From: Ann <ann@example.org>
To: support@shop.test
Subject: =?utf-8?q?Bestelling_=E2=82=AC_12?=
Date: Mon, 4 Mar 2024 10:00:00 +0000
Message-ID: <q1@example.org>

Where is my order?

From support@shop.test Mon Mar  4 11:00:00 2024
From: Dana <support@shop.test>
To: Ann <ann@example.org>
Date: Mon, 4 Mar 2024 11:00:00 +0000

It is on its way.

From support@shop.test Mon Mar  4 12:00:00 2024
From: support@shop.test
To: sales@shop.test
Date: Mon, 4 Mar 2024 12:00:00 +0000

internal
`
	r, err := mbox.NewReader(strings.NewReader(archive), "support.mbox", mbox.Options{Mailboxes: []string{"@shop.test"}})
	if err != nil {
		panic(err)
	}
	for {
		it, err := r.Next()
		if err == io.EOF {
			break
		}
		var re *importfmt.RecordError
		if errors.As(err, &re) {
			fmt.Println("skipped:", re)
			continue
		}
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s %s %s %q %q\n", it.Pos, it.Direction, it.Customer, it.Subject, it.Body)
	}
	// Output:
	// support.mbox:1 (record 1) inbound ann@example.org "Bestelling € 12" "Where is my order?"
	// support.mbox:10 (record 2) outbound ann@example.org "" "It is on its way."
	// skipped: support.mbox:17 (record 3): no external party: From is the company's and no To or Cc address is outside it
}

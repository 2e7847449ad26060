package csvfmt_test

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"contactstore/internal/importfmt"
	"contactstore/internal/importfmt/csvfmt"
)

func Example() {
	export := "Ticket;Klant;Datum;Tekst;Status\n" +
		"T-1;ann@example.org;04-03-2024 10:00;\"Waar blijft\nmijn pakket?\";open\n" +
		"T-2;bob@example.org;gisteren;Factuur;closed\n" +
		"T-3;carl@example.org;2024-03-05;Dank je;closed\n"
	mapping, err := csvfmt.ParseMapping("id=Ticket,customer=Klant,time=Datum,body=Tekst")
	if err != nil {
		panic(err)
	}
	r, err := csvfmt.NewReader(strings.NewReader(export), "export.csv", csvfmt.Options{Mapping: mapping, Comma: ';'})
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
		fmt.Printf("%s %s %s %s %q %s\n", it.Pos, it.SourceID, it.Customer, it.Time.Format("2006-01-02 15:04"), it.Body, it.Meta)
	}
	// Output:
	// export.csv:2 (record 1) csv:T-1 ann@example.org 2024-03-04 10:00 "Waar blijft\nmijn pakket?" {"Status":"open"}
	// skipped: export.csv:4 (record 2): time: not in a known layout
	// export.csv:5 (record 3) csv:T-3 carl@example.org 2024-03-05 00:00 "Dank je" {"Status":"closed"}
}

package csvfmt

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"contactstore/internal/importfmt"
)

// FuzzCSV checks that the reader never panics, always ends, returns valid UTF-8 and
// positions that increase.
func FuzzCSV(f *testing.F) {
	for _, name := range []string{"contacts.csv", "nl-excel.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, byte(','))
		f.Add(b, byte(';'))
	}
	f.Add([]byte("customer,time,tags\n\"a\nb\",1709550000,\"x;y\"\n"), byte(','))
	f.Add([]byte("\xff\xfec\x00u\x00s\x00t\x00o\x00m\x00e\x00r\x00\n\x00"), byte(','))
	f.Fuzz(func(t *testing.T, data []byte, comma byte) {
		r, err := NewReader(bytes.NewReader(data), "fuzz", Options{Comma: rune(comma), MaxRecordBytes: 4096})
		if err != nil {
			if strings.Contains(err.Error(), "row longer") {
				return
			}
			return // no header, no customer column, ...: fine, but it must not panic
		}
		var last importfmt.Position
		for n := 0; ; n++ {
			if n > len(data)+2 {
				t.Fatal("more results than input bytes")
			}
			it, err := r.Next()
			if err == io.EOF {
				return
			}
			var pos importfmt.Position
			var re *importfmt.RecordError
			switch {
			case errors.As(err, &re):
				pos = re.Pos
			case errors.Is(err, errRecordTooLong):
				return
			case err != nil:
				t.Fatalf("fatal error on a bytes.Reader: %v", err)
			default:
				pos = it.Pos
				checkItem(t, it)
			}
			if pos.Record != last.Record+1 || pos.Line <= last.Line || pos.Offset >= 0 && pos.Offset <= last.Offset && n > 0 {
				t.Fatalf("position %+v after %+v", pos, last)
			}
			last = pos
		}
	})
}

func checkItem(t *testing.T, it importfmt.Item) {
	t.Helper()
	strs := append([]string{it.SourceID, it.Customer, it.Channel, it.Direction, it.Category, it.Agent, it.Subject, it.Body, it.Email, it.Phone}, it.Tags...)
	for _, s := range strs {
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8: %q", s)
		}
	}
	if it.Customer == "" || !strings.HasPrefix(it.SourceID, "csv:") || len(it.SourceID) == len("csv:") {
		t.Fatalf("customer %q, SourceID %q", it.Customer, it.SourceID)
	}
	if it.Rating < 0 || it.Rating > 10 {
		t.Fatalf("rating %d", it.Rating)
	}
	if it.Meta != nil && !json.Valid(it.Meta) {
		t.Fatalf("meta not JSON: %q", it.Meta)
	}
}

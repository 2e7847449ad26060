package mbox

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

// FuzzMbox checks that the reader never panics, always ends, returns valid UTF-8 and
// positions that increase.
func FuzzMbox(f *testing.F) {
	for _, name := range []string{"awkward.mbox", "crlf.mbox", "truncated.mbox"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("From: a@b.example\n\nbare"))
	f.Add([]byte("From a Mon Mar  4 10:00:00 2024\nContent-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: multipart/alternative; boundary=y\n\n--y\n\n--x--\n"))
	f.Add([]byte("From a Mon Mar  4 10:00:00 2024\nFrom: =?x-unknown?Q?a?= <a@b.example>\nContent-Type: text/html\n\n<p>&amp;\xff</p>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), "fuzz", Options{Mailboxes: []string{"@shop.test", "me@b.example"}, MaxMessageBytes: 4096, MaxAttachments: 4})
		if err != nil {
			t.Fatal(err)
		}
		var last importfmt.Position
		for n := 0; ; n++ {
			if n > len(data)+2 {
				t.Fatalf("more results than input bytes")
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
				if !utf8.ValidString(re.Reason) {
					t.Fatalf("invalid UTF-8 in reason %q", re.Reason)
				}
			case err != nil:
				t.Fatalf("fatal error on a bytes.Reader: %v", err)
			default:
				pos = it.Pos
				checkItem(t, it)
			}
			if pos.Record != last.Record+1 || pos.Line <= last.Line || n > 0 && pos.Offset <= last.Offset || pos.Offset < 0 {
				t.Fatalf("position %+v after %+v", pos, last)
			}
			last = pos
		}
	})
}

// checkItem fails when an item breaks the importfmt.Item contract.
func checkItem(t *testing.T, it importfmt.Item) {
	t.Helper()
	strs := []string{it.SourceID, it.Customer, it.Channel, it.Direction, it.Category, it.Agent, it.Subject, it.Body, it.Email, it.Phone}
	strs = append(strs, it.Tags...)
	for _, a := range it.Attachments {
		strs = append(strs, a.Name, a.Type)
	}
	for _, s := range strs {
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8: %q", s)
		}
	}
	if it.Customer == "" || !strings.HasPrefix(it.SourceID, "mbox:") || len(it.SourceID) == len("mbox:") {
		t.Fatalf("customer %q, SourceID %q", it.Customer, it.SourceID)
	}
	if it.Time.IsZero() {
		t.Fatal("zero time")
	}
	if it.Meta != nil && !json.Valid(it.Meta) {
		t.Fatalf("meta not JSON: %q", it.Meta)
	}
}

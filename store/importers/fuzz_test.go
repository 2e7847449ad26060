package importers

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"contactstore/store"

	"github.com/cockroachdb/pebble/v2/vfs"
)

var (
	fuzzOnce  sync.Once
	fuzzStore *store.Store
)

// sharedStore is one in-memory store for a fuzzing process: opening one per input would
// leave little time for the inputs.
func sharedStore(t testing.TB) *store.Store {
	fuzzOnce.Do(func() {
		o := testOptions(vfs.NewMem())
		o.NoSync = true
		s, err := store.Open("db", o)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		fuzzStore = s
	})
	return fuzzStore
}

func bytesInput(name string, data []byte) Input {
	return Input{Name: name, Size: int64(len(data)), Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}}
}

// FuzzImport feeds any bytes to every format's whole import path: it must not panic,
// its counts must add up, and every problem must say where and what.
func FuzzImport(f *testing.F) {
	seeds := map[string]Format{"contacts.jsonl": JSONL, "mail.mbox": MBox, "contacts.csv": CSV,
		"zendesk/tickets.json": Zendesk, "zendesk/comments.jsonl": Zendesk, "freshdesk/tickets.json": Freshdesk,
		"freshdesk/conversations.json": Freshdesk, "helpscout.json": HelpScout}
	for name, format := range seeds {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(slices.Index(Formats, format)), data)
	}
	f.Add(uint8(5), []byte("customer,time,category\nc,2025-01-01,Billing\n"))
	f.Add(uint8(1), []byte("From: a@b.test\nDate: Mon, 4 Mar 2024 10:00:00 +0000\n\nbare message\n"))
	f.Fuzz(func(t *testing.T, format uint8, data []byte) {
		opts := Options{
			Format:      Formats[int(format)%len(Formats)],
			Mailboxes:   []string{"@acme.test"},
			SkipInvalid: format >= 128,
			BatchSize:   3,
			Categories:  map[string]string{"Billing": "finance", "*": "general"},
		}
		if opts.Format == CSV {
			opts.CSV.Mapping = map[string]string{}
		}
		s := sharedStore(t)
		res, err := Import(context.Background(), s, []Input{bytesInput("in", data)}, opts)
		var pe *ProblemError
		var ie *InputError
		if err != nil && !errors.As(err, &pe) && !errors.As(err, &ie) {
			t.Fatalf("unexpected error type %T: %v", err, err)
		}
		if err == nil && res.Read != res.Added+res.Replaced+res.Expired {
			t.Errorf("read %d != added %d + replaced %d + expired %d", res.Read, res.Added, res.Replaced, res.Expired)
		}
		if res.ProblemCount < len(res.Problems) || (opts.SkipInvalid && res.Skipped != res.ProblemCount) {
			t.Errorf("problems %d, count %d, skipped %d", len(res.Problems), res.ProblemCount, res.Skipped)
		}
		if pe != nil && (opts.SkipInvalid || res.ProblemCount != 1) {
			t.Errorf("stopped at a problem with SkipInvalid=%v, %d problems", opts.SkipInvalid, res.ProblemCount)
		}
		for _, p := range res.Problems {
			if p.Reason == "" || p.File != "in" {
				t.Errorf("problem %+v", p)
			}
		}
		if res.Bytes > int64(2*len(data)) {
			t.Errorf("read %d bytes of %d", res.Bytes, len(data))
		}
	})
}

// FuzzParseCategories: a mapping that parses prints back to one that parses the same.
func FuzzParseCategories(f *testing.F) {
	for _, s := range []string{"Billing=finance,Refund=finance,*=general", "=x", "a=", " a = b ", "a=b=c", "a", "a=b,a=c", ",", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseCategories(s)
		if err != nil {
			return
		}
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(m)) {
			v := m[k]
			if strings.ContainsAny(k, ",=") || strings.Contains(v, ",") || !utf8.ValidString(k+v) {
				t.Fatalf("parsed name %q=%q cannot have come from a mapping", k, v)
			}
			parts = append(parts, k+"="+v)
		}
		m2, err := ParseCategories(strings.Join(parts, ","))
		if err != nil || !maps.Equal(m, m2) {
			t.Fatalf("round trip: %v -> %v, %v", m, m2, err)
		}
		cm := newCategoryMap(m)
		for k := range m {
			_ = cm.apply(k)
		}
	})
}

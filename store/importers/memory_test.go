package importers

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"contactstore/store"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// genReader generates an input of about size bytes on the fly: a header, then rows (or
// messages) made by row(i), so that no test holds its input in memory.
type genReader struct {
	head  string
	row   func(i int) string
	size  int64
	n     int64
	i     int
	buf   []byte
	ended bool
}

func (g *genReader) Read(p []byte) (int, error) {
	for len(g.buf) == 0 {
		if g.ended {
			return 0, io.EOF
		}
		if g.head != "" {
			g.buf, g.head = []byte(g.head), ""
			break
		}
		if g.n >= g.size {
			g.ended = true
			continue
		}
		g.buf = []byte(g.row(g.i))
		g.i++
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	g.n += int64(n)
	return n, nil
}

var filler = strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit. ", 40)

func csvRow(i int) string {
	return fmt.Sprintf("r%d,cust-%d,2025-%02d-%02dT10:%02d:00Z,email,inbound,\"%d %s\"\n", i, i%5000, 1+i%12, 1+i%28, i%60, i, filler)
}

func mboxMessage(i int) string {
	return fmt.Sprintf("From c%d@example.org Mon Mar  4 10:00:00 2024\nFrom: Klant %d <c%d@example.org>\nTo: support@acme.test\n"+
		"Subject: =?UTF-8?Q?Vraag_=C3=A9=C3=A9n_%d?=\nDate: Mon, 4 Mar 2024 10:%02d:00 +0000\nMessage-ID: <m%d@example.org>\n"+
		"Content-Type: text/plain; charset=utf-8\n\n%s\n\n", i%5000, i, i%5000, i, i%60, i, filler)
}

// TestMemoryBound imports 200 MB generated on the fly, as CSV and as mbox, and checks the
// heap stays far below the input's size: memory does not grow with the input.
func TestMemoryBound(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("imports 2 x 200 MB (minutes under the race detector)")
	}
	const size = 200 << 20
	// With the store's caches made small, the live heap is about 35 MB (three batches of
	// about 2.5 MB, the readers' buffers, the store's sealers and memtables), and HeapAlloc,
	// garbage included, peaks near 80 MB; an import that kept its input (or its contacts)
	// would need more than size.
	const bound = 150 << 20
	cases := []struct {
		name string
		gen  *genReader
		opts Options
	}{
		{"csv", &genReader{head: "id,customer,time,channel,direction,body\n", row: csvRow, size: size}, Options{Format: CSV}},
		{"mbox", &genReader{row: mboxMessage, size: size}, Options{Format: MBox, Mailboxes: []string{"@acme.test"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions(vfs.Default)
			o.NoSync = true
			// Keep the store's own memory small and fixed, so that the bound measures the
			// import: a small block cache and memtables, no dictionary training.
			o.CacheSize = 8 << 20
			o.Compression = "s2"
			o.PebbleOptions = func(po *pebble.Options) {
				po.MemTableSize = 8 << 20
				po.MemTableStopWritesThreshold = 2
			}
			s, err := store.Open(t.TempDir(), o)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			runtime.GC()
			var peak uint64
			var ms runtime.MemStats
			opts := tc.opts
			opts.Progress = func(Progress) {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
			res, err := Import(context.Background(), s, []Input{Stream(tc.name, tc.gen, -1)}, opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Added != tc.gen.i || res.Bytes < size {
				t.Errorf("added %d of %d, read %d bytes", res.Added, tc.gen.i, res.Bytes)
			}
			t.Logf("%s: %d contacts, %d MB in %s, peak heap %d MB", tc.name, res.Added, res.Bytes>>20, res.Elapsed, peak>>20)
			if peak > bound {
				t.Errorf("peak heap %d MB, want under %d MB", peak>>20, bound>>20)
			}
		})
	}
}

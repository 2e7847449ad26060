package importers

import (
	"context"
	"io"
	"strings"
	"testing"
)

// benchImport imports n generated records per iteration into an in-memory store.
func benchImport(b *testing.B, head string, row func(int) string, n int, opts Options) {
	var sb strings.Builder
	sb.WriteString(head)
	for i := range n {
		sb.WriteString(row(i))
	}
	data := sb.String()
	s := openMem(b)
	opts.MaxProblems = -1
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		in := Input{Name: "bench", Size: int64(len(data)), Open: func() (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader(data)), nil
		}}
		res, err := Import(context.Background(), s, []Input{in}, opts)
		if err != nil || res.Read != n {
			b.Fatalf("read %d of %d: %v", res.Read, n, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "contacts/s")
}

func BenchmarkImportCSV(b *testing.B) {
	benchImport(b, "id,customer,time,channel,direction,body\n", csvRow, 5000, Options{Format: CSV})
}

func BenchmarkImportMbox(b *testing.B) {
	benchImport(b, "", mboxMessage, 5000, Options{Format: MBox, Mailboxes: []string{"@acme.test"}})
}

func jsonlRow(i int) string {
	return `{"id":"j` + itoa(i) + `","customer":"cust-` + itoa(i%5000) + `","time":"2025-03-01T10:00:00Z","channel":"email","body":"` + filler + `"}` + "\n"
}

func BenchmarkImportJSONL(b *testing.B) {
	benchImport(b, "", jsonlRow, 5000, Options{})
}

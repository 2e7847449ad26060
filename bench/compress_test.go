package bench

import (
	"testing"

	"contactstore/bench/workload"
	"contactstore/internal/dictionary"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// BenchmarkCompression compares the record compressors on generated ~1 KiB helpdesk text
// (no attachments, no long threads): S2, S2 with a dictionary trained the way the store
// trains it (one sample per customer, pieces shared by >= 5 customers), and zstd at its
// fastest level. It reports the compression ratio next to the time per record; this is
// where README's "S2 with a dictionary" choice comes from.
func BenchmarkCompression(b *testing.B) {
	train := workload.New(workload.Config{Seed: 7, Customers: 4000, AttachmentRate: workload.None, LargeRate: workload.None})
	var samples [][]byte
	for range 2000 {
		c := train.Next()
		samples = append(samples, []byte(c.Subject+"\n"+c.Body))
	}
	raw, err := dictionary.Train(samples, 5)
	if err != nil {
		b.Fatal(err)
	}
	dict := s2.NewDict(raw)
	test := workload.New(workload.Config{Seed: 1, Customers: 4000, AttachmentRate: workload.None, LargeRate: workload.None})
	var recs [][]byte
	for range 2000 {
		c := test.Next()
		recs = append(recs, []byte(c.Subject+"\n"+c.Body))
	}
	zw, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	buf := make([]byte, 1<<20)
	for _, tc := range []struct {
		name string
		enc  func([]byte) []byte
	}{
		{"s2", func(p []byte) []byte { return s2.Encode(buf, p) }},
		{"s2-dict", func(p []byte) []byte { return dict.Encode(buf, p) }},
		{"zstd-fastest", func(p []byte) []byte { return zw.EncodeAll(p, buf[:0]) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var in, out int
			for i := 0; b.Loop(); i++ {
				p := recs[i%len(recs)]
				in += len(p)
				out += len(tc.enc(p))
			}
			b.ReportMetric(float64(in)/float64(out), "ratio")
		})
	}
}

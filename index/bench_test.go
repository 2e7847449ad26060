package index

import "testing"

func BenchmarkToken(b *testing.B) {
	tz, err := NewTokenizer(testKey(7))
	if err != nil {
		b.Fatal(err)
	}
	defer tz.Close()
	b.ReportAllocs()
	var sink Token
	for b.Loop() {
		sink = tz.Token(KindEmail, "jan.smit@example.nl")
	}
	_ = sink
}

func BenchmarkEmail(b *testing.B) {
	for _, bm := range []struct{ name, in string }{
		{"ascii", "Jan.Smit@Example.NL"},
		{"name-addr", `"Smit, Jan" <jan.smit@example.nl>`},
		{"idn", "jan@Bücher.DE"},
		{"fold", "Jan.Smit+news@googlemail.com"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			n := Normalizer{FoldProviders: true}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := n.Email(bm.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPhone(b *testing.B) {
	for _, bm := range []struct{ name, in string }{
		{"national", "06-12345678"},
		{"international", "+31 (0)20 123 4567"},
		{"foreign", "+1 (212) 555-0123"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			n := Normalizer{Region: "NL"}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := n.Phone(bm.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

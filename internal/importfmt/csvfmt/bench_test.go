package csvfmt

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

func benchCSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString("id,customer,time,channel,direction,subject,body,email,rating,tags,status\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%d,cust-%d,2024-03-04T10:%02d:00Z,email,inbound,Vraag %d,\"Hallo, ik heb een vraag over mijn bestelling,\nen over de levering.\",c%d@example.org,%d,billing;urgent,open\n",
			i, i%5000, i%60, i, i, 1+i%10)
	}
	return b.Bytes()
}

func BenchmarkReader(b *testing.B) {
	data := benchCSV(10000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(data), "bench", Options{})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 10000 {
			b.Fatalf("%d items", n)
		}
	}
}

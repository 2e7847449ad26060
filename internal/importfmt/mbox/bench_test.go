package mbox

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// benchMbox is a generated archive of n messages: plain, quoted-printable and multipart.
func benchMbox(n int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "From c%d@example.org Mon Mar  4 10:00:00 2024\n", i)
		fmt.Fprintf(&b, "From: Customer %d <c%d@example.org>\nTo: support@shop.test\n", i, i)
		fmt.Fprintf(&b, "Subject: =?utf-8?q?Vraag_over_bestelling_=E2=82=AC_%d?=\nDate: Mon, 4 Mar 2024 10:00:00 +0000\n", i)
		fmt.Fprintf(&b, "Message-ID: <m%d@example.org>\nMIME-Version: 1.0\n", i)
		switch i % 3 {
		case 0:
			b.WriteString("Content-Type: text/plain; charset=utf-8\n\n")
			for j := 0; j < 20; j++ {
				b.WriteString("Hallo, ik heb een vraag over mijn bestelling en de levering ervan.\n")
			}
		case 1:
			b.WriteString("Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n")
			for j := 0; j < 20; j++ {
				b.WriteString("Caf=E9 cr=E8me, een lange regel die met een zachte breuk door=\ngaat.\n")
			}
		case 2:
			b.WriteString("Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\n")
			for j := 0; j < 10; j++ {
				b.WriteString("Platte tekst van het antwoord, regel na regel.\n")
			}
			b.WriteString("--b\nContent-Type: text/html\n\n<html><body>")
			for j := 0; j < 10; j++ {
				b.WriteString("<p>HTML tekst van het <b>antwoord</b></p>\n")
			}
			b.WriteString("</body></html>\n--b--\n")
		}
		b.WriteString("\n")
	}
	return b.Bytes()
}

func BenchmarkReader(b *testing.B) {
	data := benchMbox(1000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(data), "bench", Options{Mailboxes: []string{"@shop.test"}})
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
		if n != 1000 {
			b.Fatalf("%d items", n)
		}
	}
}

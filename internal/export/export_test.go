package export

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// contact is a stand-in for store.Contact: any value whose JSON form is an object.
type contact struct {
	ID   string `json:"id"`
	Body string `json:"body,omitempty"`
	N    int    `json:"n"`
}

// build writes a stream of n contacts with a Writer and returns its bytes and trailer.
func build(t testing.TB, n int) ([]byte, Trailer) {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	hl, err := HeaderLine(&Header{StoreID: "s1", Customer: "dora", Recipient: "Advocaat", Country: "NL",
		LegalGround: "eea", LegalBasis: "EEA", Created: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteLine(hl, false); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		cl, err := ContactLine(&contact{ID: fmt.Sprintf("c-%d", i), Body: "héllo <b>&</b> \"q\"\n", N: i})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteLine(cl, true); err != nil {
			t.Fatal(err)
		}
	}
	before := int64(buf.Len())
	tr, tl, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if w.Bytes() != before || !bytes.HasSuffix(buf.Bytes(), tl) || int64(buf.Len()) != before+int64(len(tl)) {
		t.Fatalf("Bytes %d, before trailer %d, trailer line %q", w.Bytes(), before, tl)
	}
	return buf.Bytes(), tr
}

// independent computes what a valid stream's trailer must say, without Verify: the number
// of lines between the first and the last, and the SHA-256 of every byte before the last.
func independent(t testing.TB, data []byte) (contacts int64, digest string, trailerLine []byte) {
	t.Helper()
	if len(data) == 0 || data[len(data)-1] != '\n' {
		t.Fatalf("stream does not end in a newline")
	}
	body := data[:len(data)-1]
	i := bytes.LastIndexByte(body, '\n')
	if i < 0 {
		t.Fatalf("a one-line stream")
	}
	sum := sha256.Sum256(data[:i+1])
	lines := bytes.Count(data[:i+1], []byte("\n"))
	return int64(lines - 1), hex.EncodeToString(sum[:]), data[i+1:]
}

func TestLineEncoding(t *testing.T) {
	h := &Header{Customer: "dora"}
	hl, err := HeaderLine(h)
	if err != nil {
		t.Fatal(err)
	}
	if h.Type != TypeHeader || h.Format != Format || h.Disclosures == nil {
		t.Fatalf("HeaderLine did not fill type, format and disclosures: %+v", h)
	}
	if !bytes.HasPrefix(hl, []byte(`{"type":"header","format":1,`)) || !bytes.HasSuffix(hl, []byte("}\n")) ||
		bytes.Count(hl, []byte("\n")) != 1 || !bytes.Contains(hl, []byte(`"disclosures":[]`)) {
		t.Fatalf("header line %q", hl)
	}
	// No HTML escaping: the recipient reads the text as it was.
	cl, err := ContactLine(&contact{ID: "a", Body: "<b>&</b>"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(cl, []byte(`{"type":"contact","id":"a",`)) || !bytes.HasSuffix(cl, []byte("}\n")) {
		t.Fatalf("contact line %q", cl)
	}
	var back contact
	if err := json.Unmarshal(cl, &back); err != nil || back.ID != "a" || back.Body != "<b>&</b>" {
		t.Fatalf("contact line does not decode back: %+v %v", back, err)
	}
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"empty object", struct{}{}, "{\"type\":\"contact\"}\n"},
		{"map", map[string]int{"a": 1}, "{\"type\":\"contact\",\"a\":1}\n"},
		{"string", "x", ""},
		{"number", 3, ""},
		{"array", []int{1}, ""},
		{"null", nil, ""},
		{"unmarshalable", make(chan int), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := ContactLine(tc.v)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("ContactLine(%v) = %q, want an error", tc.v, l)
				}
				return
			}
			if err != nil || string(l) != tc.want {
				t.Fatalf("ContactLine = %q, %v; want %q", l, err, tc.want)
			}
		})
	}
}

func TestWriterOrder(t *testing.T) {
	hl, _ := HeaderLine(&Header{})
	cl, _ := ContactLine(&contact{ID: "x"})
	type step struct {
		op      string // "h", "c", "close"
		wantErr bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"contact before header", []step{{"c", true}}},
		{"close before header", []step{{"close", true}}},
		{"second header", []step{{"h", false}, {"c", false}, {"h", true}}},
		{"second header at once", []step{{"h", false}, {"h", true}}},
		{"contact after trailer", []step{{"h", false}, {"close", false}, {"c", true}}},
		{"header after trailer", []step{{"h", false}, {"close", false}, {"h", true}}},
		{"close twice", []step{{"h", false}, {"c", false}, {"close", false}, {"close", true}}},
		{"header and trailer only", []step{{"h", false}, {"close", false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriter(&buf)
			for i, s := range tc.steps {
				before := buf.Len()
				var err error
				switch s.op {
				case "h":
					err = w.WriteLine(hl, false)
				case "c":
					err = w.WriteLine(cl, true)
				case "close":
					_, _, err = w.Close()
				}
				if (err != nil) != s.wantErr {
					t.Fatalf("step %d (%s): err %v, want error %v", i, s.op, err, s.wantErr)
				}
				if err != nil && buf.Len() != before {
					t.Fatalf("step %d (%s): refused, but %d bytes were written", i, s.op, buf.Len()-before)
				}
			}
			if _, err := Verify(bytes.NewReader(buf.Bytes()), nil); tc.name == "header and trailer only" && err != nil {
				t.Fatalf("header and trailer only: %v", err)
			}
		})
	}
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriterPassesWriteErrors(t *testing.T) {
	w := NewWriter(failWriter{})
	hl, _ := HeaderLine(&Header{})
	if err := w.WriteLine(hl, false); err == nil {
		t.Fatal("a failed write was not reported")
	}
	if _, _, err := w.Close(); err == nil {
		t.Fatal("a failed trailer write was not reported")
	}
}

func TestVerifyGood(t *testing.T) {
	for _, n := range []int{0, 1, 7, 300} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			data, tr := build(t, n)
			var seen []contact
			sum, err := Verify(bytes.NewReader(data), func(l []byte) error {
				if bytes.HasSuffix(l, []byte("\n")) {
					return errors.New("each got the newline")
				}
				var c contact
				if err := json.Unmarshal(l, &c); err != nil {
					return err
				}
				seen = append(seen, c)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			wantN, wantDigest, _ := independent(t, data)
			if sum.Contacts != int64(n) || sum.Trailer != tr || tr.Contacts != wantN || tr.SHA256 != wantDigest ||
				sum.Bytes != int64(len(data)) || sum.Header.Customer != "dora" || sum.Header.Format != Format {
				t.Fatalf("summary %+v, trailer %+v, want %d contacts, digest %s", sum, tr, wantN, wantDigest)
			}
			for i, c := range seen {
				if c.N != i || c.ID != fmt.Sprintf("c-%d", i) {
					t.Fatalf("contact %d came back as %+v", i, c)
				}
			}
			if len(seen) != n {
				t.Fatalf("each saw %d contacts, want %d", len(seen), n)
			}
		})
	}
	// An error from each stops Verify and is returned.
	data, _ := build(t, 3)
	stop := errors.New("stop")
	calls := 0
	if _, err := Verify(bytes.NewReader(data), func([]byte) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("each's error: %v after %d calls", err, calls)
	}
}

// TestVerifyCutShort: every proper prefix of a stream is refused; a prefix that ends on a
// line boundary before the trailer is refused as incomplete.
func TestVerifyCutShort(t *testing.T) {
	data, _ := build(t, 3)
	_, _, tl := independent(t, data)
	trailerAt := len(data) - len(tl)
	for cut := 0; cut < len(data); cut++ {
		sum, err := Verify(bytes.NewReader(data[:cut]), nil)
		if err == nil {
			t.Fatalf("a stream cut to %d of %d bytes verified: %+v", cut, len(data), sum)
		}
		if cut > 0 && cut <= trailerAt && data[cut-1] == '\n' && !strings.Contains(err.Error(), "incomplete") {
			t.Fatalf("cut at a line boundary (%d): %v, want an incomplete stream", cut, err)
		}
	}
	// The same through a reader that hands out one byte at a time.
	if _, err := Verify(&oneByte{data: data}, nil); err != nil {
		t.Fatalf("a good stream read a byte at a time: %v", err)
	}
	if _, err := Verify(&oneByte{data: data[:len(data)-1]}, nil); err == nil {
		t.Fatal("a stream without its last newline, read a byte at a time, verified")
	}
}

type oneByte struct{ data []byte }

func (r *oneByte) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = r.data[0]
	r.data = r.data[1:]
	return 1, nil
}

// trailerKeyCase reports whether position i of data lies in a member name of the trailer
// line (the last line) and x flips the letter's case: encoding/json matches member names
// case-insensitively, so such a change keeps the trailer's meaning.
func trailerKeyCase(data []byte, trailerAt, i int, x byte) bool {
	if i < trailerAt || x != 0x20 {
		return false
	}
	c := data[i] | 0x20
	if c < 'a' || c > 'z' {
		return false
	}
	line := string(data[trailerAt:])
	for _, name := range []string{`"type"`, `"contacts"`, `"sha256"`} {
		j := strings.Index(line, name)
		if j >= 0 && i-trailerAt > j && i-trailerAt < j+len(name)-1 {
			return true
		}
	}
	return false
}

// TestVerifyChangedByte: a change of any one byte of a stream is refused — a digest
// mismatch, a count mismatch, a JSON or line-type error — except a change of letter case in
// a member name of the trailer (see TestVerifyTrailerCaseSensitive), which leaves the
// summary exactly as it was.
func TestVerifyChangedByte(t *testing.T) {
	data, _ := build(t, 3)
	want, err := Verify(bytes.NewReader(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, tl := independent(t, data)
	trailerAt := len(data) - len(tl)
	bad := bytes.Clone(data)
	passed := 0
	for i := range data {
		for _, x := range []byte{0x01, 0x20, 0x80, 0xff} {
			bad[i] = data[i] ^ x
			sum, err := Verify(bytes.NewReader(bad), nil)
			bad[i] = data[i]
			if err == nil {
				if !trailerKeyCase(data, trailerAt, i, x) || sum.Trailer != want.Trailer || sum.Contacts != want.Contacts {
					t.Fatalf("byte %d (%q) xor %#x: the changed stream verified: %+v", i, data[i], x, sum.Trailer)
				}
				passed++
			}
		}
	}
	t.Logf("%d byte changes (letter case in the trailer's member names) kept the stream valid", passed)
}

// TestVerifyTrailerCaseSensitive documents that Verify takes the trailer's member names
// case-insensitively (encoding/json), so a stream that is not byte for byte what the Writer
// produced still verifies. The meaning is unchanged; whether Verify should insist on the
// exact bytes is the maintainers' call.
func TestVerifyTrailerCaseSensitive(t *testing.T) {
	data, _ := build(t, 2)
	bad := bytes.Replace(data, []byte(`"type":"trailer","contacts"`), []byte(`"TYPE":"trailer","Contacts"`), 1)
	if _, err := Verify(bytes.NewReader(bad), nil); err == nil {
		t.Fatal("Verify accepts a trailer whose member names differ in case (\"TYPE\", \"Contacts\"): encoding/json matches names case-insensitively")
	}
}

func TestVerifyRefuses(t *testing.T) {
	good, tr := build(t, 2)
	goodTrailer := func(contacts int64, before []byte) string {
		sum := sha256.Sum256(before)
		return fmt.Sprintf(`{"type":"trailer","contacts":%d,"sha256":"%s"}`+"\n", contacts, hex.EncodeToString(sum[:]))
	}
	_, _, tl := independent(t, good)
	before := good[:len(good)-len(tl)]
	hdr := string(before[:bytes.IndexByte(before, '\n')+1])
	c1 := `{"type":"contact","id":"x"}` + "\n"
	for _, tc := range []struct {
		name, stream, want string
	}{
		{"empty", "", "empty stream"},
		{"data after the trailer", string(good) + c1, "after the trailer"},
		{"a second trailer", string(good) + string(tl), "after the trailer"},
		{"bytes after the trailer, no newline", string(good) + "x", "after the trailer"},
		{"a blank line after the trailer", string(good) + "\n", "after the trailer"},
		{"count too high", string(before) + goodTrailer(3, before), "counts 3"},
		{"count too low", string(before) + goodTrailer(1, before), "counts 1"},
		{"count negative", string(before) + goodTrailer(-2, before), "counts -2"},
		{"digest of something else", string(before) + goodTrailer(2, []byte("x")), "SHA-256"},
		{"digest upper case", string(before) + strings.Replace(string(tl), tr.SHA256, strings.ToUpper(tr.SHA256), 1), "SHA-256"},
		{"digest missing", string(before) + fmt.Sprintf(`{"type":"trailer","contacts":%d}`+"\n", tr.Contacts), "SHA-256"},
		{"no header", c1 + goodTrailer(1, []byte(c1)), "must start with a header"},
		{"trailer only", goodTrailer(0, nil), "must start with a header"},
		{"header only", hdr, "incomplete"},
		{"a second header", string(before) + hdr + goodTrailer(2, append(bytes.Clone(before), hdr...)), "unexpected line type"},
		{"unknown line type", hdr + `{"type":"note"}` + "\n" + goodTrailer(0, []byte(hdr+`{"type":"note"}`+"\n")), "unexpected line type"},
		{"line without a type", hdr + `{"id":"x"}` + "\n" + goodTrailer(0, []byte(hdr+`{"id":"x"}`+"\n")), "unexpected line type"},
		{"not JSON", hdr + "hello\n" + goodTrailer(0, []byte(hdr+"hello\n")), "not a JSON object"},
		{"blank line", hdr + "\n" + goodTrailer(0, []byte(hdr+"\n")), "not a JSON object"},
		{"JSON array", hdr + "[1]\n" + goodTrailer(0, []byte(hdr+"[1]\n")), "not a JSON object"},
		{"unsupported format", `{"type":"header","format":2}` + "\n" + goodTrailer(0, []byte(`{"type":"header","format":2}`+"\n")), "unsupported format 2"},
		{"format missing", `{"type":"header"}` + "\n" + goodTrailer(0, []byte(`{"type":"header"}`+"\n")), "unsupported format 0"},
		{"header field of the wrong type", `{"type":"header","format":1,"created":"yesterday"}` + "\n", "header"},
		{"trailer field of the wrong type", string(before) + `{"type":"trailer","contacts":"2"}` + "\n", "trailer"},
		{"CRLF line ends", strings.ReplaceAll(string(good), "\n", "\r\n"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sum, err := Verify(strings.NewReader(tc.stream), nil)
			if err == nil {
				t.Fatalf("verified: %+v", sum)
			}
			if tc.want != "" && !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to mention %q", err, tc.want)
			}
		})
	}
	// The minimal valid stream, for contrast: a header and a trailer.
	min := `{"type":"header","format":1}` + "\n"
	if _, err := Verify(strings.NewReader(min+goodTrailer(0, []byte(min))), nil); err != nil {
		t.Fatalf("minimal stream: %v", err)
	}
}

// endless yields a line that never ends, counting what was read.
type endless struct{ n int64 }

var spaces = bytes.Repeat([]byte{' '}, 64<<10)

func (r *endless) Read(p []byte) (int, error) {
	n := copy(p, spaces)
	if r.n == 0 && n > 0 {
		p[0] = '{'
	}
	r.n += int64(n)
	return n, nil
}

// TestVerifyOverlongLine: a line longer than MaxLine is refused without reading on for ever.
func TestVerifyOverlongLine(t *testing.T) {
	if testing.Short() {
		t.Skip("reads about 100 MiB")
	}
	// A stream whose header is fine but whose first contact line never ends.
	data, _ := build(t, 0)
	hdr := data[:bytes.IndexByte(data, '\n')+1]
	r := &endless{}
	_, err := Verify(io.MultiReader(bytes.NewReader(hdr), r), nil)
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("overlong second line: %v", err)
	}
	if r.n > MaxLine+1<<20 {
		t.Fatalf("read %d bytes for a limit of %d", r.n, MaxLine)
	}
}

// errReader fails after its data.
type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestVerifyReadError(t *testing.T) {
	data, _ := build(t, 2)
	boom := errors.New("connection reset")
	for _, cut := range []int{0, 10, len(data) - 1, len(data)} {
		_, err := Verify(&errReader{data: data[:cut], err: boom}, nil)
		if !errors.Is(err, boom) {
			t.Fatalf("a read error after %d bytes: %v", cut, err)
		}
	}
}

// FuzzVerify: Verify never panics; what it accepts is a header, contact lines and a trailer
// whose count is the number of lines between them and whose digest is the SHA-256 of every
// byte before the trailer line, with nothing after it.
func FuzzVerify(f *testing.F) {
	for _, n := range []int{0, 1, 3} {
		data, _ := build(f, n)
		f.Add(data)
		f.Add(data[:len(data)-1])
		f.Add(append(bytes.Clone(data), '\n'))
	}
	f.Add([]byte(""))
	f.Add([]byte("\n"))
	f.Add([]byte(`{"type":"header","format":1}` + "\n" + `{"type":"trailer","contacts":0,"sha256":"x"}` + "\n"))
	f.Add([]byte(`{"type":"trailer"}` + "\n"))
	f.Add([]byte(`{"type":"header","format":1}` + "\n" + `{"type":"contact"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var each int64
		sum, err := Verify(bytes.NewReader(data), func(l []byte) error {
			each++
			if !json.Valid(l) {
				return errors.New("each got invalid JSON")
			}
			return nil
		})
		if err != nil {
			return
		}
		contacts, digest, _ := independent(t, data)
		if sum.Trailer.SHA256 != digest || sum.Trailer.Contacts != contacts || sum.Contacts != contacts || each != contacts {
			t.Fatalf("verified with trailer %+v, %d contacts, each %d; want %d contacts, digest %s",
				sum.Trailer, sum.Contacts, each, contacts, digest)
		}
		if sum.Bytes != int64(len(data)) || sum.Header.Format != Format || sum.Trailer.Type != TypeTrailer {
			t.Fatalf("verified: %+v (%d bytes)", sum, len(data))
		}
	})
}

package jsonstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

type rec struct {
	key, raw string
	record   int
	offset   int64
}

func drain(t testing.TB, s *Stream) ([]rec, error) {
	t.Helper()
	var out []rec
	for i := 0; ; i++ {
		if i > 1e6 {
			t.Fatal("Next does not terminate")
		}
		el, err := s.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, rec{el.Key, string(el.Raw), el.Pos.Record, el.Pos.Offset})
	}
}

func TestShapes(t *testing.T) {
	keys := []string{"tickets", "comments", "conversations", "ticket"}
	tests := []struct {
		name, in string
		want     []rec
	}{
		{"array", `[{"id":1}, {"id":2}]`, []rec{{"", `{"id":1}`, 1, 1}, {"", `{"id":2}`, 2, 11}}},
		{"wrapper", `{"tickets": [{"id":1}], "next_page": null, "users": [{"id":9}]}`,
			[]rec{{"tickets", `{"id":1}`, 1, 13}}},
		{"wrapper with pagination first", `{"count": 2, "next_page": {"x": [1]}, "comments": [{"id":1},{"id":2}]}`,
			[]rec{{"comments", `{"id":1}`, 1, 51}, {"comments", `{"id":2}`, 2, 60}}},
		{"hal", `{"_embedded": {"conversations": [{"id":1}]}, "page": {"size": 1}}`,
			[]rec{{"conversations", `{"id":1}`, 1, 33}}},
		{"hal pagination first", `{"page": {}, "_embedded": {"x": 1, "conversations": [{"id":1}]}}`,
			[]rec{{"conversations", `{"id":1}`, 1, 53}}},
		{"single under key", `{"ticket": {"id": 1, "a": [1, 2]}}`, []rec{{"ticket", `{"id":1,"a":[1, 2]}`, 1, 11}}},
		{"empty single under key", `{"ticket": {}}`, []rec{{"ticket", `{}`, 1, 11}}},
		{"bare record", ` {"id": 1, "comments": [{"id": 2}]}`, []rec{{"", `{"id":1,"comments":[{"id": 2}]}`, 1, 1}}},
		{"bare record, sorted with _embedded", `{"_embedded": {"threads": [1]}, "id": 1}`,
			[]rec{{"", `{"_embedded":{"threads":[1]},"id":1}`, 1, 0}}},
		{"bare record, odd _embedded", `{"_embedded": [1, "a"]}{"_embedded": 5, "id": 2}{"_embedded": {}}`,
			[]rec{{"", `{"_embedded":[1,"a"]}`, 1, 0}, {"", `{"_embedded":5,"id":2}`, 2, 23}, {"", `{"_embedded":{}}`, 3, 48}}},
		{"json lines", "{\"id\":1}\n\n{\"id\":2}\r\n", []rec{{"", `{"id":1}`, 1, 0}, {"", `{"id":2}`, 2, 10}}},
		{"empty object", `{}`, []rec{{"", `{}`, 1, 0}}},
		{"bom", "\ufeff[{\"id\":1}]", []rec{{"", `{"id":1}`, 1, 1}}},
		{"key needing escapes", "{\"a\\u0000b\": 1}", []rec{{"", `{"a\u0000b":1}`, 1, 0}}},
		{"scalar under key", `{"tickets": 5, "comments": [{"id":1}]}`, []rec{{"comments", `{"id":1}`, 1, 28}}},
		{"non-object elements", `[1, "x", null]`, []rec{{"", `1`, 1, 1}, {"", `"x"`, 2, 4}, {"", `null`, 3, 9}}},
		{"pages in a row", `{"tickets":[{"id":1}]}{"tickets":[{"id":2}]}`,
			[]rec{{"tickets", `{"id":1}`, 1, 12}, {"tickets", `{"id":2}`, 2, 34}}},
		{"empty", ``, nil},
		{"white space", " \n\t", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := drain(t, New(strings.NewReader(tc.in), "in.json", keys...))
			if err != nil {
				t.Fatalf("error %v after %v", err, got)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("record %d = %+v, want %+v", i, got[i], tc.want[i])
				}
				if !json.Valid([]byte(got[i].raw)) {
					t.Errorf("record %d is not valid JSON: %s", i, got[i].raw)
				}
			}
		})
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		name, in string
		records  int
	}{
		{"truncated array", `[{"id":1}, {"id"`, 1},
		{"truncated wrapper", `{"tickets": [{"id":1}`, 1},
		{"garbage after element", `[{"id":1} secret]`, 1},
		{"scalar at top", `"secret@example.com"`, 0},
		{"number at top", `42`, 0},
		{"unclosed bare record", `{"id": 1, "body": "secret"`, 0},
		{"bad key", `{"tickets": [], 5: 1}`, 0},
		{"close bracket", `]`, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(strings.NewReader(tc.in), "in.json", "tickets")
			got, err := drain(t, s)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want *SyntaxError", err)
			}
			if len(got) != tc.records {
				t.Errorf("%d records before the error, want %d", len(got), tc.records)
			}
			if strings.Contains(err.Error(), "secret") || se.File != "in.json" {
				t.Errorf("error %q", err)
			}
			if _, err2 := s.Next(); err2 != err {
				t.Errorf("error not sticky: %v", err2)
			}
		})
	}
}

type failReader struct{ err error }

func (f failReader) Read([]byte) (int, error) { return 0, f.err }

func TestReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	_, err := drain(t, New(io.MultiReader(strings.NewReader(`[{"id":1},`), failReader{boom}), "x", "tickets"))
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want the read error", err)
	}
}

func TestMulti(t *testing.T) {
	open := func(s string) func() (io.ReadCloser, error) {
		return func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(s)), nil }
	}
	m := NewMulti([]Input{
		{Name: "a", Open: open(`[{"id":1}]`)},
		{Name: "b", Open: open(``)},
		{Name: "c", Open: open(`{"tickets":[{"id":2}]}`)},
	}, "tickets")
	var files []string
	for {
		el, err := m.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, el.Pos.File+":"+strconv.Itoa(el.Pos.Record))
	}
	if strings.Join(files, " ") != "a:1 c:1" {
		t.Errorf("records from %v", files)
	}
	m = NewMulti([]Input{{Name: "x"}})
	if _, err := m.Next(); err == nil || err == io.EOF {
		t.Errorf("missing Open: err = %v", err)
	}
}

func TestID(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{`123`, "123", true}, {`"abc "`, "abc", true}, {`null`, "", true}, {`-5`, "-5", true},
		{`1.5`, "", false}, {`1e3`, "", false}, {`true`, "", false}, {`{}`, "", false}, {`[1]`, "", false},
	}
	for _, tc := range tests {
		var id ID
		err := id.UnmarshalJSON([]byte(tc.in))
		if (err == nil) != tc.ok || string(id) != tc.want {
			t.Errorf("ID(%s) = %q, %v; want %q ok=%v", tc.in, id, err, tc.want, tc.ok)
		}
	}
}

func TestText(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{`"a"`, "a", true}, {`2`, "2", true}, {`true`, "true", true}, {`null`, "", true}, {`{}`, "", false}, {`[]`, "", false},
	}
	for _, tc := range tests {
		var v Text
		err := v.UnmarshalJSON([]byte(tc.in))
		if (err == nil) != tc.ok || string(v) != tc.want {
			t.Errorf("Text(%s) = %q, %v", tc.in, v, err)
		}
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in  string
		err error
	}{
		{"2016-05-18T04:36:04Z", nil}, {"2014-12-31T12:27:09+10:00", nil}, {"2024-01-01T00:00:00.123456Z", nil},
		{"", ErrNoTime}, {"  ", ErrNoTime}, {"31/12/2024 secret", ErrBadTime}, {"2024-01-01", ErrBadTime},
	}
	for _, tc := range tests {
		_, err := ParseTime(tc.in)
		if !errors.Is(err, tc.err) {
			t.Errorf("ParseTime(%q) = %v, want %v", tc.in, err, tc.err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("error %q quotes the input", err)
		}
	}
}

func TestDecodeReasons(t *testing.T) {
	var v struct {
		A  int    `json:"a"`
		ID ID     `json:"id"`
		T  Text   `json:"t"`
		S  string `json:"s"`
	}
	tests := []struct{ in, want string }{
		{`{"a": "secret"}`, "field a: wrong JSON type"},
		{`{"a": 12345678901234567890123}`, "field a: wrong JSON type"},
		{`{"id": 1.5}`, "an id field is not a string or an integer"},
		{`{"t": {"secret": 1}}`, "a text field holds an object or an array"},
		{`[1]`, "record is not a JSON object"},
		{`{"s": "ok"}`, ""},
	}
	for _, tc := range tests {
		reason, ok := Decode([]byte(tc.in), &v)
		if reason != tc.want || ok != (tc.want == "") {
			t.Errorf("Decode(%s) = %q, %v; want %q", tc.in, reason, ok, tc.want)
		}
	}
}

func TestHTMLText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"  a < b and c > d  ", "a < b and c > d"},
		{"<p>One</p><p>Two &amp; three</p>", "One\n\nTwo & three"},
		{"<div>a<br>b<br/>c</div>", "a\nb\nc"},
		{"<style>p{}</style><script>alert(1)</script>Hi <b>you</b>", "Hi you"},
		{"<ul><li>x</li><li>y</li></ul>", "x\n\ny"},
		{"&eacute;t&eacute; &#128512; &bogus;", "été 😀 &bogus;"},
		{"<p>unclosed <b>bold", "unclosed bold"},
		{"", ""},
		{"\xff\xfe<p>bad</p>", "\uFFFD\nbad"},
	}
	for _, tc := range tests {
		if got := HTMLText(tc.in); got != tc.want {
			t.Errorf("HTMLText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// endless yields a wrapper page of n tickets without holding it in memory.
type endless struct {
	n, i int
	buf  []byte
	done bool
}

func (e *endless) Read(p []byte) (int, error) {
	for len(e.buf) == 0 {
		switch {
		case e.done:
			return 0, io.EOF
		case e.i == 0:
			e.buf = []byte(`{"count": 1, "tickets": [`)
		case e.i > e.n:
			e.buf, e.done = []byte(`], "end_of_stream": true}`), true
		default:
			sep := ","
			if e.i == 1 {
				sep = ""
			}
			e.buf = []byte(sep + `{"id": ` + strconv.Itoa(e.i) + `, "description": "` + strings.Repeat("x", 500) + `"}`)
		}
		e.i++
	}
	n := copy(p, e.buf)
	e.buf = e.buf[n:]
	return n, nil
}

func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 100 MB")
	}
	const n = 200_000 // about 100 MB of input
	s := New(&endless{n: n}, "big.json", "tickets")
	var ms runtime.MemStats
	var peak uint64
	count := 0
	for {
		_, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		count++
		if count%20_000 == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	if count != n {
		t.Fatalf("%d records, want %d", count, n)
	}
	if peak > 16<<20 {
		t.Errorf("heap reached %d bytes reading 100 MB: not streaming", peak)
	}
}

func FuzzStream(f *testing.F) {
	for _, s := range []string{
		`[{"id":1}]`, `{"tickets":[{"id":1}],"next_page":null}`, `{"_embedded":{"conversations":[{"id":1}]}}`,
		`{"_embedded":{"threads":[]},"id":1}`, "{\"id\":1}\n{\"id\":2}", `{"ticket":{}}`, `{"count":1,"_embedded":{"tickets":{"a":1}}}`,
		`{"_embedded":[1],"x":2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := New(bytes.NewReader(b), "f", "tickets", "ticket", "conversations")
		prev := 0
		for i := 0; ; i++ {
			if i > len(b)+1 {
				t.Fatal("more records than bytes")
			}
			el, err := s.Next()
			if err != nil {
				return
			}
			if !json.Valid(el.Raw) {
				t.Fatalf("record not valid JSON: %q", el.Raw)
			}
			if el.Pos.Record != prev+1 || el.Pos.Offset < 0 || el.Pos.Offset > int64(len(b)) {
				t.Fatalf("bad position %+v", el.Pos)
			}
			prev = el.Pos.Record
		}
	})
}

func FuzzHTMLText(f *testing.F) {
	for _, s := range []string{"<p>a</p>", "a &amp; b", "<script>x</script>y", "\xff<b>", "<br><br><br>x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := HTMLText(s)
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 from %q", s)
		}
		if strings.TrimSpace(out) != out {
			t.Fatalf("untrimmed output %q", out)
		}
	})
}

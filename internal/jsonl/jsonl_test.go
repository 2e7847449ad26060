package jsonl

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

type row struct {
	Customer string    `json:"customer"`
	Time     time.Time `json:"time"`
	Data     []byte    `json:"data,omitempty"`
	N        int       `json:"n,omitempty"`
}

func readAll(t *testing.T, in string, max int) ([]row, error) {
	t.Helper()
	r := NewReader(strings.NewReader(in), max)
	var out []row
	for {
		var v row
		err := r.Next(&v)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
}

func TestReader(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		max      int
		rows     int
		errLine  int
		errWords string
	}{
		{"empty", "", 0, 0, 0, ""},
		{"blank lines", "\n\n  \n", 0, 0, 0, ""},
		{"two rows", `{"customer":"a","time":"2025-01-01T00:00:00Z"}` + "\n" + `{"customer":"b","time":"2025-01-02T00:00:00Z"}` + "\n", 0, 2, 0, ""},
		{"no final newline", `{"customer":"a","time":"2025-01-01T00:00:00Z"}`, 0, 1, 0, ""},
		{"crlf", `{"customer":"a","time":"2025-01-01T00:00:00Z"}` + "\r\n", 0, 1, 0, ""},
		{"syntax error on line 2", `{"customer":"a","time":"2025-01-01T00:00:00Z"}` + "\n{\"customer\":\n", 0, 1, 2, "invalid JSON"},
		{"unknown field", `{"custmer":"a"}`, 0, 0, 1, `unknown field "custmer"`},
		{"wrong type", `{"customer":5}`, 0, 0, 1, `field "customer": expected string`},
		{"bad time", `{"customer":"a","time":"yesterday"}`, 0, 0, 1, "not an RFC 3339 time"},
		{"bad base64", `{"customer":"a","data":"!!!"}`, 0, 0, 1, "not valid base64"},
		{"two values", `{"customer":"a"} {"customer":"b"}`, 0, 0, 1, "more than one JSON value"},
		{"trailing garbage", `{"customer":"a"} x`, 0, 0, 1, ""},
		{"too long", strings.Repeat(" ", 50) + `{"customer":"a"}`, 20, 0, 1, "longer than 20 bytes"},
		{"line number counts blank lines", "\n\n{", 0, 0, 3, "invalid JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := readAll(t, tc.in, tc.max)
			if len(rows) != tc.rows {
				t.Fatalf("got %d rows, want %d", len(rows), tc.rows)
			}
			if tc.errLine == 0 {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var le *LineError
			if !errors.As(err, &le) || le.Line != tc.errLine {
				t.Fatalf("error %v, want one on line %d", err, tc.errLine)
			}
			if !strings.Contains(err.Error(), tc.errWords) {
				t.Fatalf("error %q does not say %q", err, tc.errWords)
			}
		})
	}
}

// TestErrorsQuoteNoInput: an error never repeats the line's content, which may be personal.
func TestErrorsQuoteNoInput(t *testing.T) {
	secret := "jan.de.vries@example.nl"
	for _, in := range []string{
		`{"customer":"` + secret + `","time":"` + secret + `"}`,
		`{"customer":"` + secret + `","data":"` + secret + `"}`,
		`{"customer":` + secret + `}`,
		`{"customer":["` + secret + `"]}`,
		`{"customer":"` + secret + `"} "` + secret + `"`,
	} {
		_, err := readAll(t, in, 0)
		if err == nil {
			t.Fatalf("no error for %q", in)
		}
		if strings.Contains(err.Error(), "jan") {
			t.Fatalf("error quotes the input: %v", err)
		}
	}
}

func TestSkipsLongLineAndContinues(t *testing.T) {
	in := strings.Repeat("x", 100) + "\n" + `{"customer":"b"}` + "\n"
	r := NewReader(strings.NewReader(in), 50)
	var v row
	if err := r.Next(&v); err == nil {
		t.Fatal("long line accepted")
	}
	if err := r.Next(&v); err != nil || v.Customer != "b" || r.Line() != 2 {
		t.Fatalf("after a long line: %v %+v line %d", err, v, r.Line())
	}
	if r.BytesRead() != int64(len(in)) {
		t.Fatalf("bytes read %d, want %d", r.BytesRead(), len(in))
	}
}

// FuzzReader: any input gives rows or line-numbered errors, never a panic, never an error
// that quotes the input, and line numbers never exceed the number of lines.
func FuzzReader(f *testing.F) {
	f.Add([]byte(`{"customer":"a","time":"2025-01-01T00:00:00Z","data":"aGk=","n":3}` + "\n"))
	f.Add([]byte("\n\n{\"customer\":\n"))
	f.Add([]byte(`{"customer":"a"} {"customer":"b"}`))
	f.Add([]byte("\xff\xfe{\"customer\":\"\\ud800\"}\r\n"))
	f.Add(bytes.Repeat([]byte("{"), 300))
	f.Fuzz(func(t *testing.T, in []byte) {
		lines := bytes.Count(in, []byte("\n")) + 1
		r := NewReader(bytes.NewReader(in), 256)
		for i := 0; i < lines+1; i++ {
			var v row
			err := r.Next(&v)
			if errors.Is(err, io.EOF) {
				return
			}
			if r.Line() > lines {
				t.Fatalf("line %d of %d", r.Line(), lines)
			}
			var le *LineError
			if err != nil && !errors.As(err, &le) {
				t.Fatalf("error without a line: %v", err)
			}
			if err != nil && len(in) > 12 && bytes.Contains([]byte(err.Error()), in) {
				t.Fatalf("error quotes the input: %v", err)
			}
		}
	})
}

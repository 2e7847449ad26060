package jsonstream

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// Input is one file of an export. Open may be called more than once: readers that join
// records across files (tickets with their comments) read their inputs in several passes.
type Input struct {
	// Name identifies the input in positions and errors, usually its path.
	Name string
	// Open returns a fresh reader of the whole input.
	Open func() (io.ReadCloser, error)
}

// skipBOM drops a UTF-8 byte order mark at the start of r.
func skipBOM(r io.Reader) io.Reader {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	}
	return br
}

// ID is a source identifier that exports write as a JSON number or a string. The empty
// ID means the field was absent or null.
type ID string

// ErrBadID is returned when an id is neither a string nor an integer.
var ErrBadID = errors.New("not a string or an integer")

// UnmarshalJSON implements json.Unmarshaler.
func (id *ID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*id = ""
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return ErrBadID
		}
		*id = ID(strings.TrimSpace(s))
		return nil
	}
	for i, c := range b {
		if (c < '0' || c > '9') && !(i == 0 && c == '-') {
			return ErrBadID
		}
	}
	*id = ID(b)
	return nil
}

// ErrNoTime and ErrBadTime are the reasons ParseTime fails.
var (
	ErrNoTime  = errors.New("missing")
	ErrBadTime = errors.New("not an RFC 3339 time")
)

// ParseTime parses an RFC 3339 time as the helpdesk APIs write them ("2016-05-18T04:36:04Z",
// "2014-12-31T12:27:09+10:00"). Its errors never contain the input.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, ErrNoTime
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, ErrBadTime
	}
	return t, nil
}

// Clean returns s as valid UTF-8 with surrounding white space removed.
func Clean(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.TrimSpace(s)
}

// blockTags end a line of text when they open or close.
var blockTags = map[string]bool{
	"p": true, "div": true, "br": true, "li": true, "tr": true, "h1": true, "h2": true,
	"h3": true, "h4": true, "h5": true, "h6": true, "blockquote": true, "pre": true,
	"table": true, "ul": true, "ol": true, "hr": true, "section": true, "article": true,
}

// HTMLText returns the text of an HTML fragment: tags removed, entities decoded, script
// and style dropped, block elements on lines of their own, runs of blank lines squeezed.
// Text without '<' or '&' is returned as it is (cleaned).
func HTMLText(s string) string {
	if !strings.ContainsAny(s, "<&") {
		return Clean(s)
	}
	var b strings.Builder
	z := html.NewTokenizer(strings.NewReader(s))
	skip := 0 // inside script or style
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return squeeze(b.String())
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
			}
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			name, _ := z.TagName()
			tag := string(name)
			switch {
			case tag == "script" || tag == "style":
				if tt == html.StartTagToken {
					skip++
				} else if tt == html.EndTagToken && skip > 0 {
					skip--
				}
			case blockTags[tag]:
				b.WriteByte('\n')
			}
		}
	}
}

// squeeze trims each line's trailing spaces, drops leading and trailing blank lines and
// keeps at most one blank line in a row.
func squeeze(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	blank := 0
	for _, l := range lines {
		l = strings.TrimRight(l, " \t\r\u00a0")
		if strings.TrimSpace(l) == "" {
			blank++
			if blank > 1 {
				continue
			}
			l = ""
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return Clean(strings.Join(out, "\n"))
}

package mbox

import (
	"errors"
	"io"
	"mime"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
)

// lookupCharset returns the encoding named by a MIME charset, or nil when it is unknown.
// htmlindex follows the WHATWG aliases (iso-8859-1 is read as windows-1252, its superset);
// ianaindex catches the rest of the IANA names.
func lookupCharset(name string) encoding.Encoding {
	name = strings.ToLower(strings.Trim(strings.TrimSpace(name), `"'`))
	if name == "" {
		return nil
	}
	if e, err := htmlindex.Get(name); err == nil {
		return e
	}
	if e, err := ianaindex.MIME.Encoding(name); err == nil && e != nil {
		return e
	}
	return nil
}

// newWordDecoder returns an RFC 2047 decoder that knows every charset lookupCharset knows.
func newWordDecoder() *mime.WordDecoder {
	return &mime.WordDecoder{CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
		e := lookupCharset(charset)
		if e == nil {
			return nil, errors.New("unknown charset")
		}
		return e.NewDecoder().Reader(input), nil
	}}
}

// decodeText turns text in charset into UTF-8. Without a charset, with us-ascii or utf-8
// (often declared for 8-bit text that is not), or with an unknown one, the text is kept when
// it is valid UTF-8 and read as windows-1252 otherwise.
func decodeText(b []byte, charset string) string {
	cs := strings.ToLower(strings.Trim(strings.TrimSpace(charset), `"'`))
	switch cs {
	case "", "us-ascii", "ascii", "utf-8", "utf8", "unknown-8bit", "x-unknown", "default":
		return fallbackText(b)
	}
	e := lookupCharset(cs)
	if e == nil {
		return fallbackText(b)
	}
	out, err := e.NewDecoder().Bytes(b)
	if err != nil {
		return fallbackText(b)
	}
	return strings.ToValidUTF8(string(out), "\uFFFD")
}

// fallbackText is b as UTF-8 when it is valid, else as windows-1252.
func fallbackText(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out, err := charmap.Windows1252.NewDecoder().Bytes(b)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(out)
}

// decodeHeader decodes a header value: raw 8-bit bytes by fallbackText, then RFC 2047
// encoded words. A value whose encoded words cannot be decoded is kept as it is.
func decodeHeader(dec *mime.WordDecoder, v string) string {
	v = fallbackText([]byte(v))
	if strings.Contains(v, "=?") {
		if d, err := dec.DecodeHeader(v); err == nil {
			v = d
		}
	}
	return strings.ToValidUTF8(strings.TrimSpace(v), "\uFFFD")
}

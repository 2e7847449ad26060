package mbox

import (
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"

	"contactstore/internal/importfmt"
)

// collector gathers the body text and attachments of a MIME tree.
type collector struct {
	r          *Reader
	plain      []string // inline text/plain parts, in order
	html       string   // the first inline text/html part, as text
	atts       []importfmt.Attachment
	left       int // attachments that may still be kept
	dropped    int
	incomplete bool
}

// mimeHeader views a message header as a MIME part header.
func mimeHeader(h mail.Header) textproto.MIMEHeader { return textproto.MIMEHeader(h) }

// body is the message text: the text/plain parts, else the HTML part as text.
func (c *collector) body() string {
	var s string
	if len(c.plain) > 0 {
		s = strings.Join(c.plain, "\n\n")
	} else {
		s = c.html
	}
	return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
}

// walk adds the part with header h and (still encoded) body to c.
func (c *collector) walk(h textproto.MIMEHeader, body io.Reader, depth int) {
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if mt == "" || err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter) {
		mt, params = "text/plain", map[string]string{}
	}
	disp, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	name = decodeHeader(c.r.dec, name)

	if strings.HasPrefix(mt, "multipart/") && params["boundary"] != "" && depth < maxDepth {
		c.multipart(mt, params["boundary"], body, depth)
		return
	}
	data, err := readPart(h.Get("Content-Transfer-Encoding"), body)
	if err != nil {
		c.incomplete = true
	}
	isText := mt == "text/plain" || mt == "text/html"
	if !isText || disp == "attachment" || name != "" {
		c.attach(name, mt, data)
		return
	}
	text := decodeText(data, params["charset"])
	if mt == "text/html" {
		if c.html == "" {
			c.html = htmlToText(text)
		}
		return
	}
	if strings.EqualFold(params["format"], "flowed") {
		text = unflow(text, strings.EqualFold(params["delsp"], "yes"))
	}
	if t := strings.TrimSpace(text); t != "" {
		c.plain = append(c.plain, text)
	}
}

// multipart walks the parts of a multipart body. In a multipart/alternative only the first
// part with plain text (else the first with HTML) gives the body; attachments of every part
// are kept.
func (c *collector) multipart(mt, boundary string, body io.Reader, depth int) {
	mr := multipart.NewReader(body, boundary)
	alt := mt == "multipart/alternative"
	var subs []*collector
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			c.incomplete = true
			break
		}
		if !alt {
			c.walk(p.Header, p, depth+1)
			continue
		}
		sub := &collector{r: c.r, left: c.left}
		sub.walk(p.Header, p, depth+1)
		c.left = sub.left
		subs = append(subs, sub)
	}
	if !alt {
		return
	}
	var chosen *collector
	for _, s := range subs {
		if len(s.plain) > 0 {
			chosen = s
			break
		}
	}
	for _, s := range subs {
		if chosen == nil && s.html != "" {
			chosen = s
		}
		c.atts = append(c.atts, s.atts...)
		c.dropped += s.dropped
		c.incomplete = c.incomplete || s.incomplete
	}
	if chosen != nil {
		c.plain = append(c.plain, chosen.plain...)
		if c.html == "" {
			c.html = chosen.html
		}
	}
}

// attach keeps a part as an attachment, unless the limit is reached.
func (c *collector) attach(name, mt string, data []byte) {
	if c.left <= 0 {
		c.dropped++
		return
	}
	c.left--
	c.atts = append(c.atts, importfmt.Attachment{Name: name, Type: mt, Data: data})
}

// readPart reads a part's body and undoes its Content-Transfer-Encoding; 7bit, 8bit,
// binary and unknown encodings are read as they are. Data that cannot be decoded to the end
// is returned as far as it went, with an error.
func readPart(cte string, r io.Reader) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		return io.ReadAll(quotedprintable.NewReader(r))
	case "base64":
		raw, err := io.ReadAll(r)
		data, derr := decodeBase64(raw)
		if err == nil {
			err = derr
		}
		return data, err
	}
	return io.ReadAll(r)
}

// decodeBase64 decodes base64 as mail clients do: characters outside the alphabet (line
// breaks, spaces) are skipped, and decoding stops at the padding.
func decodeBase64(raw []byte) ([]byte, error) {
	clean := make([]byte, 0, len(raw))
	for _, ch := range raw {
		if ch == '=' {
			break
		}
		if ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '+' || ch == '/' {
			clean = append(clean, ch)
		}
	}
	var err error
	if len(clean)%4 == 1 { // a lone 6 bits cannot make a byte
		clean = clean[:len(clean)-1]
		err = errors.New("base64: truncated")
	}
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
	n, derr := base64.RawStdEncoding.Decode(out, clean)
	if err == nil {
		err = derr
	}
	return out[:n], err
}

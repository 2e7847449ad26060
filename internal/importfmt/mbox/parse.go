package mbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/mail"
	"strings"
	"time"

	"contactstore/internal/importfmt"
)

// parse maps one raw message to an Item. It returns a reason, naming headers but never their
// values, when the message cannot be imported.
func (r *Reader) parse(raw []byte, fromDate time.Time) (importfmt.Item, string) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return importfmt.Item{}, "empty message"
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return importfmt.Item{}, "header section: malformed"
	}
	h := msg.Header
	item := importfmt.Item{Channel: "email"}
	if reason := r.parties(h, &item); reason != "" {
		return importfmt.Item{}, reason
	}
	switch t, err := h.Date(); {
	case err == nil:
		item.Time = t
	case !fromDate.IsZero():
		item.Time = fromDate
	default:
		return importfmt.Item{}, "Date header missing or invalid, and no date on the From line"
	}
	item.Subject = decodeHeader(r.dec, h.Get("Subject"))

	msgID := cleanID(decodeHeader(r.dec, h.Get("Message-Id")))
	if msgID != "" {
		item.SourceID = "mbox:" + msgID
	} else {
		item.SourceID = "mbox:sha256:" + digest(raw)
	}

	c := &collector{r: r, left: r.maxAtts}
	c.walk(mimeHeader(h), msg.Body, 0)
	item.Body = c.body()
	item.Attachments = c.atts
	item.Tags = tags(r, h)
	item.Meta = meta(msgID, cleanID(decodeHeader(r.dec, h.Get("In-Reply-To"))), c)
	return item, ""
}

// parties sets Direction, Customer, Email and Agent from the address headers.
func (r *Reader) parties(h mail.Header, item *importfmt.Item) string {
	from := parseAddresses(r.dec, decodeHeaderRaw(h.Get("From")))
	if len(from) == 0 {
		from = parseAddresses(r.dec, decodeHeaderRaw(h.Get("Sender")))
	}
	if len(from) == 0 {
		return "From header: missing or without an address"
	}
	if !r.company.isCompany(from[0].Address) {
		item.Direction = "inbound"
		item.Customer = customerID(from[0].Address)
		item.Email = from[0].Address
		return ""
	}
	item.Direction = "outbound"
	item.Agent = displayName(from[0])
	for _, key := range []string{"To", "Cc"} {
		for _, a := range parseAddresses(r.dec, decodeHeaderRaw(h.Get(key))) {
			if !r.company.isCompany(a.Address) {
				item.Customer = customerID(a.Address)
				item.Email = a.Address
				return ""
			}
		}
	}
	return "no external party: From is the company's and no To or Cc address is outside it"
}

// decodeHeaderRaw makes a raw address header valid UTF-8; the address parser decodes the
// encoded words itself.
func decodeHeaderRaw(v string) string {
	return fallbackText([]byte(v))
}

// cleanID strips the angle brackets and spaces around a message id.
func cleanID(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i:], '>'); j > 0 {
			return strings.TrimSpace(s[i+1 : i+j])
		}
	}
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

// digest is the hex SHA-256 of a message with CRLF line endings turned into LF, so that a
// copy that went through a CRLF conversion gets the same id.
func digest(raw []byte) string {
	h := sha256.New()
	for len(raw) > 0 {
		i := bytes.Index(raw, []byte("\r\n"))
		if i < 0 {
			h.Write(raw)
			break
		}
		h.Write(raw[:i])
		h.Write([]byte{'\n'})
		raw = raw[i+2:]
	}
	return hex.EncodeToString(h.Sum(nil))
}

// tags collects Gmail labels and the X-Folder header.
func tags(r *Reader, h mail.Header) []string {
	var out []string
	seen := map[string]bool{}
	add := func(t string) {
		t = strings.TrimSpace(t)
		if t != "" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	for _, v := range h["X-Gmail-Labels"] {
		for _, t := range strings.Split(decodeHeader(r.dec, v), ",") {
			add(t)
		}
	}
	for _, v := range h["X-Folder"] {
		add(decodeHeader(r.dec, v))
	}
	return out
}

// meta builds the small JSON object kept with the item.
func meta(msgID, inReplyTo string, c *collector) json.RawMessage {
	m := map[string]any{}
	if msgID != "" {
		m["message_id"] = msgID
	}
	if inReplyTo != "" {
		m["in_reply_to"] = inReplyTo
	}
	if c.incomplete {
		m["incomplete"] = true
	}
	if c.dropped > 0 {
		m["attachments_dropped"] = c.dropped
	}
	if len(m) == 0 {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil
	}
	return b
}

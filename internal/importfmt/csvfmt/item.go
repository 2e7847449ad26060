package csvfmt

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"contactstore/internal/importfmt"
)

// item maps one row to an Item, or returns a reason naming the field that is wrong (never
// its value).
func (r *Reader) item(rec []string) (importfmt.Item, string) {
	get := func(f string) string {
		i, ok := r.cols[f]
		if !ok {
			return ""
		}
		return strings.TrimSpace(fallbackText(rec[i]))
	}
	it := importfmt.Item{
		Category: get("category"),
		Agent:    get("agent"),
		Subject:  get("subject"),
		Body:     strings.ReplaceAll(get("body"), "\r\n", "\n"),
		Email:    get("email"),
		Phone:    get("phone"),
	}
	it.Customer = get("customer")
	switch {
	case it.Customer != "":
	case it.Email != "":
		it.Customer = strings.ToLower(it.Email)
	case it.Phone != "":
		it.Customer = it.Phone
	default:
		return importfmt.Item{}, "customer: empty, and no email or phone"
	}
	if _, ok := r.cols["time"]; ok {
		v := get("time")
		if v == "" {
			return importfmt.Item{}, "time: empty"
		}
		t, ok := r.parseTime(v)
		if !ok {
			return importfmt.Item{}, "time: not in a known layout"
		}
		it.Time = t
	}
	var ok bool
	if it.Rating, ok = parseRating(get("rating")); !ok {
		return importfmt.Item{}, "rating: not a whole number from 1 to 10"
	}
	it.Channel = normalizeChannel(get("channel"))
	it.Direction = normalizeDirection(get("direction"))
	it.Tags = splitTags(get("tags"), r.opts.TagSeparator)
	if id := get("id"); id != "" {
		it.SourceID = "csv:" + id
	} else {
		it.SourceID = "csv:sha256:" + r.digest(rec)
	}
	it.Meta = r.meta(rec)
	return it, ""
}

// parseTime reads a time with Options.TimeLayout or the default layouts.
func (r *Reader) parseTime(v string) (time.Time, bool) {
	if r.opts.TimeLayout != "" {
		t, err := time.ParseInLocation(r.opts.TimeLayout, v, r.opts.Location)
		return t, err == nil
	}
	if isDigits(v) && (len(v) == 10 || len(v) == 13) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err == nil {
			if len(v) == 13 {
				return time.UnixMilli(n).UTC(), true
			}
			return time.Unix(n, 0).UTC(), true
		}
	}
	for _, layout := range DefaultTimeLayouts {
		if t, err := time.ParseInLocation(layout, v, r.opts.Location); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// parseRating reads a rating 1..10; empty is 0. "8.0" is accepted, "8.5" is not.
func parseRating(v string) (int, bool) {
	if v == "" {
		return 0, true
	}
	f, err := strconv.ParseFloat(strings.Replace(v, ",", ".", 1), 64)
	if err != nil || f != math.Trunc(f) || f < 1 || f > 10 {
		return 0, false
	}
	return int(f), true
}

// channels maps the common names of channels to the store's vocabulary.
var channels = map[string]string{
	"email": "email", "e-mail": "email", "mail": "email",
	"phone": "phone", "call": "phone", "telephone": "phone", "voice": "phone", "tel": "phone",
	"chat": "chat", "live chat": "chat", "livechat": "chat", "sms": "chat", "whatsapp": "chat", "messaging": "chat",
	"social": "social", "twitter": "social", "facebook": "social", "instagram": "social",
	"letter": "letter", "post": "letter", "postal": "letter",
	"web": "web", "web form": "web", "webform": "web", "form": "web", "portal": "web",
	"other": "other",
}

// normalizeChannel maps a channel name to the store's vocabulary; unknown names are "other".
func normalizeChannel(v string) string {
	if v == "" {
		return ""
	}
	if c, ok := channels[strings.ToLower(v)]; ok {
		return c
	}
	return "other"
}

// directions maps the common names of directions to the store's vocabulary.
var directions = map[string]string{
	"inbound": "inbound", "in": "inbound", "incoming": "inbound", "received": "inbound", "customer": "inbound",
	"outbound": "outbound", "out": "outbound", "outgoing": "outbound", "sent": "outbound", "agent": "outbound",
	"internal": "internal", "note": "internal", "private": "internal",
}

// normalizeDirection maps a direction to the store's vocabulary; unknown ones are empty.
func normalizeDirection(v string) string {
	return directions[strings.ToLower(v)]
}

// splitTags splits a tags value on sep (or on "," and ";" when sep is empty), trims the tags
// and drops empty and repeated ones.
func splitTags(v, sep string) []string {
	if v == "" {
		return nil
	}
	var parts []string
	if sep == "" {
		parts = strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' })
	} else {
		parts = strings.Split(v, sep)
	}
	var out []string
	seen := map[string]bool{}
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// digest is the hex SHA-256 of a row's non-empty values with their column names, in
// column-name order, each length-prefixed.
func (r *Reader) digest(rec []string) string {
	h := sha256.New()
	var n [8]byte
	put := func(s string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	for _, i := range r.byName {
		v := strings.TrimSpace(fallbackText(rec[i]))
		if v == "" {
			continue
		}
		put(r.header[i])
		put(v)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// meta returns the unmapped columns' non-empty values as a JSON object, or nil.
func (r *Reader) meta(rec []string) json.RawMessage {
	m := map[string]string{}
	for _, i := range r.metaCols {
		if v := strings.TrimSpace(fallbackText(rec[i])); v != "" {
			m[r.header[i]] = v
		}
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

// fallbackText is s when it is valid UTF-8, else s read as windows-1252.
func fallbackText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	out, err := charmap.Windows1252.NewDecoder().String(s)
	if err != nil {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	return out
}

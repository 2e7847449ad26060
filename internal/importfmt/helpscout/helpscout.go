// Package helpscout reads Help Scout conversations — Mailbox API 2.0 HAL JSON with their
// threads embedded (?embed=threads), or the older API 1.0 shape — as importfmt Items, one
// per thread.
//
// # Inputs
//
// One input holds conversations as a list page {"_embedded": {"conversations": [...]},
// "page": {...}}, a 1.0 page {"items": [...]} or {"item": {...}}, a top-level array, a
// single conversation, or JSON Lines. Every conversation carries its threads (under
// _embedded.threads, or "threads" in 1.0), so one pass suffices and no state is kept
// between conversations: memory is bounded by the largest conversation.
//
// # Mapping
//
//   - One Item per thread, SourceID "helpscout:thread:<id>". Threads of type lineitem
//     (status changes, assignments), drafts and threads held for review are not contacts
//     and are skipped silently.
//   - Customer "helpscout:customer:<id>" of the conversation's primaryCustomer (1.0:
//     customer), else of the thread's customer; Email that customer's address, or the
//     thread creator's when a customer wrote the thread.
//   - Direction by thread type: customer→inbound; message, reply→outbound;
//     note, forwardparent, forwardchild→internal; chat, phone, beaconchat and others by the
//     creator: a customer→inbound, a user→outbound. Agent "helpscout:user:<id>" of a user
//     who created the thread.
//   - Channel: thread type chat, beaconchat→chat and phone→phone; otherwise the
//     conversation's type (email, chat, phone), else the thread's or conversation's
//     source.type: email, emailfwd→email; web, api, beacon→web; chat→chat; phone→phone;
//     other→other.
//   - Rating: Help Scout keeps happiness ratings apart from conversations (Reports API);
//     an export that joins them in may put "rating" on a thread (or on the conversation,
//     then the first thread gets it) as "great", "okay", "not good" (or the ids 1, 2, 3):
//     great→10, okay→6, not good→2.
//   - Category the mailbox's name when the conversation carries a "mailbox" object or
//     Options.Mailboxes names its mailboxId, else "mailbox:<id>". Tags the conversation's
//     tags. Subject its subject. Time the thread's createdAt (required).
//   - Body the thread's body with HTML stripped to text.
//   - Attachments: filename and mimeType only (nothing is fetched); the links go to Meta
//     "attachment_urls". Meta also holds conversation_id, number, status.
//
// # Errors
//
// A thread that cannot be used (no id, no createdAt, a bad time, no customer) and a
// conversation that cannot be decoded give an *importfmt.RecordError positioned at the
// conversation, and Next goes on; malformed JSON is fatal (*jsonstream.SyntaxError).
package helpscout

import (
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"

	"contactstore/internal/importfmt"
	"contactstore/internal/importfmt/jsonstream"
)

// Options adjust a Reader. The zero value is ready to use.
type Options struct {
	// Mailboxes names mailboxes by id, for the Category of conversations that carry only
	// a mailboxId.
	Mailboxes map[string]string
}

var wrapperKeys = []string{"conversations", "items", "item"}

var errClosed = errors.New("helpscout: reader closed")

// Reader yields the Items of a Help Scout export. It implements importfmt.Reader.
type Reader struct {
	s     *jsonstream.Stream
	opts  Options
	queue []result
	err   error
}

var _ importfmt.Reader = (*Reader)(nil)

type result struct {
	item importfmt.Item
	err  error
}

// NewReader returns a Reader of the conversations in r; name is the input's name for
// positions.
func NewReader(r io.Reader, name string, opts Options) *Reader {
	return &Reader{s: jsonstream.New(r, name, wrapperKeys...), opts: opts}
}

// Next returns the next Item, io.EOF after the last, a *importfmt.RecordError for a record
// that cannot be used (call Next again to go on), or a fatal error.
func (r *Reader) Next() (importfmt.Item, error) {
	if r.err != nil {
		return importfmt.Item{}, r.err
	}
	for len(r.queue) == 0 {
		el, err := r.s.Next()
		if err != nil {
			r.err = err
			return importfmt.Item{}, err
		}
		r.conversation(el)
	}
	res := r.queue[0]
	r.queue[0] = result{}
	r.queue = r.queue[1:]
	return res.item, res.err
}

// Close makes further calls to Next fail. It does not close the underlying reader.
func (r *Reader) Close() error {
	r.err = errClosed
	return nil
}

type conversation struct {
	ID        jsonstream.ID   `json:"id"`
	Number    jsonstream.Text `json:"number"`
	Type      jsonstream.Text `json:"type"`
	Status    jsonstream.Text `json:"status"`
	Subject   string          `json:"subject"`
	MailboxID jsonstream.ID   `json:"mailboxId"`
	Mailbox   *struct {
		ID   jsonstream.ID `json:"id"`
		Name string        `json:"name"`
	} `json:"mailbox"`
	PrimaryCustomer *person         `json:"primaryCustomer"`
	Customer        *person         `json:"customer"`
	Source          *source         `json:"source"`
	Tags            []tag           `json:"tags"`
	Rating          *rating         `json:"rating"`
	Threads         json.RawMessage `json:"threads"`
	Embedded        *struct {
		Threads []json.RawMessage `json:"threads"`
	} `json:"_embedded"`
}

type thread struct {
	ID        jsonstream.ID   `json:"id"`
	Type      jsonstream.Text `json:"type"`
	State     jsonstream.Text `json:"state"`
	Body      string          `json:"body"`
	Source    *source         `json:"source"`
	Customer  *person         `json:"customer"`
	CreatedBy *person         `json:"createdBy"`
	CreatedAt string          `json:"createdAt"`
	Rating    *rating         `json:"rating"`
	// 1.0 keeps attachments on the thread, 2.0 under _embedded.
	Attachments []attachment `json:"attachments"`
	Embedded    *struct {
		Attachments []attachment `json:"attachments"`
	} `json:"_embedded"`
}

type person struct {
	ID    jsonstream.ID   `json:"id"`
	Type  jsonstream.Text `json:"type"`
	Email string          `json:"email"`
}

type source struct {
	Type jsonstream.Text `json:"type"`
	Via  jsonstream.Text `json:"via"`
}

type attachment struct {
	Filename string `json:"filename"`
	MimeType string `json:"mimeType"`
	URL      string `json:"url"`
	Links    *struct {
		Data *struct {
			Href string `json:"href"`
		} `json:"data"`
		Web *struct {
			Href string `json:"href"`
		} `json:"web"`
	} `json:"_links"`
}

// tag is a 2.0 tag object {"id", "color", "tag"} or a 1.0 plain string.
type tag string

func (t *tag) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*t = tag(s)
		return nil
	}
	var o struct {
		Tag  string `json:"tag"`
		Name string `json:"name"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return jsonstream.ErrNotText
	}
	*t = tag(o.Tag)
	if o.Tag == "" {
		*t = tag(o.Name)
	}
	return nil
}

// rating is a happiness rating: "great", "okay", "not good", or the ids 1, 2, 3.
type rating int

func (r *rating) UnmarshalJSON(b []byte) error {
	var t jsonstream.Text
	if err := t.UnmarshalJSON(b); err != nil {
		var o struct {
			Rating jsonstream.Text `json:"rating"`
		}
		if json.Unmarshal(b, &o) != nil {
			return jsonstream.ErrNotText
		}
		t = o.Rating
	}
	switch strings.ToLower(strings.Join(strings.Fields(string(t)), " ")) {
	case "great", "1":
		*r = 10
	case "okay", "ok", "2":
		*r = 6
	case "not good", "notgood", "not_good", "bad", "3":
		*r = 2
	default:
		*r = 0
	}
	return nil
}

func (r *Reader) fail(pos importfmt.Position, reason string) {
	r.queue = append(r.queue, result{err: &importfmt.RecordError{Pos: pos, Reason: reason}})
}

// conversation queues the Items and RecordErrors of one conversation.
func (r *Reader) conversation(el jsonstream.Element) {
	var c conversation
	if reason, ok := jsonstream.Decode(el.Raw, &c); !ok {
		r.fail(el.Pos, reason)
		return
	}
	if c.ID == "" {
		r.fail(el.Pos, "conversation id: missing")
		return
	}
	threads, ok := c.threads()
	if !ok {
		r.fail(el.Pos, "conversation threads: not an array")
		return
	}
	convRating := int(0)
	if c.Rating != nil {
		convRating = int(*c.Rating)
	}
	for i, raw := range threads {
		where := "threads[" + strconv.Itoa(i) + "]: "
		var t thread
		if reason, ok := jsonstream.Decode(raw, &t); !ok {
			r.fail(el.Pos, where+reason)
			continue
		}
		it, reason, skip := r.item(el.Pos, &c, &t)
		switch {
		case skip:
			continue
		case reason != "":
			r.fail(el.Pos, where+reason)
			continue
		}
		if it.Rating == 0 && convRating > 0 {
			it.Rating, convRating = convRating, 0
		}
		r.queue = append(r.queue, result{item: it})
	}
}

// threads returns the conversation's threads: 2.0 _embedded.threads, or 1.0 threads
// when that is an array (in 2.0 it is a count).
func (c *conversation) threads() ([]json.RawMessage, bool) {
	if c.Embedded != nil && len(c.Embedded.Threads) > 0 {
		return c.Embedded.Threads, true
	}
	raw := strings.TrimSpace(string(c.Threads))
	if raw == "" || raw == "null" || raw[0] != '[' {
		return nil, true
	}
	var ts []json.RawMessage
	if err := json.Unmarshal(c.Threads, &ts); err != nil {
		return nil, false
	}
	return ts, true
}

// item maps one thread. skip is true for threads that are not contacts.
func (r *Reader) item(pos importfmt.Position, c *conversation, t *thread) (it importfmt.Item, reason string, skip bool) {
	typ := strings.ToLower(strings.TrimSpace(string(t.Type)))
	switch strings.ToLower(strings.TrimSpace(string(t.State))) {
	case "", "published":
	default:
		return it, "", true
	}
	if typ == "lineitem" {
		return it, "", true
	}
	if t.ID == "" {
		return it, "thread id: missing", false
	}
	cust := c.PrimaryCustomer
	if cust == nil || cust.ID == "" {
		cust = c.Customer
	}
	if cust == nil || cust.ID == "" {
		cust = t.Customer
	}
	if cust == nil || cust.ID == "" {
		return it, "thread customer: missing", false
	}
	tm, err := jsonstream.ParseTime(t.CreatedAt)
	if err != nil {
		return it, "thread createdAt: " + err.Error(), false
	}
	creator := ""
	if t.CreatedBy != nil {
		creator = strings.ToLower(strings.TrimSpace(string(t.CreatedBy.Type)))
	}
	it = importfmt.Item{
		Pos:       pos,
		SourceID:  "helpscout:thread:" + string(t.ID),
		Customer:  "helpscout:customer:" + string(cust.ID),
		Email:     jsonstream.Clean(cust.Email),
		Time:      tm,
		Channel:   r.channel(typ, c, t),
		Direction: direction(typ, creator),
		Category:  r.category(c),
		Subject:   jsonstream.Clean(c.Subject),
		Body:      jsonstream.HTMLText(t.Body),
		Tags:      tags(c.Tags),
	}
	if it.Email == "" && creator == "customer" && t.CreatedBy.ID == cust.ID {
		it.Email = jsonstream.Clean(t.CreatedBy.Email)
	}
	if creator == "user" && t.CreatedBy.ID != "" {
		it.Agent = "helpscout:user:" + string(t.CreatedBy.ID)
	}
	if t.Rating != nil {
		it.Rating = int(*t.Rating)
	}
	var urls []string
	it.Attachments, urls = attachments(t)
	it.Meta = meta(c, urls)
	return it, "", false
}

func direction(typ, creator string) string {
	switch typ {
	case "customer":
		return "inbound"
	case "message", "reply":
		return "outbound"
	case "note", "forwardparent", "forwardchild":
		return "internal"
	}
	switch creator {
	case "customer":
		return "inbound"
	case "user", "team":
		return "outbound"
	}
	return ""
}

func (r *Reader) channel(typ string, c *conversation, t *thread) string {
	switch typ {
	case "chat", "beaconchat":
		return "chat"
	case "phone":
		return "phone"
	}
	if ch := mapChannel(string(c.Type)); ch != "" {
		return ch
	}
	if t.Source != nil {
		if ch := mapChannel(string(t.Source.Type)); ch != "" {
			return ch
		}
	}
	if c.Source != nil {
		return mapChannel(string(c.Source.Type))
	}
	return ""
}

func mapChannel(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return ""
	case "email", "emailfwd":
		return "email"
	case "chat", "beacon-chat":
		return "chat"
	case "phone":
		return "phone"
	case "web", "api", "beacon", "beacon-v2", "form":
		return "web"
	}
	return "other"
}

func (r *Reader) category(c *conversation) string {
	id := string(c.MailboxID)
	if c.Mailbox != nil {
		if n := jsonstream.Clean(c.Mailbox.Name); n != "" {
			return n
		}
		if id == "" {
			id = string(c.Mailbox.ID)
		}
	}
	if id == "" {
		return ""
	}
	if n := jsonstream.Clean(r.opts.Mailboxes[id]); n != "" {
		return n
	}
	return "mailbox:" + id
}

func tags(ts []tag) []string {
	var out []string
	for _, t := range ts {
		if s := jsonstream.Clean(string(t)); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func attachments(t *thread) ([]importfmt.Attachment, []string) {
	as := t.Attachments
	if t.Embedded != nil {
		as = append(as, t.Embedded.Attachments...)
	}
	var out []importfmt.Attachment
	var urls []string
	for _, a := range as {
		out = append(out, importfmt.Attachment{Name: jsonstream.Clean(a.Filename), Type: jsonstream.Clean(a.MimeType)})
		u := a.URL
		if a.Links != nil && a.Links.Web != nil && u == "" {
			u = a.Links.Web.Href
		}
		if a.Links != nil && a.Links.Data != nil && u == "" {
			u = a.Links.Data.Href
		}
		if u = jsonstream.Clean(u); u != "" {
			urls = append(urls, u)
		}
	}
	return out, urls
}

func meta(c *conversation, urls []string) json.RawMessage {
	m := struct {
		ID     string   `json:"conversation_id"`
		Number string   `json:"number,omitempty"`
		Status string   `json:"status,omitempty"`
		URLs   []string `json:"attachment_urls,omitempty"`
	}{string(c.ID), jsonstream.Clean(string(c.Number)), jsonstream.Clean(string(c.Status)), urls}
	b, err := json.Marshal(m)
	if err != nil {
		return nil
	}
	return b
}

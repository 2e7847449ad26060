// Package freshdesk reads Freshdesk exports — tickets and their conversations as the API v2
// returns them — as importfmt Items.
//
// # Inputs
//
// A Reader takes any number of JSON inputs holding tickets, conversations, contacts and
// satisfaction ratings, in any mix: top-level arrays as the list endpoints return them
// (/api/v2/tickets, /api/v2/tickets/{id}/conversations, /api/v2/contacts,
// /api/v2/surveys/satisfaction_ratings), a single object (/api/v2/tickets/{id}, with or
// without ?include=conversations,requester), a search page {"total": n, "results": [...]},
// an object with the records under "tickets", "conversations", "contacts" or
// "satisfaction_ratings", or JSON Lines. Every conversation and rating carries its
// ticket_id, so files may come in any order. A bare record is a rating when it has
// "ratings", a conversation when it has ticket_id, a ticket when it has requester_id or
// subject, otherwise a contact when it has email or name.
//
// # Mapping
//
//   - Each ticket gives one Item from its description, SourceID "freshdesk:ticket:<id>",
//     Time created_at, Direction outbound for source 10 (outbound e-mail), else inbound.
//   - Each conversation gives one Item, SourceID "freshdesk:conversation:<id>", Time its
//     created_at; Direction internal when private, inbound when incoming, else outbound
//     (Agent "freshdesk:agent:<user_id>").
//   - Customer "freshdesk:contact:<requester_id>" of the ticket. Email: for incoming
//     conversations the address in from_email, otherwise the requester's address from an
//     embedded "requester", a contacts input, or the ticket's "email" field. Phone the
//     requester's phone (or mobile) on phone tickets.
//   - Channel from the ticket's source (the conversation's medium, also for its
//     conversations): 1 email, 10 outbound email→email; 3 phone→phone; 7 chat, 12 bot→chat;
//     5 twitter, 6 facebook, 13 whatsapp→social; 2 portal, 4 forum, 8 mobihelp, 9 feedback
//     widget, 11 e-commerce→web; any other→other; no source→"".
//   - Rating from a satisfaction rating's ratings.default_question (Freshdesk's scale):
//     103→10, 102→9, 101→7, 100→5, -101→4, -102→2, -103→1; put on the first Item read for
//     the ticket only.
//   - Category the ticket's type ("type", or "ticket_type" in API v1); Tags its tags;
//     Subject its subject.
//   - Body body_text / description_text, else the HTML body / description with the tags
//     stripped.
//   - Attachments: name and content type (URLs only in the export; nothing is fetched);
//     the URLs go to Meta "attachment_urls". Meta also holds ticket_id, status, priority,
//     group_id.
//
// # Memory
//
// Next reads the inputs twice. The first pass keeps, per ticket, a compact summary
// (requester, channel, type, status, priority, group, subject, tags, rating) and, per
// contact, an address and a number: that is the only memory proportional to the input. The
// second pass streams records one at a time. Duplicates give the same SourceIDs again, which
// the store ignores; the last copy of a ticket wins for its summary.
//
// # Errors
//
// A record that cannot be used (no id, no created_at, a bad time, a wrong JSON type, a
// ticket without requester_id, a conversation whose ticket is not in the inputs) gives an
// *importfmt.RecordError and Next goes on; malformed JSON (*jsonstream.SyntaxError) and
// failures to open or read an input are fatal.
package freshdesk

import (
	"encoding/json"
	"errors"
	"io"
	"net/mail"
	"strconv"
	"strings"

	"contactstore/internal/importfmt"
	"contactstore/internal/importfmt/jsonstream"
)

// Input is one file of an export; Open is called once per pass.
type Input = jsonstream.Input

// Options adjust a Reader. The zero value is ready to use; there are no options yet.
type Options struct{}

var wrapperKeys = []string{"tickets", "ticket", "conversations", "results", "contacts", "satisfaction_ratings"}

var errClosed = errors.New("freshdesk: reader closed")

// Reader yields the Items of a Freshdesk export. It implements importfmt.Reader.
type Reader struct {
	inputs   []Input
	tickets  map[string]*ticket
	contacts map[string]contactInfo
	tp       *jsonstream.TwoPass
}

var _ importfmt.Reader = (*Reader)(nil)

type contactInfo struct{ email, phone string }

// ticket is the compact summary of a ticket kept between the passes.
type ticket struct {
	requester string
	source    string
	channel   string
	category  string
	subject   string
	status    string
	priority  string
	group     string
	tags      []string
	rating    int
	rated     bool
}

// NewReader returns a Reader over inputs, which are read when Next is first called.
func NewReader(inputs []Input, opts Options) (*Reader, error) {
	r := &Reader{
		inputs:   append([]Input(nil), inputs...),
		tickets:  make(map[string]*ticket),
		contacts: make(map[string]contactInfo),
	}
	r.tp = jsonstream.NewTwoPass(r.inputs, wrapperKeys, errClosed, r.collect, r.emit)
	return r, nil
}

// Next returns the next Item, io.EOF after the last, a *importfmt.RecordError for a record
// that cannot be used (call Next again to go on), or a fatal error.
func (r *Reader) Next() (importfmt.Item, error) { return r.tp.Next() }

// Close releases the input being read. Next returns an error after Close.
func (r *Reader) Close() error { return r.tp.Close() }

// record is the union of the fields of tickets, conversations, contacts and ratings.
type record struct {
	ID       jsonstream.ID `json:"id"`
	TicketID jsonstream.ID `json:"ticket_id"`

	// ticket
	RequesterID     jsonstream.ID     `json:"requester_id"`
	Requester       *contact          `json:"requester"`
	Subject         *string           `json:"subject"`
	Description     string            `json:"description"`
	DescriptionHTML string            `json:"description_html"`
	DescriptionText *string           `json:"description_text"`
	Type            jsonstream.Text   `json:"type"`
	TicketType      jsonstream.Text   `json:"ticket_type"`
	Status          jsonstream.Text   `json:"status"`
	Priority        jsonstream.Text   `json:"priority"`
	GroupID         jsonstream.ID     `json:"group_id"`
	Tags            []string          `json:"tags"`
	Conversations   []json.RawMessage `json:"conversations"`

	// conversation
	Body      string        `json:"body"`
	BodyText  *string       `json:"body_text"`
	Incoming  *bool         `json:"incoming"`
	Private   *bool         `json:"private"`
	UserID    jsonstream.ID `json:"user_id"`
	FromEmail string        `json:"from_email"`

	// rating
	Ratings *struct {
		Default *json.Number `json:"default_question"`
	} `json:"ratings"`

	// ticket and contact
	Name   *string `json:"name"`
	Email  string  `json:"email"`
	Phone  string  `json:"phone"`
	Mobile string  `json:"mobile"`

	// several
	Source      jsonstream.Text `json:"source"`
	Attachments []attachment    `json:"attachments"`
	CreatedAt   string          `json:"created_at"`
}

type contact struct {
	ID     jsonstream.ID `json:"id"`
	Email  string        `json:"email"`
	Phone  string        `json:"phone"`
	Mobile string        `json:"mobile"`
}

type attachment struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	URL         string `json:"attachment_url"`
}

// kind classifies a record by its wrapper key, or by its fields when it has none.
func kind(el jsonstream.Element, rec *record) string {
	switch el.Key {
	case "tickets", "ticket":
		return "ticket"
	case "conversations":
		return "conversation"
	case "contacts":
		return "contact"
	case "satisfaction_ratings":
		return "rating"
	}
	switch {
	case rec.Ratings != nil:
		return "rating"
	case rec.TicketID != "":
		return "conversation"
	case rec.RequesterID != "" || rec.Subject != nil || rec.DescriptionText != nil:
		return "ticket"
	case rec.Email != "" || rec.Name != nil:
		return "contact"
	}
	return "ticket"
}

// collect is the first pass: ticket summaries, contacts' addresses, ratings. Records it
// cannot use are reported by the second pass.
func (r *Reader) collect() error {
	m := jsonstream.NewMulti(r.inputs, wrapperKeys...)
	defer m.Close()
	ratings := make(map[string]int)
	for {
		el, err := m.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		var rec record
		if _, ok := jsonstream.Decode(el.Raw, &rec); !ok {
			continue
		}
		switch kind(el, &rec) {
		case "contact":
			r.keepContact(rec.ID, rec.Email, rec.Phone, rec.Mobile)
		case "rating":
			if rec.TicketID != "" && rec.Ratings.Default != nil {
				ratings[string(rec.TicketID)] = scale(*rec.Ratings.Default)
			}
		case "ticket":
			r.keepTicket(&rec)
		}
	}
	for id, v := range ratings {
		if t := r.tickets[id]; t != nil {
			t.rating = v
		}
	}
	return nil
}

func (r *Reader) keepContact(id jsonstream.ID, email, phone, mobile string) {
	if id == "" {
		return
	}
	c := r.contacts[string(id)]
	if e := jsonstream.Clean(email); e != "" {
		c.email = e
	}
	if p := jsonstream.Clean(phone); p != "" {
		c.phone = p
	} else if p := jsonstream.Clean(mobile); p != "" && c.phone == "" {
		c.phone = p
	}
	if c != (contactInfo{}) {
		r.contacts[string(id)] = c
	}
}

func (r *Reader) keepTicket(rec *record) {
	if rec.ID == "" {
		return
	}
	t := r.tickets[string(rec.ID)]
	if t == nil {
		t = &ticket{}
		r.tickets[string(rec.ID)] = t
	}
	t.requester = string(rec.RequesterID)
	if rec.Requester != nil {
		if t.requester == "" {
			t.requester = string(rec.Requester.ID)
		}
		r.keepContact(jsonstream.ID(t.requester), rec.Requester.Email, rec.Requester.Phone, rec.Requester.Mobile)
	}
	r.keepContact(jsonstream.ID(t.requester), rec.Email, rec.Phone, rec.Mobile)
	t.source = strings.TrimSpace(string(rec.Source))
	t.channel = channel(t.source)
	t.category = jsonstream.Clean(string(rec.Type))
	if t.category == "" {
		t.category = jsonstream.Clean(string(rec.TicketType))
	}
	if rec.Subject != nil {
		t.subject = jsonstream.Clean(*rec.Subject)
	}
	t.status = jsonstream.Clean(string(rec.Status))
	t.priority = jsonstream.Clean(string(rec.Priority))
	t.group = string(rec.GroupID)
	t.tags = cleanTags(rec.Tags)
}

// emit is the second pass: it queues the Items and RecordErrors of one record.
func (r *Reader) emit(el jsonstream.Element) {
	var rec record
	if reason, ok := jsonstream.Decode(el.Raw, &rec); !ok {
		r.fail(el.Pos, reason)
		return
	}
	switch kind(el, &rec) {
	case "conversation":
		r.conversation(el.Pos, &rec, "")
	case "ticket":
		r.ticketItems(el.Pos, &rec)
	}
}

func (r *Reader) fail(pos importfmt.Position, reason string) {
	r.tp.Problem(pos, reason)
}

func (r *Reader) ticketItems(pos importfmt.Position, rec *record) {
	if rec.ID == "" {
		r.fail(pos, "ticket id: missing")
		return
	}
	tid := string(rec.ID)
	t := r.tickets[tid]
	if t == nil || t.requester == "" {
		r.fail(pos, "ticket requester_id: missing")
		return
	}
	if tm, err := jsonstream.ParseTime(rec.CreatedAt); err != nil {
		r.fail(pos, "ticket created_at: "+err.Error())
	} else {
		it := r.base(pos, tid, t)
		it.SourceID = "freshdesk:ticket:" + tid
		it.Time = tm
		it.Direction = "inbound"
		if t.source == "10" {
			it.Direction = "outbound"
		}
		switch {
		case rec.DescriptionText != nil:
			it.Body = jsonstream.Clean(*rec.DescriptionText)
		case rec.DescriptionHTML != "":
			it.Body = jsonstream.HTMLText(rec.DescriptionHTML)
		default:
			it.Body = jsonstream.HTMLText(rec.Description)
		}
		it.Attachments, it.Meta = attachments(rec.Attachments, tid, t)
		r.tp.Item(it)
	}
	for i, raw := range rec.Conversations {
		var c record
		where := "conversations[" + strconv.Itoa(i) + "]: "
		if reason, ok := jsonstream.Decode(raw, &c); !ok {
			r.fail(pos, where+reason)
			continue
		}
		if c.TicketID == "" {
			c.TicketID = rec.ID
		}
		r.conversation(pos, &c, where)
	}
}

// base fills the ticket's share of an Item.
func (r *Reader) base(pos importfmt.Position, tid string, t *ticket) importfmt.Item {
	c := r.contacts[t.requester]
	it := importfmt.Item{
		Pos:      pos,
		Customer: "freshdesk:contact:" + t.requester,
		Email:    c.email,
		Channel:  t.channel,
		Category: t.category,
		Subject:  t.subject,
		Tags:     t.tags,
	}
	if t.channel == "phone" {
		it.Phone = c.phone
	}
	if !t.rated && t.rating > 0 {
		it.Rating = t.rating
		t.rated = true
	}
	return it
}

func (r *Reader) conversation(pos importfmt.Position, c *record, where string) {
	if c.ID == "" {
		r.fail(pos, where+"conversation id: missing")
		return
	}
	tid := string(c.TicketID)
	t := r.tickets[tid]
	if t == nil || t.requester == "" {
		r.fail(pos, where+"conversation's ticket is not in the inputs: no requester")
		return
	}
	tm, err := jsonstream.ParseTime(c.CreatedAt)
	if err != nil {
		r.fail(pos, where+"conversation created_at: "+err.Error())
		return
	}
	it := r.base(pos, tid, t)
	it.SourceID = "freshdesk:conversation:" + string(c.ID)
	it.Time = tm
	switch {
	case c.Private != nil && *c.Private:
		it.Direction = "internal"
	case c.Incoming != nil && *c.Incoming:
		it.Direction = "inbound"
		if a := address(c.FromEmail); a != "" {
			it.Email = a
		}
	default:
		it.Direction = "outbound"
	}
	if it.Direction != "inbound" && c.UserID != "" {
		it.Agent = "freshdesk:agent:" + string(c.UserID)
	}
	if c.BodyText != nil {
		it.Body = jsonstream.Clean(*c.BodyText)
	} else {
		it.Body = jsonstream.HTMLText(c.Body)
	}
	it.Attachments, it.Meta = attachments(c.Attachments, tid, t)
	r.tp.Item(it)
}

// address returns the bare address of a From value ("Name <a@b>" or "a@b"), "" if none.
func address(from string) string {
	from = jsonstream.Clean(from)
	if from == "" {
		return ""
	}
	if a, err := mail.ParseAddress(from); err == nil {
		return jsonstream.Clean(a.Address)
	}
	if i, j := strings.LastIndexByte(from, '<'), strings.LastIndexByte(from, '>'); i >= 0 && j > i {
		return strings.TrimSpace(from[i+1 : j])
	}
	if strings.Contains(from, "@") && !strings.ContainsAny(from, " <>") {
		return from
	}
	return ""
}

// attachments returns an Item's attachment metadata and Meta.
func attachments(as []attachment, tid string, t *ticket) ([]importfmt.Attachment, json.RawMessage) {
	var out []importfmt.Attachment
	var urls []string
	for _, a := range as {
		out = append(out, importfmt.Attachment{Name: jsonstream.Clean(a.Name), Type: jsonstream.Clean(a.ContentType)})
		if u := jsonstream.Clean(a.URL); u != "" {
			urls = append(urls, u)
		}
	}
	m := struct {
		TicketID string   `json:"ticket_id"`
		Status   string   `json:"status,omitempty"`
		Priority string   `json:"priority,omitempty"`
		GroupID  string   `json:"group_id,omitempty"`
		URLs     []string `json:"attachment_urls,omitempty"`
	}{tid, t.status, t.priority, t.group, urls}
	b, err := json.Marshal(m)
	if err != nil {
		return out, nil
	}
	return out, b
}

// channel maps a ticket's source code to the store's channel vocabulary.
func channel(source string) string {
	switch source {
	case "":
		return ""
	case "1", "10":
		return "email"
	case "3":
		return "phone"
	case "7", "12":
		return "chat"
	case "5", "6", "13":
		return "social"
	case "2", "4", "8", "9", "11":
		return "web"
	}
	return "other"
}

// scale maps a Freshdesk satisfaction value to the store's 1..10 scale, 0 if unknown.
func scale(n json.Number) int {
	switch n.String() {
	case "103":
		return 10
	case "102":
		return 9
	case "101":
		return 7
	case "100":
		return 5
	case "-101":
		return 4
	case "-102":
		return 2
	case "-103":
		return 1
	}
	return 0
}

func cleanTags(tags []string) []string {
	var out []string
	for _, t := range tags {
		if t = jsonstream.Clean(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

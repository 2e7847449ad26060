// Package zendesk reads Zendesk Support exports — the incremental ticket export and ticket
// comments — as importfmt Items, one per comment.
//
// # Inputs
//
// A Reader takes any number of JSON inputs, each holding tickets, comments or users in any
// of these shapes: a page of the incremental export {"tickets": [...], "end_of_stream": ...}
// (several pages = several inputs), a comments page {"comments": [...]} as
// /api/v2/tickets/{id}/comments.json returns it, {"users": [...]} (the sideload of
// ?include=users, which gives requesters' addresses), {"ticket": {...}}, a top-level array
// of records, or JSON Lines (one record per line). A bare record is a comment when it has
// author_id, public, plain_body or html_body, otherwise a ticket.
//
// A comment belongs to the ticket
//   - whose "comments" array embeds it (dumps that nest comments in tickets);
//   - named by its own "ticket_id" field (our documented format for flat comment dumps);
//   - or, for comments pages of the API, which do not say, named by the input's name: a
//     directory "tickets/<id>/", or a file "<id>.json", "comments-<id>.json",
//     "ticket_<id>_comments.json" (see TicketIDFromName); Options.TicketID overrides this
//     rule. Comments in other files without ticket_id are reported, not guessed.
//
// # Mapping
//
//   - One Item per comment, SourceID "zendesk:comment:<id>". A ticket without any comment
//     in the inputs gives one Item from its description, SourceID "zendesk:ticket:<id>".
//   - Customer "zendesk:user:<requester_id>"; Email the requester's address when a users
//     sideload or an embedded "requester" object gives it (or, for the requester's own
//     e-mail comments, via.source.from.address).
//   - Direction: a comment with public=false is internal; by the requester, inbound; any
//     other, outbound. Agent "zendesk:user:<author_id>" for comments not by the requester.
//   - Channel from the ticket's via.channel (the conversation's medium), else the
//     comment's: email→email; voice, phone→phone; chat, native_messaging, messaging,
//     sms→chat; twitter, facebook, instagram, whatsapp, line, wechat→social; web, api,
//     mobile, mobile_sdk, web_widget, help_center, rule, any_channel→web; other→other.
//   - Rating from satisfaction_rating.score: good→10, bad→1 (Zendesk's scale has only
//     these two marks); offered and unoffered are no rating. It is put on the first Item
//     read for the ticket only, so that one ticket counts once.
//   - Category the ticket's type (question, incident, problem, task); Tags its tags;
//     Subject its subject. Time the comment's created_at (required).
//   - Body plain_body, else body, else html_body with the tags stripped.
//   - Attachments: name and content type only (the export has URLs, not data; nothing is
//     fetched); the URLs go to Meta "attachment_urls".
//   - Meta: ticket_id, status, priority, group_id, attachment_urls when present.
//
// # Memory
//
// Next reads the inputs twice. The first pass keeps, per ticket, a compact summary (ids,
// requester, channel, rating, type, status, priority, group, subject, tags) and, per user of
// a users sideload, the address: that is the only memory proportional to the input. The
// second pass streams records one at a time; the largest single record (a ticket with its
// embedded comments) bounds the rest. A ticket or comment that appears twice (time-based
// incremental pages overlap) gives the same SourceIDs twice, which the store ignores; the
// last copy of a ticket wins for its summary.
//
// # Errors
//
// A record that cannot be used (no id, no created_at, a bad time, a wrong JSON type, a
// comment whose ticket is not in the inputs and so has no requester) gives an
// *importfmt.RecordError and Next goes on; malformed JSON is fatal (*jsonstream.SyntaxError),
// as is a failure to open or read an input.
package zendesk

import (
	"encoding/json"
	"errors"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"

	"contactstore/internal/importfmt"
	"contactstore/internal/importfmt/jsonstream"
)

// Input is one file of an export; Open is called once per pass.
type Input = jsonstream.Input

// Options adjust a Reader. The zero value is ready to use.
type Options struct {
	// TicketID returns the ticket id of a comments input from its name, for comments
	// that carry no ticket_id; ok=false when the name does not say. Nil means the rule in
	// the package doc.
	TicketID func(name string) (id string, ok bool)
}

var errClosed = errors.New("zendesk: reader closed")

var wrapperKeys = []string{"tickets", "ticket", "comments", "users", "results"}

// Reader yields the Items of a Zendesk export. It implements importfmt.Reader.
type Reader struct {
	inputs  []Input
	opts    Options
	tickets map[string]*ticket
	emails  map[string]string // user id → address
	tp      *jsonstream.TwoPass
}

var _ importfmt.Reader = (*Reader)(nil)

// ticket is the compact summary of a ticket kept between the passes.
type ticket struct {
	requester string
	channel   string
	category  string
	subject   string
	status    string
	priority  string
	group     string
	tags      []string
	rating    int
	comments  bool // some input holds a comment of it
	rated     bool // an Item already carries the rating
}

// NewReader returns a Reader over inputs, which are read when Next is first called.
func NewReader(inputs []Input, opts Options) (*Reader, error) {
	if opts.TicketID == nil {
		opts.TicketID = TicketIDFromName
	}
	r := &Reader{
		inputs:  append([]Input(nil), inputs...),
		opts:    opts,
		tickets: make(map[string]*ticket),
		emails:  make(map[string]string),
	}
	r.tp = jsonstream.NewTwoPass(r.inputs, wrapperKeys, errClosed, r.collect, r.emit)
	return r, nil
}

// Next returns the next Item, io.EOF after the last, a *importfmt.RecordError for a record
// that cannot be used (call Next again to go on), or a fatal error.
func (r *Reader) Next() (importfmt.Item, error) { return r.tp.Next() }

// Close releases the input being read. Next returns an error after Close.
func (r *Reader) Close() error { return r.tp.Close() }

// TicketIDFromName is the default Options.TicketID. It recognises only names that clearly
// say which ticket they hold, so that no comment is given to the wrong customer: a parent
// directory whose name is all digits ("tickets/123/comments.json"), or a base name (less its
// .json/.jsonl extension and an optional "-page2" suffix) of the form "123",
// "comments-123", "123-comments", "ticket-123" or "ticket-123-comments" ("_" also works as
// the separator, "tickets" too).
func TicketIDFromName(name string) (string, bool) {
	name = strings.ReplaceAll(name, "\\", "/")
	dir, base := path.Split(name)
	if d := path.Base(strings.TrimSuffix(dir, "/")); dir != "" && digits(d) {
		return d, true
	}
	if m := nameRE.FindStringSubmatch(strings.ToLower(base)); m != nil {
		return m[1] + m[2] + m[3], true
	}
	return "", false
}

var nameRE = regexp.MustCompile(`^(?:comments[-_](\d+)|(?:tickets?[-_])?(\d+)(?:[-_]comments)?|tickets?[-_](\d+)[-_]comments)(?:[-_]p(?:age)?\d+)?(?:\.jsonl?)?$`)

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// record is the union of the fields of tickets, comments and users.
type record struct {
	ID       jsonstream.ID `json:"id"`
	TicketID jsonstream.ID `json:"ticket_id"`

	// ticket
	RequesterID jsonstream.ID   `json:"requester_id"`
	SubmitterID jsonstream.ID   `json:"submitter_id"`
	Requester   *user           `json:"requester"`
	Subject     string          `json:"subject"`
	Description string          `json:"description"`
	Type        jsonstream.Text `json:"type"`
	Status      jsonstream.Text `json:"status"`
	Priority    jsonstream.Text `json:"priority"`
	GroupID     jsonstream.ID   `json:"group_id"`
	Tags        []string        `json:"tags"`
	Satisfac    *struct {
		Score jsonstream.Text `json:"score"`
	} `json:"satisfaction_rating"`
	Comments []json.RawMessage `json:"comments"`

	// comment
	AuthorID    jsonstream.ID `json:"author_id"`
	Body        string        `json:"body"`
	HTMLBody    string        `json:"html_body"`
	PlainBody   *string       `json:"plain_body"`
	Public      *bool         `json:"public"`
	Attachments []attachment  `json:"attachments"`

	// both
	Via       *via   `json:"via"`
	CreatedAt string `json:"created_at"`

	// user
	Email string `json:"email"`
}

type user struct {
	ID    jsonstream.ID `json:"id"`
	Email string        `json:"email"`
}

type via struct {
	Channel jsonstream.Text `json:"channel"`
	Source  *struct {
		From *struct {
			Address string `json:"address"`
		} `json:"from"`
	} `json:"source"`
}

type attachment struct {
	FileName    string `json:"file_name"`
	ContentType string `json:"content_type"`
	ContentURL  string `json:"content_url"`
}

func (rec *record) isComment() bool {
	return rec.AuthorID != "" || rec.Public != nil || rec.PlainBody != nil || rec.HTMLBody != ""
}

// kind classifies a record by its wrapper key, or by its fields when it has none.
func kind(el jsonstream.Element, rec *record) string {
	switch el.Key {
	case "tickets", "ticket":
		return "ticket"
	case "comments":
		return "comment"
	case "users":
		return "user"
	}
	if rec.isComment() {
		return "comment"
	}
	return "ticket"
}

// collect is the first pass: ticket summaries, requesters' addresses, which tickets have
// comments. Records it cannot use are reported by the second pass.
func (r *Reader) collect() error {
	m := jsonstream.NewMulti(r.inputs, wrapperKeys...)
	defer m.Close()
	for {
		el, err := m.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var rec record
		if _, ok := jsonstream.Decode(el.Raw, &rec); !ok {
			continue
		}
		switch kind(el, &rec) {
		case "user":
			if rec.ID != "" && rec.Email != "" {
				r.emails[string(rec.ID)] = jsonstream.Clean(rec.Email)
			}
		case "comment":
			if id := r.commentTicket(el, &rec); id != "" {
				r.summary(id).comments = true
			}
		case "ticket":
			r.keepTicket(&rec)
		}
	}
}

func (r *Reader) summary(id string) *ticket {
	t := r.tickets[id]
	if t == nil {
		t = &ticket{}
		r.tickets[id] = t
	}
	return t
}

func (r *Reader) keepTicket(rec *record) {
	if rec.ID == "" {
		return
	}
	t := r.summary(string(rec.ID))
	t.requester = string(rec.RequesterID)
	if rec.Requester != nil {
		if t.requester == "" {
			t.requester = string(rec.Requester.ID)
		}
		if rec.Requester.Email != "" && t.requester != "" {
			r.emails[t.requester] = jsonstream.Clean(rec.Requester.Email)
		}
	}
	if rec.Via != nil {
		t.channel = channel(string(rec.Via.Channel))
	}
	t.category = jsonstream.Clean(string(rec.Type))
	t.subject = jsonstream.Clean(rec.Subject)
	t.status = jsonstream.Clean(string(rec.Status))
	t.priority = jsonstream.Clean(string(rec.Priority))
	t.group = string(rec.GroupID)
	t.tags = cleanTags(rec.Tags)
	t.rating = 0
	if rec.Satisfac != nil {
		t.rating = rating(string(rec.Satisfac.Score))
	}
	if len(rec.Comments) > 0 {
		t.comments = true
	}
}

func (r *Reader) commentTicket(el jsonstream.Element, rec *record) string {
	if rec.TicketID != "" {
		return string(rec.TicketID)
	}
	if id, ok := r.opts.TicketID(el.Pos.File); ok {
		return id
	}
	return ""
}

// emit is the second pass: it queues the Items and RecordErrors of one record.
func (r *Reader) emit(el jsonstream.Element) {
	var rec record
	if reason, ok := jsonstream.Decode(el.Raw, &rec); !ok {
		r.fail(el.Pos, reason)
		return
	}
	switch kind(el, &rec) {
	case "user":
	case "comment":
		tid := r.commentTicket(el, &rec)
		if tid == "" {
			r.fail(el.Pos, "ticket_id: missing, and the input's name gives none")
			return
		}
		r.comment(el.Pos, tid, &rec, "")
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
	for i, raw := range rec.Comments {
		var c record
		if reason, ok := jsonstream.Decode(raw, &c); !ok {
			r.fail(pos, "comments["+itoa(i)+"]: "+reason)
			continue
		}
		r.comment(pos, tid, &c, "comments["+itoa(i)+"]: ")
	}
	if len(rec.Comments) > 0 || t.comments {
		return
	}
	// A ticket whose comments are not in the export: its description is the contact.
	tm, err := jsonstream.ParseTime(rec.CreatedAt)
	if err != nil {
		r.fail(pos, "ticket created_at: "+err.Error())
		return
	}
	it := r.base(pos, tid, t)
	it.SourceID = "zendesk:ticket:" + tid
	it.Time = tm
	it.Body = jsonstream.HTMLText(rec.Description)
	it.Direction = "inbound"
	if rec.SubmitterID != "" && string(rec.SubmitterID) != t.requester {
		it.Direction = "outbound"
		it.Agent = "zendesk:user:" + string(rec.SubmitterID)
	}
	it.Meta = meta(tid, t, nil)
	r.tp.Item(it)
}

// base fills the ticket's share of an Item.
func (r *Reader) base(pos importfmt.Position, tid string, t *ticket) importfmt.Item {
	it := importfmt.Item{
		Pos:      pos,
		Customer: "zendesk:user:" + t.requester,
		Email:    r.emails[t.requester],
		Channel:  t.channel,
		Category: t.category,
		Subject:  t.subject,
		Tags:     t.tags,
	}
	if !t.rated && t.rating > 0 {
		it.Rating = t.rating
		t.rated = true
	}
	return it
}

func (r *Reader) comment(pos importfmt.Position, tid string, c *record, where string) {
	if c.ID == "" {
		r.fail(pos, where+"comment id: missing")
		return
	}
	t := r.tickets[tid]
	if t == nil || t.requester == "" {
		r.fail(pos, where+"comment's ticket is not in the inputs: no requester")
		return
	}
	tm, err := jsonstream.ParseTime(c.CreatedAt)
	if err != nil {
		r.fail(pos, where+"comment created_at: "+err.Error())
		return
	}
	it := r.base(pos, tid, t)
	it.SourceID = "zendesk:comment:" + string(c.ID)
	it.Time = tm
	if it.Channel == "" && c.Via != nil {
		it.Channel = channel(string(c.Via.Channel))
	}
	switch {
	case c.Public != nil && !*c.Public:
		it.Direction = "internal"
	case c.AuthorID != "" && string(c.AuthorID) == t.requester:
		it.Direction = "inbound"
		if it.Email == "" && c.Via != nil && c.Via.Source != nil && c.Via.Source.From != nil {
			it.Email = jsonstream.Clean(c.Via.Source.From.Address)
		}
	case c.AuthorID != "":
		it.Direction = "outbound"
	}
	if c.AuthorID != "" && string(c.AuthorID) != t.requester {
		it.Agent = "zendesk:user:" + string(c.AuthorID)
	}
	switch {
	case c.PlainBody != nil:
		it.Body = jsonstream.Clean(*c.PlainBody)
	case c.Body != "":
		it.Body = jsonstream.Clean(c.Body)
	default:
		it.Body = jsonstream.HTMLText(c.HTMLBody)
	}
	var urls []string
	for _, a := range c.Attachments {
		it.Attachments = append(it.Attachments, importfmt.Attachment{
			Name: jsonstream.Clean(a.FileName),
			Type: jsonstream.Clean(a.ContentType),
		})
		if u := jsonstream.Clean(a.ContentURL); u != "" {
			urls = append(urls, u)
		}
	}
	it.Meta = meta(tid, t, urls)
	r.tp.Item(it)
}

// meta encodes the small set of ticket fields kept with each Item.
func meta(tid string, t *ticket, urls []string) json.RawMessage {
	m := struct {
		TicketID string   `json:"ticket_id"`
		Status   string   `json:"status,omitempty"`
		Priority string   `json:"priority,omitempty"`
		GroupID  string   `json:"group_id,omitempty"`
		URLs     []string `json:"attachment_urls,omitempty"`
	}{tid, t.status, t.priority, t.group, urls}
	b, err := json.Marshal(m)
	if err != nil {
		return nil
	}
	return b
}

// channel maps a via.channel to the store's channel vocabulary.
func channel(c string) string {
	switch strings.ToLower(strings.TrimSpace(c)) {
	case "":
		return ""
	case "email", "mail":
		return "email"
	case "voice", "phone", "voicemail":
		return "phone"
	case "chat", "native_messaging", "messaging", "sms", "chat_transcript":
		return "chat"
	case "twitter", "facebook", "instagram", "instagram_dm", "whatsapp", "line", "wechat":
		return "social"
	case "web", "api", "mobile", "mobile_sdk", "web_widget", "help_center", "web_service",
		"rule", "any_channel", "sample_ticket", "closed_ticket", "helpcenter":
		return "web"
	}
	return "other"
}

// rating maps a satisfaction_rating score to the store's 1..10 scale.
func rating(score string) int {
	switch strings.ToLower(strings.TrimSpace(score)) {
	case "good":
		return 10
	case "bad":
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

func itoa(i int) string { return strconv.Itoa(i) }

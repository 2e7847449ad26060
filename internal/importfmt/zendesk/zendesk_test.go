package zendesk

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"contactstore/internal/importfmt"
	"contactstore/internal/importfmt/jsonstream"
)

func fileInput(t testing.TB, name string) Input {
	t.Helper()
	p := filepath.Join("testdata", filepath.FromSlash(name))
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return Input{Name: name, Open: func() (io.ReadCloser, error) { return os.Open(p) }}
}

func bytesInput(name string, b []byte) Input {
	return Input{Name: name, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}}
}

// readAll drains r, returning the items, the record errors and the fatal error (nil at EOF).
func readAll(t testing.TB, r *Reader) ([]importfmt.Item, []*importfmt.RecordError, error) {
	t.Helper()
	var items []importfmt.Item
	var recErrs []*importfmt.RecordError
	for i := 0; ; i++ {
		if i > 1e6 {
			t.Fatal("Next does not terminate")
		}
		it, err := r.Next()
		var re *importfmt.RecordError
		switch {
		case err == io.EOF:
			return items, recErrs, nil
		case errors.As(err, &re):
			recErrs = append(recErrs, re)
		case err != nil:
			return items, recErrs, err
		default:
			items = append(items, it)
		}
	}
}

func fixtureReader(t *testing.T) *Reader {
	t.Helper()
	r, err := NewReader([]Input{
		fileInput(t, "tickets/101/comments.json"), // comments before their tickets
		fileInput(t, "incremental_1.json"),
		fileInput(t, "incremental_2.json"),
		fileInput(t, "comments.jsonl"),
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestFixtures(t *testing.T) {
	r := fixtureReader(t)
	defer r.Close()
	items, recErrs, err := readAll(t, r)
	if err != nil {
		t.Fatalf("fatal error: %v", err)
	}
	bySource := map[string][]importfmt.Item{}
	for _, it := range items {
		bySource[it.SourceID] = append(bySource[it.SourceID], it)
	}
	type want struct {
		customer, email, channel, direction, category, agent, subject, body string
		rating                                                              int
		tags                                                                []string
		attachments                                                         int
		time                                                                string
		count                                                               int
	}
	tests := []struct {
		source string
		want   want
	}{
		{"zendesk:comment:9011", want{customer: "zendesk:user:5001", email: "ann@example.org", channel: "email",
			direction: "inbound", category: "question", subject: "Parcel never arrived", body: "My parcel never arrived.",
			rating: 10, tags: []string{"shipping", "late"}, attachments: 1, time: "2024-03-01T09:00:00Z", count: 2}},
		{"zendesk:comment:9012", want{customer: "zendesk:user:5001", email: "ann@example.org", channel: "email",
			direction: "outbound", category: "question", agent: "zendesk:user:7001", subject: "Parcel never arrived",
			body: "We are sorry & will resend it.\n\nRegards", tags: []string{"shipping", "late"},
			time: "2024-03-01T10:00:00Z", count: 1}},
		{"zendesk:comment:9013", want{customer: "zendesk:user:5001", email: "ann@example.org", channel: "email",
			direction: "internal", category: "question", agent: "zendesk:user:7001", subject: "Parcel never arrived",
			body: "Customer seems upset", tags: []string{"shipping", "late"}, time: "2024-03-01T10:05:00Z", count: 1}},
		{"zendesk:comment:9042", want{customer: "zendesk:user:5001", email: "ann@example.org", channel: "email",
			direction: "inbound", category: "question", subject: "Parcel never arrived", body: "Any news?",
			tags: []string{"shipping", "late"}, time: "2024-03-02T08:00:00Z", count: 1}},
		{"zendesk:ticket:102", want{customer: "zendesk:user:5002", channel: "chat", direction: "outbound",
			agent: "zendesk:user:7001", subject: "Chat with Bjørn", body: "Hello\u00a0there\n\nSecond line", rating: 1,
			time: "2024-03-03T10:30:00Z", count: 1}},
		{"zendesk:comment:9031", want{customer: "zendesk:user:5003", email: "chloe@example.net", channel: "other",
			direction: "inbound", category: "incident", subject: "Überweisung – 返金", body: "Geld zurück? 返金してください",
			time: "2024-03-04T08:00:00Z", count: 1}},
		{"zendesk:comment:9032", want{customer: "zendesk:user:5003", email: "chloe@example.net", channel: "other",
			direction: "outbound", category: "incident", agent: "zendesk:user:7001", subject: "Überweisung – 返金",
			body: "Done.", time: "2024-03-04T09:00:00Z", count: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.source, func(t *testing.T) {
			got := bySource[tc.source]
			if len(got) != tc.want.count {
				t.Fatalf("%d items, want %d", len(got), tc.want.count)
			}
			it := got[0]
			w := tc.want
			check := func(field, got, want string) {
				t.Helper()
				if got != want {
					t.Errorf("%s = %q, want %q", field, got, want)
				}
			}
			check("Customer", it.Customer, w.customer)
			check("Email", it.Email, w.email)
			check("Channel", it.Channel, w.channel)
			check("Direction", it.Direction, w.direction)
			check("Category", it.Category, w.category)
			check("Agent", it.Agent, w.agent)
			check("Subject", it.Subject, w.subject)
			check("Body", it.Body, w.body)
			check("Time", it.Time.UTC().Format(time.RFC3339), w.time)
			check("Tags", strings.Join(it.Tags, ","), strings.Join(w.tags, ","))
			if it.Rating != w.rating {
				t.Errorf("Rating = %d, want %d", it.Rating, w.rating)
			}
			if len(it.Attachments) != w.attachments {
				t.Errorf("%d attachments, want %d", len(it.Attachments), w.attachments)
			}
			if it.Pos.File == "" || it.Pos.Record == 0 {
				t.Errorf("position %+v lacks file or record", it.Pos)
			}
		})
	}
	if n := len(items); n != 8 {
		t.Errorf("%d items, want 8", n)
	}
	// Ticket 101 is rated once only, the ticket 103 (no rating) never, 104 gives nothing.
	rated := 0
	for _, it := range items {
		if it.Rating > 0 && strings.Contains(string(it.Meta), `"ticket_id":"101"`) {
			rated++
		}
	}
	if rated != 1 {
		t.Errorf("ticket 101 rated on %d items, want 1", rated)
	}
	att := bySource["zendesk:comment:9011"][0]
	if a := att.Attachments[0]; a.Name != "receipt.pdf" || a.Type != "application/pdf" || a.Data != nil {
		t.Errorf("attachment = %+v", a)
	}
	if !strings.Contains(string(att.Meta), "attachment_urls") || !strings.Contains(string(att.Meta), `"priority":"high"`) {
		t.Errorf("Meta = %s, want attachment URLs and the last copy's priority", att.Meta)
	}

	wantErrs := []struct{ file, reason string }{
		{"tickets/101/comments.json", "comment created_at: missing"},
		{"incremental_1.json", "comments[2]: comment created_at: not an RFC 3339 time"},
		{"incremental_1.json", "ticket requester_id: missing"},
		{"comments.jsonl", "comment's ticket is not in the inputs: no requester"},
		{"comments.jsonl", "field public: wrong JSON type"},
	}
	if len(recErrs) != len(wantErrs) {
		for _, e := range recErrs {
			t.Log(e)
		}
		t.Fatalf("%d record errors, want %d", len(recErrs), len(wantErrs))
	}
	for i, w := range wantErrs {
		e := recErrs[i]
		if e.Pos.File != w.file || !strings.Contains(e.Reason, w.reason) {
			t.Errorf("error %d = %v, want %s: %s", i, e, w.file, w.reason)
		}
		assertNoPersonalData(t, e.Error())
	}
}

// personal are values from the fixtures that must never appear in an error.
var personal = []string{"ann@example.org", "Ann", "parcel", "Parcel", "Chloé", "chloe", "Bjørn", "orphan", "yesterday", "x9", "yes"}

func assertNoPersonalData(t *testing.T, msg string) {
	t.Helper()
	for _, p := range personal {
		if strings.Contains(msg, p) {
			t.Errorf("error %q contains the value %q", msg, p)
		}
	}
}

func TestTicketIDFromName(t *testing.T) {
	tests := []struct {
		name, want string
		ok         bool
	}{
		{"tickets/123/comments.json", "123", true},
		{`exports\tickets\77\comments-page2.json`, "77", true},
		{"comments-123.json", "123", true},
		{"ticket_45_comments.json", "45", true},
		{"Tickets-45-Comments-page2.jsonl", "45", true},
		{"45_comments", "45", true},
		{"comments_9.json", "9", true},
		{"incremental_1.json", "", false},
		{"export-2024-01.json", "", false},
		{"/data/comments.json", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		got, ok := TicketIDFromName(tc.name)
		if got != tc.want || ok != tc.ok {
			t.Errorf("TicketIDFromName(%q) = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestShapes(t *testing.T) {
	ticket := `{"id": 1, "requester_id": 2, "created_at": "2024-01-01T00:00:00Z", "subject": "s", "via": {"channel": "twitter"}}`
	comment := `{"id": 3, "author_id": 2, "plain_body": "hi", "public": true, "created_at": "2024-01-01T00:00:00Z"}`
	tests := []struct {
		name    string
		inputs  map[string]string
		sources []string
	}{
		{"array of tickets", map[string]string{"a.json": "[" + ticket + "]"}, []string{"zendesk:ticket:1"}},
		{"single ticket wrapper", map[string]string{"a.json": `{"ticket": ` + ticket + `}`}, []string{"zendesk:ticket:1"}},
		{"bare ticket", map[string]string{"a.json": ticket}, []string{"zendesk:ticket:1"}},
		{"jsonl with BOM", map[string]string{"a.json": "\ufeff" + ticket + "\n" + strings.Replace(ticket, `"id": 1`, `"id": 5`, 1) + "\n"},
			[]string{"zendesk:ticket:1", "zendesk:ticket:5"}},
		{"comments page named by id", map[string]string{"t.json": "[" + ticket + "]", "tickets/1/comments.json": `{"count": 1, "comments": [` + comment + `]}`},
			[]string{"zendesk:comment:3"}},
		{"embedded comments, sorted keys", map[string]string{"a.json": `[{"comments": [` + comment + `], "created_at": "2024-01-01T00:00:00Z", "id": 1, "requester_id": 2}]`},
			[]string{"zendesk:comment:3"}},
		{"empty array", map[string]string{"a.json": "[]"}, nil},
		{"empty input", map[string]string{"a.json": ""}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var inputs []Input
			for _, name := range []string{"t.json", "a.json", "tickets/1/comments.json"} {
				if s, ok := tc.inputs[name]; ok {
					inputs = append(inputs, bytesInput(name, []byte(s)))
				}
			}
			r, _ := NewReader(inputs, Options{})
			items, recErrs, err := readAll(t, r)
			if err != nil || len(recErrs) > 0 {
				t.Fatalf("err %v, record errors %v", err, recErrs)
			}
			var got []string
			for _, it := range items {
				got = append(got, it.SourceID)
			}
			if strings.Join(got, " ") != strings.Join(tc.sources, " ") {
				t.Errorf("items %v, want %v", got, tc.sources)
			}
		})
	}
}

func TestFatal(t *testing.T) {
	tests := []struct{ name, input string }{
		{"truncated", `{"tickets": [{"id": 1, "requester_id": 2`},
		{"garbage", `{"tickets": [{"id": 1} x]}`},
		{"scalar at top", `"Ann <ann@example.org>"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := NewReader([]Input{bytesInput("bad.json", []byte(tc.input))}, Options{})
			_, _, err := readAll(t, r)
			var se *jsonstream.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *jsonstream.SyntaxError", err)
			}
			assertNoPersonalData(t, err.Error())
			if _, err2 := r.Next(); err2 != err {
				t.Errorf("error not sticky: %v", err2)
			}
		})
	}
	r, _ := NewReader([]Input{{Name: "x.json", Open: func() (io.ReadCloser, error) { return nil, os.ErrNotExist }}}, Options{})
	if _, err := r.Next(); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("open error = %v", err)
	}
}

func FuzzReader(f *testing.F) {
	for _, name := range []string{"incremental_1.json", "incremental_2.json", "tickets/101/comments.json", "comments.jsonl"} {
		b, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(name)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, []byte(`[{"id":1,"requester_id":2,"created_at":"2024-01-01T00:00:00Z"}]`))
	}
	f.Add([]byte(`{"_embedded":{"tickets":[{}]}}`), []byte(`{"comments":{"id":1}}`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		r, _ := NewReader([]Input{bytesInput("a.json", a), bytesInput("tickets/7/b.json", b)}, Options{})
		items, _, _ := readAll(t, r)
		for _, it := range items {
			for _, s := range []string{it.SourceID, it.Customer, it.Email, it.Channel, it.Direction,
				it.Category, it.Agent, it.Subject, it.Body, string(it.Meta)} {
				if !utf8.ValidString(s) {
					t.Fatalf("invalid UTF-8 in item %+v", it)
				}
			}
			if it.Customer == "" || it.SourceID == "" || it.Time.IsZero() {
				t.Fatalf("item lacks customer, source id or time: %+v", it)
			}
		}
	})
}

func BenchmarkReader(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString(`{"tickets": [`)
	for i := range 2000 {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(`{"id": ` + itoa(i) + `, "requester_id": 42, "via": {"channel": "email"}, "type": "question",
 "subject": "A subject line", "status": "open", "tags": ["a", "b"], "created_at": "2024-01-01T00:00:00Z",
 "comments": [{"id": ` + itoa(i*10) + `, "author_id": 42, "public": true, "created_at": "2024-01-01T00:00:00Z",
 "plain_body": "` + strings.Repeat("Some words of a customer. ", 20) + `"},
 {"id": ` + itoa(i*10+1) + `, "author_id": 7, "public": true, "created_at": "2024-01-01T01:00:00Z",
 "html_body": "<p>` + strings.Repeat("An answer &amp; more. ", 20) + `</p>"}]}`)
	}
	buf.WriteString(`], "end_of_stream": true}`)
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r, _ := NewReader([]Input{bytesInput("bench.json", data)}, Options{})
		items, _, err := readAll(b, r)
		if err != nil || len(items) != 4000 {
			b.Fatalf("%d items, err %v", len(items), err)
		}
	}
}

func TestCommentTicketFromName(t *testing.T) {
	ticket := bytesInput("t.json", []byte(`[{"id": 8, "requester_id": 2, "created_at": "2024-01-01T00:00:00Z"}]`))
	comments := []byte(`{"comments": [{"id": 3, "author_id": 2, "plain_body": "hi", "public": true, "created_at": "2024-01-01T00:00:00Z"}]}`)
	tests := []struct {
		name   string
		opts   Options
		source string
		reason string
	}{
		{"export-2024.json", Options{}, "", "ticket_id: missing, and the input's name gives none"},
		{"comments_8.json", Options{}, "zendesk:comment:3", ""},
		{"export-2024.json", Options{TicketID: func(string) (string, bool) { return "8", true }}, "zendesk:comment:3", ""},
	}
	for _, tc := range tests {
		r, _ := NewReader([]Input{ticket, bytesInput(tc.name, comments)}, tc.opts)
		items, recErrs, err := readAll(t, r)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case tc.source != "" && (len(items) != 1 || items[0].SourceID != tc.source || len(recErrs) != 0):
			t.Errorf("%s: items %v, errors %v", tc.name, items, recErrs)
		case tc.reason != "" && (len(items) != 1 || items[0].SourceID != "zendesk:ticket:8" ||
			len(recErrs) != 1 || recErrs[0].Reason != tc.reason):
			// The comment is reported, not guessed; its ticket stands alone.
			t.Errorf("%s: items %v, errors %v", tc.name, items, recErrs)
		}
	}
}

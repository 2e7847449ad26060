package freshdesk

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"contactstore/internal/importfmt"
	"contactstore/internal/importfmt/jsonstream"
)

func fileInput(t testing.TB, name string) Input {
	t.Helper()
	p := filepath.Join("testdata", name)
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

func TestFixtures(t *testing.T) {
	r, err := NewReader([]Input{
		fileInput(t, "conversations.json"), // conversations before their tickets
		fileInput(t, "tickets.json"),
		fileInput(t, "ticket_3.json"),
		fileInput(t, "contacts.jsonl"),
		fileInput(t, "ratings.json"),
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
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
		customer, email, phone, channel, direction, category, agent, subject, body, time string
		rating, attachments, count                                                       int
		tags                                                                             []string
	}
	tests := []struct {
		source string
		want   want
	}{
		{"freshdesk:conversation:101", want{customer: "freshdesk:contact:8001", email: "ann.other@example.org", channel: "email",
			direction: "inbound", category: "Refund", subject: "Refund for order", body: "Still waiting",
			time: "2024-05-01T09:00:00Z", rating: 10, count: 2, tags: []string{"refund"}}},
		{"freshdesk:conversation:102", want{customer: "freshdesk:contact:8001", email: "ann@example.org", channel: "email",
			direction: "outbound", category: "Refund", agent: "freshdesk:agent:9001", subject: "Refund for order",
			body: "Refund sent", time: "2024-05-01T10:00:00Z", count: 1, tags: []string{"refund"}}},
		{"freshdesk:conversation:103", want{customer: "freshdesk:contact:8001", email: "ann@example.org", channel: "email",
			direction: "internal", category: "Refund", agent: "freshdesk:agent:9001", subject: "Refund for order",
			body: "Approved by finance", time: "2024-05-01T09:30:00Z", count: 1, tags: []string{"refund"}}},
		{"freshdesk:conversation:105", want{customer: "freshdesk:contact:8002", email: "bo@example.com", phone: "+44 20 7946 0000",
			channel: "phone", direction: "outbound", agent: "freshdesk:agent:9001", subject: "Call about delivery",
			body: "HTML only", time: "2024-05-03T10:00:00Z", rating: 1, count: 1}},
		{"freshdesk:ticket:1", want{customer: "freshdesk:contact:8001", email: "ann@example.org", channel: "email",
			direction: "inbound", category: "Refund", subject: "Refund for order", body: "I want my money back.",
			time: "2024-05-01T08:00:00Z", attachments: 1, count: 1, tags: []string{"refund"}}},
		{"freshdesk:ticket:2", want{customer: "freshdesk:contact:8002", email: "bo@example.com", phone: "+44 20 7946 0000",
			channel: "phone", direction: "inbound", subject: "Call about delivery",
			body: "Customer called & asked for a new date.", time: "2024-05-03T07:15:00Z", count: 1}},
		{"freshdesk:ticket:6", want{customer: "freshdesk:contact:8001", email: "ann@example.org", channel: "email",
			direction: "outbound", category: "Question", subject: "We wrote first", body: "Hello from support",
			time: "2024-05-06T08:00:00Z", count: 1}},
		{"freshdesk:ticket:3", want{customer: "freshdesk:contact:8003", channel: "other", direction: "inbound",
			category: "Problème", subject: "Ça ne marche pas — 壊れた", body: "Ça ne marche pas\n壊れた",
			time: "2024-05-05T10:00:00Z", count: 1}},
		{"freshdesk:conversation:31", want{customer: "freshdesk:contact:8003", channel: "other", direction: "outbound",
			category: "Problème", agent: "freshdesk:agent:9002", subject: "Ça ne marche pas — 壊れた",
			body: "Avez-vous redémarré ?", time: "2024-05-05T11:00:00Z", count: 1}},
		{"freshdesk:conversation:32", want{customer: "freshdesk:contact:8003", email: "zoe@example.fr", channel: "other",
			direction: "inbound", category: "Problème", subject: "Ça ne marche pas — 壊れた", body: "Oui",
			time: "2024-05-05T12:00:00Z", count: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.source, func(t *testing.T) {
			got := bySource[tc.source]
			if len(got) != tc.want.count {
				t.Fatalf("%d items, want %d", len(got), tc.want.count)
			}
			it, w := got[0], tc.want
			check := func(field, got, want string) {
				t.Helper()
				if got != want {
					t.Errorf("%s = %q, want %q", field, got, want)
				}
			}
			check("Customer", it.Customer, w.customer)
			check("Email", it.Email, w.email)
			check("Phone", it.Phone, w.phone)
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
	if len(items) != 11 {
		t.Errorf("%d items, want 11", len(items))
	}
	t1 := bySource["freshdesk:ticket:1"][0]
	if a := t1.Attachments[0]; a.Name != "photo.png" || a.Type != "image/png" || a.Data != nil {
		t.Errorf("attachment = %+v", a)
	}
	if m := string(t1.Meta); !strings.Contains(m, "attachment_urls") || !strings.Contains(m, `"group_id":"4001"`) {
		t.Errorf("Meta = %s", m)
	}

	wantErrs := []struct{ file, reason string }{
		{"conversations.json", "conversation's ticket is not in the inputs"},
		{"conversations.json", "conversation created_at: missing"},
		{"tickets.json", "ticket requester_id: missing"},
		{"tickets.json", "ticket created_at: not an RFC 3339 time"},
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

var personal = []string{"ann", "Ann", "Who am I", "No time", "31/12", "Bad date", "No requester", "x9"}

func assertNoPersonalData(t *testing.T, msg string) {
	t.Helper()
	for _, p := range personal {
		if strings.Contains(msg, p) {
			t.Errorf("error %q contains the value %q", msg, p)
		}
	}
}

func TestRecordErrors(t *testing.T) {
	tests := []struct {
		name, input, reason string
	}{
		{"wrong type", `[{"id": 1, "requester_id": 2, "subject": ["x9"], "created_at": "2024-01-01T00:00:00Z"}]`, "field subject: wrong JSON type"},
		{"bad id", `[{"id": 1.5, "requester_id": 2, "created_at": "2024-01-01T00:00:00Z"}]`, "an id field is not a string or an integer"},
		{"not an object", `[1]`, "record is not a JSON object"},
		{"no id", `[{"requester_id": 2, "subject": "x9", "created_at": "2024-01-01T00:00:00Z"}]`, "ticket id: missing"},
		{"conversation no id", `[{"ticket_id": 2, "body_text": "x9"}]`, "conversation id: missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := NewReader([]Input{bytesInput("in.json", []byte(tc.input))}, Options{})
			items, recErrs, err := readAll(t, r)
			if err != nil || len(items) != 0 || len(recErrs) != 1 {
				t.Fatalf("items %d, record errors %v, err %v", len(items), recErrs, err)
			}
			if e := recErrs[0]; !strings.Contains(e.Reason, tc.reason) || e.Pos.Record != 1 || e.Pos.Offset != 1 {
				t.Errorf("error = %v at %+v, want %q at record 1, offset 1", e, e.Pos, tc.reason)
			}
			assertNoPersonalData(t, recErrs[0].Error())
		})
	}
}

func TestFatal(t *testing.T) {
	r, _ := NewReader([]Input{
		bytesInput("ok.json", []byte(`[{"id": 1, "requester_id": 2, "created_at": "2024-01-01T00:00:00Z"}]`)),
		bytesInput("bad.json", []byte(`[{"id": 1}, {"id": 2,,}]`)),
	}, Options{})
	items, _, err := readAll(t, r)
	var se *jsonstream.SyntaxError
	if !errors.As(err, &se) || se.File != "bad.json" || se.Offset == 0 {
		t.Fatalf("err = %v, want a *jsonstream.SyntaxError in bad.json", err)
	}
	if len(items) != 0 {
		t.Errorf("%d items before the first pass failed, want 0", len(items))
	}
}

func TestAddress(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Rachel <rachel@freshdesk.com>", "rachel@freshdesk.com"},
		{"rachel@freshdesk.com", "rachel@freshdesk.com"},
		{`"Zoë, D." <zoe@example.fr>`, "zoe@example.fr"},
		{"Broken <<x@y>", "x@y"},
		{"", ""},
		{"no address here", ""},
	}
	for _, tc := range tests {
		if got := address(tc.in); got != tc.want {
			t.Errorf("address(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzReader(f *testing.F) {
	for _, name := range []string{"tickets.json", "ticket_3.json", "conversations.json", "contacts.jsonl", "ratings.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, []byte(`[{"id":1,"requester_id":2,"source":3,"created_at":"2024-01-01T00:00:00Z"}]`))
	}
	f.Add([]byte(`{"total":1,"results":[{}]}`), []byte(`{"ticket_id":1,"ratings":{"default_question":"103"}}`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		r, _ := NewReader([]Input{bytesInput("a.json", a), bytesInput("b.json", b)}, Options{})
		items, _, _ := readAll(t, r)
		for _, it := range items {
			for _, s := range []string{it.SourceID, it.Customer, it.Email, it.Phone, it.Channel, it.Direction,
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
	var tickets, convs bytes.Buffer
	tickets.WriteByte('[')
	convs.WriteByte('[')
	for i := range 2000 {
		if i > 0 {
			tickets.WriteByte(',')
			convs.WriteByte(',')
		}
		id := itoa(i)
		tickets.WriteString(`{"id": ` + id + `, "requester_id": 42, "source": 1, "type": "Question", "status": 2,
 "subject": "A subject line", "tags": ["a", "b"], "created_at": "2024-01-01T00:00:00Z",
 "description": "<div>` + strings.Repeat("Some words of a customer. ", 20) + `</div>",
 "description_text": "` + strings.Repeat("Some words of a customer. ", 20) + `"}`)
		convs.WriteString(`{"id": ` + id + `, "ticket_id": ` + id + `, "incoming": false, "private": false, "user_id": 7,
 "created_at": "2024-01-01T01:00:00Z", "from_email": "Support <s@example.com>",
 "body": "<p>` + strings.Repeat("An answer &amp; more. ", 20) + `</p>"}`)
	}
	tickets.WriteByte(']')
	convs.WriteByte(']')
	inputs := []Input{bytesInput("t.json", tickets.Bytes()), bytesInput("c.json", convs.Bytes())}
	b.SetBytes(int64(tickets.Len() + convs.Len()))
	b.ReportAllocs()
	for b.Loop() {
		r, _ := NewReader(inputs, Options{})
		items, _, err := readAll(b, r)
		if err != nil || len(items) != 4000 {
			b.Fatalf("%d items, err %v", len(items), err)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

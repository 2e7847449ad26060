package helpscout

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

func readFile(t *testing.T, name string) ([]importfmt.Item, []*importfmt.RecordError) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := NewReader(f, name, Options{Mailboxes: map[string]string{"55": "Billing"}})
	items, recErrs, err := readAll(t, r)
	if err != nil {
		t.Fatalf("%s: fatal error: %v", name, err)
	}
	return items, recErrs
}

func TestFixtures(t *testing.T) {
	var items []importfmt.Item
	var recErrs []*importfmt.RecordError
	for _, name := range []string{"page.json", "v1.json", "conversations.jsonl"} {
		i, e := readFile(t, name)
		items, recErrs = append(items, i...), append(recErrs, e...)
	}
	bySource := map[string][]importfmt.Item{}
	for _, it := range items {
		bySource[it.SourceID] = append(bySource[it.SourceID], it)
	}
	type want struct {
		customer, email, channel, direction, category, agent, subject, body, time string
		rating, attachments, count                                                int
		tags                                                                      []string
	}
	tests := []struct {
		source string
		want   want
	}{
		{"helpscout:thread:5001", want{customer: "helpscout:customer:301", email: "ann@example.org", channel: "email",
			direction: "inbound", category: "Billing", subject: "Invoice wrong",
			body: "My invoice is wrong.\nPlease fix & resend.", time: "2024-06-01T08:00:00Z", attachments: 1, count: 1,
			tags: []string{"vip"}}},
		{"helpscout:thread:5002", want{customer: "helpscout:customer:301", email: "ann@example.org", channel: "email",
			direction: "outbound", category: "Billing", agent: "helpscout:user:12", subject: "Invoice wrong",
			body: "Fixed, see attached.", time: "2024-06-01T09:00:00Z", rating: 10, count: 1, tags: []string{"vip"}}},
		{"helpscout:thread:5003", want{customer: "helpscout:customer:301", email: "ann@example.org", channel: "email",
			direction: "internal", category: "Billing", agent: "helpscout:user:12", subject: "Invoice wrong",
			body: "Checked with finance", time: "2024-06-01T08:30:00Z", count: 1, tags: []string{"vip"}}},
		{"helpscout:thread:5011", want{customer: "helpscout:customer:302", email: "jo@example.de", channel: "chat",
			direction: "inbound", category: "mailbox:56", subject: "Live chat: größe?", body: "Hallo, welche Größe? 👕",
			time: "2024-06-02T08:00:00Z", count: 1}},
		{"helpscout:thread:5012", want{customer: "helpscout:customer:302", channel: "chat", direction: "outbound",
			category: "mailbox:56", agent: "helpscout:user:13", subject: "Live chat: größe?", body: "M passt.",
			time: "2024-06-02T08:01:00Z", count: 1}},
		{"helpscout:thread:5013", want{customer: "helpscout:customer:302", channel: "phone", direction: "outbound",
			category: "mailbox:56", agent: "helpscout:user:13", subject: "Live chat: größe?", body: "Called back",
			time: "2024-06-02T09:00:00Z", count: 1}},
		{"helpscout:thread:5021", want{customer: "helpscout:customer:303", channel: "web", direction: "inbound",
			category: "Billing", subject: "Form", body: "same", time: "2024-06-03T08:00:00Z", count: 2}},
		{"helpscout:thread:5022", want{customer: "helpscout:customer:303", channel: "web", category: "Billing",
			subject: "Form", body: "?", time: "2024-06-03T08:05:00Z", count: 1}},
		{"helpscout:thread:6001", want{customer: "helpscout:customer:401", email: "old@example.com", channel: "email",
			direction: "inbound", category: "Support", subject: "Old API", body: "Plain text < not a tag",
			time: "2024-01-01T00:00:00Z", rating: 2, attachments: 1, count: 1, tags: []string{"legacy", "v1"}}},
		{"helpscout:thread:7001", want{customer: "helpscout:customer:501", channel: "email", direction: "inbound",
			subject: "Sorted keys", body: "sorted", time: "2024-02-01T00:00:00Z", count: 1}},
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
			if it.Pos.File == "" || it.Pos.Record == 0 || it.Pos.Offset < 0 {
				t.Errorf("position %+v lacks file, record or offset", it.Pos)
			}
		})
	}
	if len(items) != 11 {
		t.Errorf("%d items, want 11", len(items))
	}
	a := bySource["helpscout:thread:5001"][0]
	if at := a.Attachments[0]; at.Name != "invoice.pdf" || at.Type != "application/pdf" || at.Data != nil {
		t.Errorf("attachment = %+v", at)
	}
	if m := string(a.Meta); !strings.Contains(m, `"attachment_urls":["https://secure.helpscout.net/file/77/invoice.pdf"]`) ||
		!strings.Contains(m, `"conversation_id":"1001"`) {
		t.Errorf("Meta = %s", m)
	}
	wantErrs := []struct {
		file   string
		record int
		reason string
	}{
		{"page.json", 1, "threads[5]: thread createdAt: missing"},
		{"page.json", 3, "conversation id: missing"},
	}
	if len(recErrs) != len(wantErrs) {
		for _, e := range recErrs {
			t.Log(e)
		}
		t.Fatalf("%d record errors, want %d", len(recErrs), len(wantErrs))
	}
	for i, w := range wantErrs {
		e := recErrs[i]
		if e.Pos.File != w.file || e.Pos.Record != w.record || e.Reason != w.reason {
			t.Errorf("error %d = %v, want %s record %d: %s", i, e, w.file, w.record, w.reason)
		}
		assertNoPersonalData(t, e.Error())
	}
}

var personal = []string{"ann", "Ann", "Thanks", "Invoice", "no id", "jo@"}

func assertNoPersonalData(t *testing.T, msg string) {
	t.Helper()
	for _, p := range personal {
		if strings.Contains(msg, p) {
			t.Errorf("error %q contains the value %q", msg, p)
		}
	}
}

func TestRecordErrors(t *testing.T) {
	tests := []struct{ name, input, reason string }{
		{"no customer", `[{"id": 1, "_embedded": {"threads": [{"id": 2, "type": "customer", "body": "Thanks", "createdAt": "2024-01-01T00:00:00Z"}]}}]`, "threads[0]: thread customer: missing"},
		{"bad time", `[{"id": 1, "primaryCustomer": {"id": 3}, "_embedded": {"threads": [{"id": 2, "createdAt": "Thanks"}]}}]`, "threads[0]: thread createdAt: not an RFC 3339 time"},
		{"no thread id", `[{"id": 1, "primaryCustomer": {"id": 3}, "_embedded": {"threads": [{"createdAt": "2024-01-01T00:00:00Z"}]}}]`, "threads[0]: thread id: missing"},
		{"thread type", `[{"id": 1, "primaryCustomer": {"id": 3}, "_embedded": {"threads": [{"id": 2, "body": ["Thanks"]}]}}]`, "threads[0]: field body: wrong JSON type"},
		{"bad threads", `[{"id": 1, "threads": [1, }]`, ""},
		{"subject type", `[{"id": 1, "subject": {"Invoice": 1}}]`, "field subject: wrong JSON type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			items, recErrs, err := readAll(t, NewReader(strings.NewReader(tc.input), "in.json", Options{}))
			if tc.reason == "" {
				var se *jsonstream.SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("err = %v, want a syntax error", err)
				}
				return
			}
			if err != nil || len(items) != 0 || len(recErrs) != 1 {
				t.Fatalf("items %d, record errors %v, err %v", len(items), recErrs, err)
			}
			if e := recErrs[0]; e.Reason != tc.reason || e.Pos.Record != 1 || e.Pos.Offset != 1 {
				t.Errorf("error = %q at %+v, want %q at record 1, offset 1", e.Reason, e.Pos, tc.reason)
			}
			assertNoPersonalData(t, recErrs[0].Error())
		})
	}
}

func FuzzReader(f *testing.F) {
	for _, name := range []string{"page.json", "v1.json", "conversations.jsonl"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"_embedded":{}}`))
	f.Add([]byte(`{"_embedded":[1,{"a":2}],"id":1}`))
	f.Add([]byte(`{"item":{"id":1,"customer":{"id":2},"threads":[{"id":3,"createdAt":"2024-01-01T00:00:00Z","rating":{"rating":"okay"}}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		items, _, _ := readAll(t, NewReader(bytes.NewReader(b), "fuzz.json", Options{}))
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
	buf.WriteString(`{"_embedded": {"conversations": [`)
	for i := range 1000 {
		if i > 0 {
			buf.WriteByte(',')
		}
		id := strconv.Itoa(i)
		buf.WriteString(`{"id": ` + id + `, "number": ` + id + `, "type": "email", "status": "closed", "mailboxId": 5,
 "subject": "A subject line", "primaryCustomer": {"id": 42, "email": "c@example.com"}, "tags": [{"id": 1, "tag": "a"}],
 "_embedded": {"threads": [
  {"id": ` + strconv.Itoa(i*10) + `, "type": "customer", "createdBy": {"id": 42, "type": "customer"}, "createdAt": "2024-01-01T00:00:00Z",
   "body": "<div>` + strings.Repeat("Some words of a customer. ", 20) + `</div>"},
  {"id": ` + strconv.Itoa(i*10+1) + `, "type": "message", "createdBy": {"id": 7, "type": "user"}, "createdAt": "2024-01-01T01:00:00Z",
   "body": "<p>` + strings.Repeat("An answer &amp; more. ", 20) + `</p>"}]}}`)
	}
	buf.WriteString(`]}, "page": {"size": 1000}}`)
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		items, _, err := readAll(b, NewReader(bytes.NewReader(data), "bench.json", Options{}))
		if err != nil || len(items) != 2000 {
			b.Fatalf("%d items, err %v", len(items), err)
		}
	}
}

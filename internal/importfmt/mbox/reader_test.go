package mbox

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"contactstore/internal/importfmt"
)

// result is one Next call: an item or a record error.
type result struct {
	item importfmt.Item
	err  *importfmt.RecordError
}

// readAll reads r to the end, failing the test on a fatal error.
func readAll(t testing.TB, r *Reader) []result {
	t.Helper()
	var out []result
	for {
		it, err := r.Next()
		if err == io.EOF {
			return out
		}
		var re *importfmt.RecordError
		if errors.As(err, &re) {
			out = append(out, result{err: re})
			continue
		}
		if err != nil {
			t.Fatalf("fatal error: %v", err)
		}
		out = append(out, result{item: it})
	}
}

func readFile(t *testing.T, name string, opts Options) []result {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if opts.Mailboxes == nil {
		opts.Mailboxes = []string{"@shop.test"}
	}
	r, err := NewReader(f, name, opts)
	if err != nil {
		t.Fatal(err)
	}
	return readAll(t, r)
}

func TestAwkward(t *testing.T) {
	res := readFile(t, "awkward.mbox", Options{})
	if len(res) != 13 {
		t.Fatalf("got %d results, want 13", len(res))
	}
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name      string
		record    int
		line      int
		sourceID  string
		customer  string
		email     string
		direction string
		agent     string
		subject   string
		body      string // the body must contain this
		time      time.Time
		attach    []string // "name|type"
		tags      []string
		errReason string // a RecordError with this reason
	}{
		{name: "encoded words", record: 1, line: 1, sourceID: "mbox:enc-1@example.org",
			customer: "anna.jorgensen@example.org", email: "Anna.Jorgensen@Example.ORG", direction: "inbound",
			subject: "Réclamation café n° 12", body: "Hallo, mijn bestelling", time: utc("2024-03-04T10:00:00+01:00")},
		{name: "quoted-printable", record: 2, line: 12, sourceID: "mbox:qp-2@example.net", customer: "bert@example.net",
			direction: "inbound", subject: "qp", body: "afgebroken, en een café met crème."},
		{name: "base64 and koi8-r subject", record: 3, line: 24, customer: "carla@example.com", direction: "inbound",
			subject: "Привет", body: "Привет, это тело в base64.\nВторая строка."},
		{name: "nested multipart outbound", record: 4, line: 37, sourceID: "mbox:nested-4@shop.test",
			customer: "eve@customer.example", email: "Eve@Customer.Example", direction: "outbound", agent: "Dana from Shop",
			subject: "Re: your order", body: "Plain version of the answer.",
			attach: []string{"logo.png|image/png", "factuur €12.pdf|application/pdf", "|message/rfc822"},
			tags:   []string{"Inbox", "Orders"}},
		{name: "html only", record: 5, line: 88, customer: "fred@example.org", body: "Beste & lieve support,\n\nPrijs: 10 €\nGroet,\nFred\n\n- een\n- twee"},
		{name: "missing Date", record: 6, line: 99, customer: "gina@example.org", time: utc("2024-03-05T09:30:00Z")},
		{name: "missing Message-ID", record: 7, line: 107, sourceID: "mbox:sha256:", customer: "hans@example.org"},
		{name: "duplicate", record: 8, line: 115, sourceID: "mbox:sha256:", customer: "hans@example.org"},
		{name: "mboxrd quoting", record: 9, line: 123, customer: "ivo@example.org",
			body: "Zie hieronder.\n\nFrom here on, quoted.\n>From twice quoted.\nFrom the body, unquoted"},
		{name: "8-bit without charset", record: 10, line: 136, customer: "jan@example.org", subject: "Grüße", body: "Schöne Grüße aus Köln."},
		{name: "no external party", record: 11, line: 145, errReason: "no external party"},
		{name: "no date at all", record: 12, line: 154, errReason: "Date header missing"},
		{name: "iso-2022-jp and koi8-r parts", record: 13, line: 162, customer: "lena@example.org", body: "こんにちは\n\nПривет"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := res[i]
			if tt.errReason != "" {
				if r.err == nil {
					t.Fatalf("got an item, want a RecordError %q", tt.errReason)
				}
				if !strings.Contains(r.err.Reason, tt.errReason) {
					t.Errorf("reason %q, want %q", r.err.Reason, tt.errReason)
				}
				if r.err.Pos.Record != tt.record || r.err.Pos.Line != tt.line {
					t.Errorf("pos %+v, want record %d line %d", r.err.Pos, tt.record, tt.line)
				}
				return
			}
			if r.err != nil {
				t.Fatalf("unexpected RecordError: %v", r.err)
			}
			it := r.item
			if it.Pos.Record != tt.record || it.Pos.Line != tt.line || it.Pos.File != "awkward.mbox" {
				t.Errorf("pos %+v, want record %d line %d", it.Pos, tt.record, tt.line)
			}
			if it.Channel != "email" {
				t.Errorf("channel %q", it.Channel)
			}
			if tt.sourceID != "" && !strings.HasPrefix(it.SourceID, tt.sourceID) {
				t.Errorf("SourceID %q, want prefix %q", it.SourceID, tt.sourceID)
			}
			if it.Customer != tt.customer {
				t.Errorf("Customer %q, want %q", it.Customer, tt.customer)
			}
			if tt.email != "" && it.Email != tt.email {
				t.Errorf("Email %q, want %q", it.Email, tt.email)
			}
			if tt.direction != "" && it.Direction != tt.direction {
				t.Errorf("Direction %q, want %q", it.Direction, tt.direction)
			}
			if it.Agent != tt.agent {
				t.Errorf("Agent %q, want %q", it.Agent, tt.agent)
			}
			if tt.subject != "" && it.Subject != tt.subject {
				t.Errorf("Subject %q, want %q", it.Subject, tt.subject)
			}
			if !strings.Contains(it.Body, tt.body) {
				t.Errorf("Body %q, want it to contain %q", it.Body, tt.body)
			}
			if !tt.time.IsZero() && !it.Time.Equal(tt.time) {
				t.Errorf("Time %v, want %v", it.Time, tt.time)
			}
			var atts []string
			for _, a := range it.Attachments {
				atts = append(atts, a.Name+"|"+a.Type)
			}
			if strings.Join(atts, ",") != strings.Join(tt.attach, ",") {
				t.Errorf("attachments %q, want %q", atts, tt.attach)
			}
			if strings.Join(it.Tags, ",") != strings.Join(tt.tags, ",") {
				t.Errorf("tags %q, want %q", it.Tags, tt.tags)
			}
		})
	}
	if res[6].item.SourceID != res[7].item.SourceID {
		t.Errorf("duplicates got different ids %q, %q", res[6].item.SourceID, res[7].item.SourceID)
	}
	if res[5].item.SourceID == res[6].item.SourceID {
		t.Error("different messages share an id")
	}
}

func TestAttachmentData(t *testing.T) {
	res := readFile(t, "awkward.mbox", Options{})
	atts := res[3].item.Attachments
	if len(atts) != 3 {
		t.Fatalf("%d attachments, want 3", len(atts))
	}
	if !bytes.HasPrefix(atts[0].Data, []byte("\x89PNG")) || string(atts[1].Data) != "%PDF-1.4 fake" {
		t.Errorf("attachment data not decoded: %q, %q", atts[0].Data, atts[1].Data)
	}
	if !bytes.Contains(atts[2].Data, []byte("inner body")) {
		t.Errorf("message/rfc822 data %q", atts[2].Data)
	}
	if string(res[3].item.Meta) != `{"in_reply_to":"enc-1@example.org","message_id":"nested-4@shop.test"}` {
		t.Errorf("meta %s", res[3].item.Meta)
	}
}

func TestMaxAttachments(t *testing.T) {
	for _, tt := range []struct {
		max, kept int
		meta      string
	}{
		{max: 1, kept: 1, meta: `"attachments_dropped":2`},
		{max: -1, kept: 0, meta: `"attachments_dropped":3`},
		{max: 0, kept: 3},
	} {
		res := readFile(t, "awkward.mbox", Options{MaxAttachments: tt.max})
		it := res[3].item
		if len(it.Attachments) != tt.kept || !strings.Contains(string(it.Meta), tt.meta) {
			t.Errorf("MaxAttachments %d: kept %d, meta %s; want %d, %s", tt.max, len(it.Attachments), it.Meta, tt.kept, tt.meta)
		}
	}
}

func TestCRLF(t *testing.T) {
	res := readFile(t, "crlf.mbox", Options{})
	if len(res) != 2 || res[0].err != nil || res[1].err != nil {
		t.Fatalf("results %+v", res)
	}
	a, b := res[0].item, res[1].item
	if a.Subject != "CRLF é" || a.Body != "Regel een die doorloopt.\nTweede regel." {
		t.Errorf("first: subject %q body %q", a.Subject, a.Body)
	}
	if b.Pos.Line != 13 || b.Body != "tweede bericht" || b.Pos.Offset <= a.Pos.Offset {
		t.Errorf("second: pos %+v body %q", b.Pos, b.Body)
	}
}

func TestTruncated(t *testing.T) {
	res := readFile(t, "truncated.mbox", Options{})
	if len(res) != 2 || res[1].err != nil {
		t.Fatalf("results %+v", res)
	}
	it := res[1].item
	if it.Body != "the text before the cut" || !strings.Contains(string(it.Meta), `"incomplete":true`) {
		t.Errorf("body %q meta %s", it.Body, it.Meta)
	}
}

func TestTooLarge(t *testing.T) {
	var b strings.Builder
	msg := func(id, body string) {
		b.WriteString("From x@example.org Mon Mar  4 10:00:00 2024\nFrom: x@example.org\nTo: support@shop.test\n" +
			"Date: Mon, 4 Mar 2024 10:00:00 +0000\nMessage-ID: <" + id + ">\n\n" + body + "\n\n")
	}
	msg("small-1", "short")
	msg("big-2", strings.Repeat("a long line of text\n", 200))
	msg("small-3", "short again")
	r, err := NewReader(strings.NewReader(b.String()), "big.mbox", Options{Mailboxes: []string{"support@shop.test"}, MaxMessageBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	res := readAll(t, r)
	if len(res) != 3 {
		t.Fatalf("%d results, want 3", len(res))
	}
	if res[0].item.SourceID != "mbox:small-1" || res[2].item.SourceID != "mbox:small-3" {
		t.Errorf("neighbours of the big message: %q, %q", res[0].item.SourceID, res[2].item.SourceID)
	}
	if res[1].err == nil || !strings.Contains(res[1].err.Reason, "MaxMessageBytes") || res[1].err.Pos.Record != 2 {
		t.Errorf("big message: %+v", res[1])
	}
	if res[2].item.Pos.Record != 3 || res[2].item.Pos.Line != 217 {
		t.Errorf("after the big message: pos %+v", res[2].item.Pos)
	}
}

func TestBareMessageAndLongLines(t *testing.T) {
	long := strings.Repeat("x", 200<<10)
	in := "\n\nFrom: Ann <ann@example.org>\nTo: support@shop.test\nDate: Mon, 4 Mar 2024 10:00:00 +0000\n" +
		"X-Long: " + long + "\n\n" + long + "\nend\n"
	r, err := NewReader(strings.NewReader(in), "one.eml", Options{Mailboxes: []string{"support@shop.test"}})
	if err != nil {
		t.Fatal(err)
	}
	res := readAll(t, r)
	if len(res) != 1 || res[0].err != nil {
		t.Fatalf("results %+v", res)
	}
	it := res[0].item
	if it.Pos.Line != 3 || it.Pos.Offset != 2 || it.Customer != "ann@example.org" || !strings.HasSuffix(it.Body, long+"\nend") {
		t.Errorf("pos %+v customer %q body length %d", it.Pos, it.Customer, len(it.Body))
	}
}

func TestEmptyInput(t *testing.T) {
	for _, in := range []string{"", "\n\n", "From x@example.org Mon Mar  4 10:00:00 2024\n"} {
		r, err := NewReader(strings.NewReader(in), "e", Options{Mailboxes: []string{"@shop.test"}})
		if err != nil {
			t.Fatal(err)
		}
		res := readAll(t, r)
		if in == "" || in == "\n\n" {
			if len(res) != 0 {
				t.Errorf("%q: %d results", in, len(res))
			}
			continue
		}
		if len(res) != 1 || res[0].err == nil || res[0].err.Reason != "empty message" {
			t.Errorf("%q: %+v", in, res)
		}
	}
}

func TestOptions(t *testing.T) {
	for _, tt := range []struct {
		opts Options
		ok   bool
	}{
		{Options{}, false},
		{Options{Mailboxes: []string{"not an address"}}, false},
		{Options{Mailboxes: []string{"@"}}, false},
		{Options{Mailboxes: []string{"a@b.example"}, MaxMessageBytes: -1}, false},
		{Options{Mailboxes: []string{"a@b.example", "@c.example"}}, true},
	} {
		_, err := NewReader(strings.NewReader(""), "x", tt.opts)
		if (err == nil) != tt.ok {
			t.Errorf("%+v: err %v", tt.opts, err)
		}
		if err != nil && strings.Contains(err.Error(), "not an address") && tt.opts.Mailboxes[0] == "not an address" &&
			strings.Contains(err.Error(), tt.opts.Mailboxes[0]+"\"") {
			t.Errorf("error quotes the value: %v", err)
		}
	}
}

func TestDirection(t *testing.T) {
	tests := []struct {
		name, from, to, cc string
		mailboxes          []string
		dir, customer      string
		agent              string
	}{
		{"inbound", "Ann <Ann@Example.ORG>", "support@shop.test", "", []string{"support@shop.test"}, "inbound", "ann@example.org", ""},
		{"outbound to", "Bob <support@shop.test>", "ann@example.org", "", []string{"support@shop.test"}, "outbound", "ann@example.org", "Bob"},
		{"outbound skips company", "support@shop.test", "sales@shop.test, ann@example.org", "", []string{"@shop.test"}, "outbound", "ann@example.org", "support@shop.test"},
		{"outbound cc", "support@SHOP.test", "sales@shop.test", "Carl <carl@example.org>", []string{"@shop.test"}, "outbound", "carl@example.org", "support@SHOP.test"},
		{"broken address list", `Dr. D. Smith, Jr. <d@example.org>`, "support@shop.test", "", []string{"@shop.test"}, "inbound", "d@example.org", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := "From: " + tt.from + "\nTo: " + tt.to + "\n"
			if tt.cc != "" {
				in += "Cc: " + tt.cc + "\n"
			}
			in += "Date: Mon, 4 Mar 2024 10:00:00 +0000\n\nhi\n"
			r, err := NewReader(strings.NewReader(in), "d", Options{Mailboxes: tt.mailboxes})
			if err != nil {
				t.Fatal(err)
			}
			it, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			if it.Direction != tt.dir || it.Customer != tt.customer || it.Agent != tt.agent {
				t.Errorf("got %q %q %q, want %q %q %q", it.Direction, it.Customer, it.Agent, tt.dir, tt.customer, tt.agent)
			}
		})
	}
}

// TestErrorsHaveNoPersonalData checks that record errors never quote what the messages say.
func TestErrorsHaveNoPersonalData(t *testing.T) {
	secret := "geheim.persoon"
	inputs := []string{
		"From: " + secret + "@shop.test\nTo: sales@shop.test\nSubject: " + secret + "\n\nbody " + secret + "\n",
		"From: " + secret + "@example.org\nSubject: " + secret + "\nDate: " + secret + "\n\n" + secret + "\n",
		"From: " + secret + "\n\n" + secret + "\n",
		secret + " no header\n\n" + secret,
	}
	for _, in := range inputs {
		r, err := NewReader(strings.NewReader(in), "p", Options{Mailboxes: []string{"@shop.test"}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Next()
		if err == nil {
			t.Errorf("%q: no error", in)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error quotes personal data: %v", err)
		}
	}
}

func TestFromLineDate(t *testing.T) {
	for _, tt := range []struct {
		line string
		want string
	}{
		{"From a@b.example Mon Mar  4 10:00:00 2024\n", "2024-03-04T10:00:00Z"},
		{"From MAILER-DAEMON Fri Jul 8 12:08:34 2011\r\n", "2011-07-08T12:08:34Z"},
		{"From - Thu Jun 01 09:00:00 2006\n", "2006-06-01T09:00:00Z"},
		{"From a@b.example Mon Mar  4 10:00:00 2024 +0200\n", "2024-03-04T10:00:00+02:00"},
		{"From the body of a letter, not a date\n", ""},
		{"From a@b\n", ""},
	} {
		got := fromLineDate([]byte(tt.line))
		if tt.want == "" {
			if !got.IsZero() {
				t.Errorf("%q: got %v, want none", tt.line, got)
			}
			continue
		}
		want, _ := time.Parse(time.RFC3339, tt.want)
		if !got.Equal(want) {
			t.Errorf("%q: got %v, want %v", tt.line, got, want)
		}
	}
}

func TestHTMLToText(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"<p>a</p><p>b</p>", "a\n\nb"},
		{"x&lt;y &eacute; <b>bold</b>  word", "x<y é bold word"},
		{"<pre>  a\n  b</pre>", "a\n  b"},
		{"line<br>next<br/>third", "line\nnext\nthird"},
		{"<head><title>t</title></head><script>var x;</script>body", "body"},
		{"<table><tr><td>a</td><td>b</td></tr></table>", "a\tb"},
		{"broken <b", "broken"},
		{"<html><head><title>t</title><body>open head", "open head"},
		{"<li> one </li><li>two</li>", "- one\n- two"},
	} {
		if got := htmlToText(tt.in); got != tt.want {
			t.Errorf("htmlToText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestUnflow(t *testing.T) {
	for _, tt := range []struct {
		in    string
		delsp bool
		want  string
	}{
		{"a \nb\nc", false, "a b\nc"},
		{"a \nb", true, "ab"},
		{"> q1 \n> q2\nnot quoted", false, "> q1 q2\nnot quoted"},
		{" From stuffed", false, "From stuffed"},
		{"-- \nsig", false, "-- \nsig"},
	} {
		if got := unflow(tt.in, tt.delsp); got != tt.want {
			t.Errorf("unflow(%q, %v) = %q, want %q", tt.in, tt.delsp, got, tt.want)
		}
	}
}

func TestDecodeBase64(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"aGVsbG8=\n", "hello", true},
		{"aGVs\r\nbG8\n", "hello", true},
		{"aGV sbG8=trailing junk", "hello", true},
		{"aGVsbG8gd", "hello ", false},
	} {
		got, err := decodeBase64([]byte(tt.in))
		if string(got) != tt.want || (err == nil) != tt.ok {
			t.Errorf("decodeBase64(%q) = %q, %v; want %q ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

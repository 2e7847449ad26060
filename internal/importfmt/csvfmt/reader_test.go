package csvfmt

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"contactstore/internal/importfmt"
)

type result struct {
	item importfmt.Item
	err  *importfmt.RecordError
}

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
	r, err := NewReader(f, name, opts)
	if err != nil {
		t.Fatal(err)
	}
	return readAll(t, r)
}

func TestContacts(t *testing.T) {
	res := readFile(t, "contacts.csv", Options{})
	if len(res) != 13 {
		t.Fatalf("%d results, want 13", len(res))
	}
	tm := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name      string
		line      int
		want      importfmt.Item // Pos, SourceID of digests and Meta are checked apart
		meta      string
		errReason string
	}{
		{name: "full row, multi-line body", line: 2, meta: `{"Status":"open"}`, want: importfmt.Item{
			SourceID: "csv:1", Customer: "cust-1", Time: tm("2024-03-04T10:00:00+01:00"), Channel: "email",
			Direction: "inbound", Category: "billing", Agent: "Dana", Subject: "Invoice",
			Body: "Multi-line body,\nwith a comma and \"quotes\"", Email: "ann@example.org", Rating: 8,
			Tags: []string{"billing", "urgent"}}},
		{name: "local time, synonyms", line: 4, meta: `{"Status":"closed"}`, want: importfmt.Item{
			SourceID: "csv:2", Customer: "cust-2", Time: tm("2024-03-04T11:00:00Z"), Channel: "phone",
			Direction: "outbound", Agent: "Dana", Body: "Short", Phone: "+31 20 123 4567"}},
		{name: "bad time", line: 5, errReason: "time: not in a known layout"},
		{name: "bad rating", line: 6, errReason: "rating: not a whole number"},
		{name: "too few fields", line: 7, errReason: "5 fields, the header has 15"},
		{name: "customer from email, unix time", line: 9, want: importfmt.Item{
			SourceID: "csv:6", Customer: "bob@example.org", Time: time.Unix(1709550000, 0).UTC(), Channel: "phone",
			Direction: "inbound", Body: "x", Email: "Bob@Example.ORG"}},
		{name: "no customer", line: 10, errReason: "customer: empty"},
		{name: "empty time", line: 11, errReason: "time: empty"},
		{name: "windows-1252", line: 12, meta: `{"Status":"été"}`, want: importfmt.Item{
			SourceID: "csv:9", Customer: "cust-9", Time: tm("2024-03-04T00:00:00Z"), Channel: "letter",
			Direction: "internal", Body: "café crème", Rating: 7}},
		{name: "no id", line: 13, want: importfmt.Item{SourceID: "csv:sha256:", Customer: "cust-10",
			Time: tm("2024-03-05T00:00:00Z"), Channel: "other", Body: "duplicate"}},
		{name: "duplicate without id", line: 14, want: importfmt.Item{SourceID: "csv:sha256:", Customer: "cust-10",
			Time: tm("2024-03-05T00:00:00Z"), Channel: "other", Body: "duplicate"}},
		{name: "bare quote", line: 15, errReason: "extraneous or missing"},
		{name: "after an error", line: 16, want: importfmt.Item{SourceID: "csv:13", Customer: "cust-13",
			Time: tm("2024-03-05T00:00:00Z"), Channel: "email", Body: "last"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := res[i]
			if tt.errReason != "" {
				if r.err == nil {
					t.Fatalf("got an item, want a RecordError %q", tt.errReason)
				}
				if !strings.Contains(r.err.Reason, tt.errReason) || r.err.Pos.Line != tt.line || r.err.Pos.Record != i+1 {
					t.Errorf("got %v (pos %+v), want %q at line %d record %d", r.err, r.err.Pos, tt.errReason, tt.line, i+1)
				}
				return
			}
			if r.err != nil {
				t.Fatalf("unexpected error %v", r.err)
			}
			got := r.item
			if got.Pos.Line != tt.line || got.Pos.Record != i+1 || got.Pos.File != "contacts.csv" {
				t.Errorf("pos %+v, want line %d record %d", got.Pos, tt.line, i+1)
			}
			if string(got.Meta) != tt.meta {
				t.Errorf("meta %s, want %s", got.Meta, tt.meta)
			}
			if strings.HasPrefix(tt.want.SourceID, "csv:sha256:") {
				if !strings.HasPrefix(got.SourceID, tt.want.SourceID) || len(got.SourceID) != len("csv:sha256:")+64 {
					t.Errorf("SourceID %q", got.SourceID)
				}
				tt.want.SourceID = got.SourceID
			}
			got.Pos, got.Meta = importfmt.Position{}, nil
			if !equalItems(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
	if res[9].item.SourceID != res[10].item.SourceID {
		t.Error("identical rows without id got different ids")
	}
	if res[1].item.Pos.Offset <= res[0].item.Pos.Offset || res[0].item.Pos.Offset != 3+int64(len("ID,Customer,Time,Channel,Direction,Category,Agent,Subject,Body,Email,Phone,Rating,Tags,Status,Empty\r\n")) {
		t.Errorf("offsets %d, %d", res[0].item.Pos.Offset, res[1].item.Pos.Offset)
	}
}

func equalItems(a, b importfmt.Item) bool {
	return a.SourceID == b.SourceID && a.Customer == b.Customer && a.Time.Equal(b.Time) && a.Channel == b.Channel &&
		a.Direction == b.Direction && a.Category == b.Category && a.Agent == b.Agent && a.Subject == b.Subject &&
		a.Body == b.Body && a.Email == b.Email && a.Phone == b.Phone && a.Rating == b.Rating &&
		strings.Join(a.Tags, "\x00") == strings.Join(b.Tags, "\x00") && len(a.Attachments) == 0
}

func TestNLExcel(t *testing.T) {
	m, err := ParseMapping("customer=Klantnummer, time=Datum,subject=Onderwerp,body=Bericht,email=E-mailadres,rating=cijfer")
	if err != nil {
		t.Fatal(err)
	}
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Skip("no time zone database")
	}
	res := readFile(t, "nl-excel.csv", Options{Mapping: m, Comma: ';', Location: ams})
	if len(res) != 2 || res[0].err != nil || res[1].err != nil {
		t.Fatalf("results %+v", res)
	}
	a, b := res[0].item, res[1].item
	if a.Customer != "K1" || a.Body != "Waar blijft mijn pakket; al een week" || a.Rating != 7 || a.Email != "k1@voorbeeld.nl" {
		t.Errorf("first %+v", a)
	}
	if want := time.Date(2024, 3, 4, 8, 15, 0, 0, time.UTC); !a.Time.Equal(want) {
		t.Errorf("time %v, want %v", a.Time, want)
	}
	if b.Body != "Te hoog bedrag € 12" || b.Rating != 0 || a.Meta != nil {
		t.Errorf("second %+v", b)
	}
}

func TestTimeLayout(t *testing.T) {
	in := "customer,time\nc,03/04/2024 10:00\nc,2024-03-04\n"
	r, err := NewReader(strings.NewReader(in), "t", Options{TimeLayout: "01/02/2006 15:04"})
	if err != nil {
		t.Fatal(err)
	}
	res := readAll(t, r)
	if res[0].err != nil || !res[0].item.Time.Equal(time.Date(2024, 3, 4, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("first %+v", res[0])
	}
	if res[1].err == nil {
		t.Error("a time in another layout than TimeLayout was accepted")
	}
}

func TestDigestIgnoresColumnOrder(t *testing.T) {
	ids := map[string]bool{}
	for _, in := range []string{
		"customer,body,x\nc,hello,1\n",
		"x,body,customer\n1,hello,c\n",
		"x,body,customer,empty\n1,hello,c,\n",
	} {
		r, err := NewReader(strings.NewReader(in), "d", Options{})
		if err != nil {
			t.Fatal(err)
		}
		it, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		ids[it.SourceID] = true
	}
	if len(ids) != 1 {
		t.Errorf("ids %v, want one", ids)
	}
}

func TestNewReaderErrors(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		opts     Options
		want     string
	}{
		{"empty", "", Options{}, "no header"},
		{"no customer column", "time,body\n", Options{}, "no column for the customer"},
		{"unknown column", "customer\n", Options{Mapping: map[string]string{"body": "Tekst"}}, `column "Tekst" (for body) is not in the header`},
		{"unknown field", "customer\n", Options{Mapping: map[string]string{"colour": "customer"}}, `unknown field "colour"`},
		{"duplicate column", "customer,Customer\n", Options{}, "appears twice"},
		{"bad comma", "customer\n", Options{Comma: '"'}, "Comma"},
		{"unmapped customer", "customer\n", Options{Mapping: map[string]string{"customer": ""}}, "no column for the customer"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReader(strings.NewReader(tt.in), "x", tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want %q", err, tt.want)
			}
		})
	}
}

func TestParseMapping(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want map[string]string
		err  bool
	}{
		{"", map[string]string{}, false},
		{"time=Date, customer = Email Address ,body=", map[string]string{"time": "Date", "customer": "Email Address", "body": ""}, false},
		{"TIME=Date", map[string]string{"time": "Date"}, false},
		{"time", nil, true},
		{"=Date", nil, true},
		{"when=Date", nil, true},
		{"time=A,time=B", nil, true},
	} {
		got, err := ParseMapping(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("ParseMapping(%q) error %v", tt.in, err)
			continue
		}
		if len(got) != len(tt.want) {
			t.Errorf("ParseMapping(%q) = %v, want %v", tt.in, got, tt.want)
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("ParseMapping(%q)[%s] = %q, want %q", tt.in, k, got[k], v)
			}
		}
	}
}

func TestUTF16(t *testing.T) {
	in := "\uFEFFcustomer,body\r\nc1,héllo\r\n"
	var b []byte
	for _, r := range in {
		b = append(b, byte(r), byte(r>>8))
	}
	r, err := NewReader(strings.NewReader(string(b)), "u", Options{})
	if err != nil {
		t.Fatal(err)
	}
	it, err := r.Next()
	if err != nil || it.Customer != "c1" || it.Body != "héllo" || it.Pos.Offset != -1 {
		t.Errorf("%+v, %v", it, err)
	}
}

func TestMaxRecordBytes(t *testing.T) {
	in := "customer,body\nc1,ok\nc2,\"" + strings.Repeat("unterminated ", 20000)
	r, err := NewReader(strings.NewReader(in), "m", Options{MaxRecordBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	_, err = r.Next()
	var re *importfmt.RecordError
	if err == nil || errors.As(err, &re) || !errors.Is(err, errRecordTooLong) {
		t.Errorf("err %v, want a fatal errRecordTooLong", err)
	}
}

func TestErrorsHaveNoPersonalData(t *testing.T) {
	secret := "geheim.persoon@example.org"
	in := "customer,time,rating,body\n" +
		secret + "," + secret + ",1,x\n" +
		secret + ",2024-03-04," + secret + ",x\n" +
		secret + ",2024-03-04\n" +
		"\"" + secret + "\"x,2024-03-04,1,x\n"
	r, err := NewReader(strings.NewReader(in), "p", Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err == nil {
			t.Error("a bad row was accepted")
			continue
		}
		n++
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "geheim") {
			t.Errorf("error quotes personal data: %v", err)
		}
	}
	if n != 4 {
		t.Errorf("%d errors, want 4", n)
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{"E-Mail": "email", "Call": "phone", "fax": "other", "": ""} {
		if got := normalizeChannel(in); got != want {
			t.Errorf("channel %q -> %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"Incoming": "inbound", "SENT": "outbound", "note": "internal", "?": ""} {
		if got := normalizeDirection(in); got != want {
			t.Errorf("direction %q -> %q, want %q", in, got, want)
		}
	}
	for _, tt := range []struct {
		in, sep string
		want    string
	}{
		{"a, b;c,,a", "", "a|b|c"},
		{"a|b, c", "|", "a|b, c"},
		{"", "", ""},
	} {
		if got := strings.Join(splitTags(tt.in, tt.sep), "|"); got != tt.want {
			t.Errorf("splitTags(%q, %q) = %q, want %q", tt.in, tt.sep, got, tt.want)
		}
	}
	for in, want := range map[string]int{"": 0, "1": 1, "10": 10, "7.0": 7, "7,0": 7} {
		if got, ok := parseRating(in); !ok || got != want {
			t.Errorf("rating %q -> %d %v", in, got, ok)
		}
	}
	for _, in := range []string{"0", "11", "7.5", "x", "-1"} {
		if _, ok := parseRating(in); ok {
			t.Errorf("rating %q accepted", in)
		}
	}
}

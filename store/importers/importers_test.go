package importers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"contactstore/store"
)

const csvMap = "id=Ticket,customer=Klant,time=Datum,channel=Kanaal,direction=Richting,category=Soort," +
	"subject=Onderwerp,body=Bericht,rating=Cijfer,tags=Labels"

func csvOptions(t testing.TB) CSVOptions {
	m, err := ParseMapping(csvMap)
	if err != nil {
		t.Fatal(err)
	}
	return CSVOptions{Mapping: m, Comma: ';', TimeLayout: "02-01-2006 15:04"}
}

// formatCase is one fixture of one format and what importing it must give.
type formatCase struct {
	name     string
	inputs   []Input
	opts     Options
	read     int
	added    int
	replaced int
	problems []string
	check    func(t *testing.T, s *store.Store)
}

func formatCases(t *testing.T) []formatCase {
	return []formatCase{
		{
			name: "jsonl", inputs: fixture("contacts.jsonl"), opts: Options{Format: JSONL},
			read: 3, added: 3,
			problems: []string{"testdata/contacts.jsonl:2", "testdata/contacts.jsonl:5"},
			check: func(t *testing.T, s *store.Store) {
				c := byID(t, s, "cust-1", "j-1")
				if !c.Time.Equal(time.Date(2025, 1, 2, 9, 0, 0, 0, time.UTC)) || c.Category != "Billing" || c.Body != "first" {
					t.Errorf("j-1 = %+v", c)
				}
				c = byID(t, s, "cust-2", "j-5")
				if c.Rating != 7 {
					t.Errorf("j-5 rating = %d", c.Rating)
				}
				if c := byID(t, s, "cust-2", "j-3"); string(c.Meta) != `{"k":1}` || !slices.Equal(c.Tags, []string{"a", "b"}) {
					t.Errorf("j-3 = %+v", c)
				}
			},
		},
		{
			name: "mbox", inputs: fixture("mail.mbox"), opts: Options{Format: MBox, Mailboxes: []string{"@acme.test"}},
			read: 4, added: 3, replaced: 1, // the last message is a copy of the first
			problems: []string{"testdata/mail.mbox:53 (record 4)"},
			check: func(t *testing.T, s *store.Store) {
				cs := contactsOf(t, s, "jose.garcia@example.org")
				if len(cs) != 2 {
					t.Fatalf("jose has %d contacts, want 2 (the copy replaces the original)", len(cs))
				}
				in := cs[0]
				if in.ID != "mbox:m1@example.org" || in.Direction != "inbound" || in.Channel != "email" ||
					in.Subject != "Reclamatie: café machine" || in.Email != "Jose.Garcia@Example.ORG" ||
					!in.Time.Equal(time.Date(2024, 3, 4, 9, 0, 0, 0, time.UTC)) || in.Time.Location() != time.UTC {
					t.Errorf("inbound = %+v", in)
				}
				if !strings.Contains(in.Body, "het café lekt. Een hele lange regel die zacht is afgebroken.") {
					t.Errorf("quoted-printable latin-1 body = %q", in.Body)
				}
				if len(in.Attachments) != 1 || in.Attachments[0].Name != "bon.pdf" || in.Attachments[0].Type != "application/pdf" ||
					!bytes.HasPrefix(in.Attachments[0].Data, []byte("%PDF-1.4")) {
					t.Errorf("attachments = %+v", in.Attachments)
				}
				out := cs[1]
				if out.Direction != "outbound" || out.Agent != "Dana van Acme" || out.Body != "Beste José, wij sturen een nieuw apparaat € 0,00.\nFrom now on it works." {
					t.Errorf("outbound = %+v", out)
				}
				kim := contactsOf(t, s, "kim@example.net")
				if len(kim) != 1 || !strings.HasPrefix(kim[0].ID, "mbox:sha256:") {
					t.Errorf("kim = %+v", kim)
				}
			},
		},
		{
			name: "csv", inputs: fixture("contacts.csv"), opts: Options{Format: CSV, CSV: csvOptions(t)},
			read: 3, added: 2, replaced: 1, // T-2 twice: the second row wins
			problems: []string{"testdata/contacts.csv:5 (record 3)", "testdata/contacts.csv:6 (record 4)", "testdata/contacts.csv:7 (record 5)"},
			check: func(t *testing.T, s *store.Store) {
				c := byID(t, s, "klant-1", "csv:T-1")
				if c.Channel != "email" || c.Direction != "inbound" || c.Category != "Billing" || c.Rating != 8 ||
					!slices.Equal(c.Tags, []string{"factuur", "urgent"}) || !strings.Contains(string(c.Meta), `"Extra":"x"`) ||
					!c.Time.Equal(time.Date(2024, 3, 4, 10, 0, 0, 0, time.UTC)) {
					t.Errorf("T-1 = %+v", c)
				}
				if c := byID(t, s, "klant-1", "csv:T-2"); c.Body != "Gecorrigeerd" || c.Channel != "phone" || c.Direction != "outbound" {
					t.Errorf("T-2 = %+v", c)
				}
			},
		},
		{
			name: "zendesk", inputs: fixture("zendesk/tickets.json", "zendesk/comments.jsonl"), opts: Options{Format: Zendesk},
			read: 5, added: 4, replaced: 1,
			problems: []string{"testdata/zendesk/tickets.json: record 3", "testdata/zendesk/tickets.json: record 4", "testdata/zendesk/comments.jsonl: record 4"},
			check: func(t *testing.T, s *store.Store) {
				cs := contactsOf(t, s, "zendesk:user:9001")
				if len(cs) != 3 {
					t.Fatalf("requester has %d contacts, want 3", len(cs))
				}
				if c := cs[0]; c.ID != "zendesk:comment:5001" || c.Rating != 10 || c.Email != "piet@example.org" || c.Category != "question" ||
					len(c.Attachments) != 1 || c.Attachments[0].Name != "foto.jpg" {
					t.Errorf("first comment = %+v", c)
				}
				if c := cs[1]; c.Body != "Heeft u de stekker gecontroleerd? (bewerkt)" || c.Direction != "outbound" || c.Agent != "zendesk:user:7" {
					t.Errorf("second comment = %+v", c)
				}
				if cs[2].Direction != "internal" {
					t.Errorf("private comment direction = %q", cs[2].Direction)
				}
				if c := byID(t, s, "zendesk:user:9002", "zendesk:ticket:102"); c.Channel != "web" || c.Category != "incident" {
					t.Errorf("ticket without comments = %+v", c)
				}
			},
		},
		{
			name: "freshdesk", inputs: fixture("freshdesk/conversations.json", "freshdesk/tickets.json"), opts: Options{Format: Freshdesk},
			read: 5, added: 5,
			problems: []string{"testdata/freshdesk/conversations.json: record 4", "testdata/freshdesk/conversations.json: record 5", "testdata/freshdesk/tickets.json: record 3"},
			check: func(t *testing.T, s *store.Store) {
				cs := contactsOf(t, s, "freshdesk:contact:3001")
				if len(cs) != 4 {
					t.Fatalf("requester has %d contacts, want 4", len(cs))
				}
				if c := cs[0]; c.ID != "freshdesk:ticket:1" || c.Body != "Waar is mijn bestelling?" || c.Category != "Refund" || c.Channel != "email" {
					t.Errorf("ticket = %+v", c)
				}
				if c := byID(t, s, "freshdesk:contact:3001", "freshdesk:conversation:12"); c.Direction != "inbound" || c.Email != "an@example.org" {
					t.Errorf("incoming conversation = %+v", c)
				}
				if c := byID(t, s, "freshdesk:contact:3002", "freshdesk:ticket:2"); c.Channel != "phone" || c.Category != "Billing" {
					t.Errorf("phone ticket = %+v", c)
				}
			},
		},
		{
			name: "helpscout", inputs: fixture("helpscout.json"),
			opts: Options{Format: HelpScout, HelpScoutMailboxes: map[string]string{"55": "Returns"}},
			read: 3, added: 3,
			problems: []string{"testdata/helpscout.json: record 1"},
			check: func(t *testing.T, s *store.Store) {
				cs := contactsOf(t, s, "helpscout:customer:4001")
				if len(cs) != 2 {
					t.Fatalf("customer has %d contacts, want 2 (the line item is not a contact)", len(cs))
				}
				if c := cs[0]; c.Body != "Ik wil dit écht retourneren." || c.Direction != "inbound" || c.Category != "Returns" ||
					!slices.Equal(c.Tags, []string{"retour"}) {
					t.Errorf("customer thread = %+v", c)
				}
				if c := cs[1]; c.Direction != "outbound" || c.Agent != "helpscout:user:12" {
					t.Errorf("reply = %+v", c)
				}
				if c := byID(t, s, "helpscout:customer:4002", "helpscout:thread:9101"); c.Channel != "chat" || c.Category != "Sales" {
					t.Errorf("chat = %+v", c)
				}
			},
		},
	}
}

// TestImportFormats imports each fixture with SkipInvalid, checks the counts and the
// problems' positions, reads the contacts back, and imports again: nothing is added.
func TestImportFormats(t *testing.T) {
	ctx := context.Background()
	for _, tc := range formatCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			s := openMem(t)
			opts := tc.opts
			opts.SkipInvalid = true
			res, err := Import(ctx, s, tc.inputs, opts)
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			if res.Read != tc.read || res.Added != tc.added || res.Replaced != tc.replaced || res.Expired != 0 {
				t.Errorf("read %d added %d replaced %d expired %d, want %d %d %d 0", res.Read, res.Added, res.Replaced, res.Expired, tc.read, tc.added, tc.replaced)
			}
			if got := positions(res.Problems); !slices.Equal(got, tc.problems) {
				t.Errorf("problems at %q, want %q", got, tc.problems)
			}
			if res.ProblemCount != len(tc.problems) || res.Skipped != len(tc.problems) {
				t.Errorf("problem count %d, skipped %d, want %d", res.ProblemCount, res.Skipped, len(tc.problems))
			}
			for _, p := range res.Problems {
				if p.Reason == "" {
					t.Errorf("problem at %s without a reason", p.Position())
				}
			}
			var size int64
			for _, in := range tc.inputs {
				size += in.Size
			}
			if tc.opts.Format.twoPass() {
				size *= 2
			}
			if res.Bytes != size {
				t.Errorf("bytes read %d, want %d", res.Bytes, size)
			}
			tc.check(t, s)
			before := stats(t, s).Contacts
			if before != int64(tc.added) {
				t.Errorf("stats: %d contacts, want %d", before, tc.added)
			}

			// A second import replaces every contact and adds none.
			again, err := Import(ctx, s, tc.inputs, opts)
			if err != nil {
				t.Fatalf("re-import: %v", err)
			}
			if again.Added != 0 || again.Replaced != tc.read {
				t.Errorf("re-import: added %d replaced %d, want 0 and %d", again.Added, again.Replaced, tc.read)
			}
			if after := stats(t, s).Contacts; after != before {
				t.Errorf("re-import changed the count: %d -> %d", before, after)
			}
			tc.check(t, s)
		})
	}
}

// TestStopAtProblem: without SkipInvalid the import stops at the first problem, with every
// contact before it committed (whatever the batch size) and none after it.
func TestStopAtProblem(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name       string
		inputs     []Input
		opts       Options
		pos        string
		stored     map[string][]string // customer -> ids that must be there
		notStored  map[string][]string // customer -> ids that must not
		storedWant int
	}{
		{"jsonl", fixture("contacts.jsonl"), Options{}, "testdata/contacts.jsonl:2",
			map[string][]string{"cust-1": {"j-1"}}, map[string][]string{"cust-2": {"j-3", "j-5"}}, 1},
		{"csv", fixture("contacts.csv"), Options{Format: CSV, CSV: csvOptions(t)}, "testdata/contacts.csv:5 (record 3)",
			map[string][]string{"klant-1": {"csv:T-1", "csv:T-2"}}, map[string][]string{"klant-2": {"csv:T-5"}}, 2},
		{"mbox", fixture("mail.mbox"), Options{Format: MBox, Mailboxes: []string{"support@acme.test"}}, "testdata/mail.mbox:53 (record 4)",
			map[string][]string{"jose.garcia@example.org": {"mbox:m1@example.org", "mbox:r1@acme.test"}}, nil, 3},
	}
	for _, tc := range cases {
		for _, batch := range []int{1, 2, 1000} {
			t.Run(fmt.Sprintf("%s/batch%d", tc.name, batch), func(t *testing.T) {
				s := openMem(t)
				opts := tc.opts
				opts.BatchSize = batch
				res, err := Import(ctx, s, tc.inputs, opts)
				var pe *ProblemError
				if !errors.As(err, &pe) {
					t.Fatalf("err = %v, want a *ProblemError", err)
				}
				if pe.Position() != tc.pos || pe.Reason == "" {
					t.Errorf("stopped at %s (%q), want %s", pe.Position(), pe.Reason, tc.pos)
				}
				if res.Stored() != tc.storedWant || res.ProblemCount != 1 || res.Skipped != 0 {
					t.Errorf("stored %d, problems %d, skipped %d; want %d, 1, 0", res.Stored(), res.ProblemCount, res.Skipped, tc.storedWant)
				}
				for cu, ids := range tc.stored {
					for _, id := range ids {
						byID(t, s, cu, id)
					}
				}
				for cu, ids := range tc.notStored {
					for _, c := range contactsOf(t, s, cu) {
						if slices.Contains(ids, c.ID) {
							t.Errorf("%s stored after the problem", c.ID)
						}
					}
				}
				if n := stats(t, s).Contacts; n != int64(tc.storedWant) {
					t.Errorf("stats: %d contacts, want %d", n, tc.storedWant)
				}
			})
		}
	}
}

// TestNoValuesInProblems: problems and errors name fields and positions, never values.
func TestNoValuesInProblems(t *testing.T) {
	dir := t.TempDir()
	secret := "Geheim-Waarde-7731"
	write := func(name, data string) Input {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return File(p)
	}
	cases := []struct {
		name  string
		input Input
		opts  Options
	}{
		{"jsonl bad json", write("a.jsonl", `{"customer":"`+secret+`","time":`+secret+"}\n"), Options{}},
		{"jsonl bad channel", write("b.jsonl", `{"customer":"c","time":"2025-01-01T00:00:00Z","channel":"`+secret+`"}`+"\n"), Options{}},
		{"jsonl bad time", write("c.jsonl", `{"customer":"c","time":"`+secret+`"}`+"\n"), Options{}},
		{"csv bad time", write("d.csv", "customer,time,body\nc,"+secret+","+secret+"\n"), Options{Format: CSV}},
		{"csv bad rating", write("e.csv", "customer,time,rating\nc,2025-01-01,"+secret+"\n"), Options{Format: CSV}},
		{"zendesk bad time", write("f.json", `[{"id":1,"requester_id":2,"created_at":"`+secret+`"}]`), Options{Format: Zendesk}},
		{"helpscout bad json", write("g.json", `{"_embedded":{"conversations":[{"id":1,"subject":"`+secret+`"`), Options{Format: HelpScout}},
		{"mbox no date", write("h.mbox", "From nobody\nFrom: "+secret+"@x.test\nSubject: "+secret+"\n\n"+secret+"\n"), Options{Format: MBox, Mailboxes: []string{"@acme.test"}}},
		{"csv category too long", write("i.csv", "customer,time,category\nc,2025-01-01,"+strings.Repeat(secret, 200)+"\n"), Options{Format: CSV}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openMem(t)
			_, err := Import(context.Background(), s, []Input{tc.input}, tc.opts)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), strings.ToLower(secret)) {
				t.Errorf("error quotes a value: %v", err)
			}
			opts := tc.opts
			opts.SkipInvalid = true
			res, _ := Import(context.Background(), s, []Input{tc.input}, opts)
			for _, p := range res.Problems {
				if strings.Contains(p.String(), secret) {
					t.Errorf("problem quotes a value: %s", p)
				}
			}
		})
	}
}

// TestDuplicatesAcrossBatches: with one contact per batch and two Puts in flight, the last
// copy of a contact in the input is the one stored.
func TestDuplicatesAcrossBatches(t *testing.T) {
	var b strings.Builder
	for i := range 200 {
		b.WriteString(`{"id":"x","customer":"c","time":"2025-01-01T00:00:00Z","body":"v` + itoa(i) + `"}` + "\n")
		b.WriteString(`{"id":"y` + itoa(i%3) + `","customer":"c","time":"2025-01-0` + itoa(1+i%5) + `T00:00:00Z","body":"w` + itoa(i) + `"}` + "\n")
	}
	s := openMem(t)
	res, err := Import(context.Background(), s, []Input{Stream("dup", strings.NewReader(b.String()), -1)}, Options{BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 4 || res.Replaced != 396 {
		t.Errorf("added %d replaced %d, want 4 and 396", res.Added, res.Replaced)
	}
	want := map[string]string{"x": "v199", "y0": "w198", "y1": "w199", "y2": "w197"}
	cs := contactsOf(t, s, "c")
	if len(cs) != 4 {
		t.Fatalf("%d contacts, want 4", len(cs))
	}
	for _, c := range cs {
		if want[c.ID] != c.Body {
			t.Errorf("%s = %s, want %s", c.ID, c.Body, want[c.ID])
		}
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var d []byte
	for ; i > 0; i /= 10 {
		d = append([]byte{byte('0' + i%10)}, d...)
	}
	return string(d)
}

func TestCategories(t *testing.T) {
	m, err := ParseCategories("Billing=finance, Refund = finance,*=general")
	if err != nil {
		t.Fatal(err)
	}
	cm := newCategoryMap(m)
	for src, want := range map[string]string{"Billing": "finance", "billing": "finance", "REFUND": "finance", "Other": "general", "": "general", "*": "general"} {
		if got := cm.apply(src); got != want {
			t.Errorf("apply(%q) = %q, want %q", src, got, want)
		}
	}
	m, _ = ParseCategories("Billing=finance,=unsorted,Spam=")
	cm = newCategoryMap(m)
	for src, want := range map[string]string{"Billing": "finance", "Other": "Other", "": "unsorted", "Spam": ""} {
		if got := cm.apply(src); got != want {
			t.Errorf("without *: apply(%q) = %q, want %q", src, got, want)
		}
	}
	if got := (*categoryMap)(nil).apply("X"); got != "X" {
		t.Errorf("no mapping changed the category to %q", got)
	}
	for _, bad := range []string{"Billing", "a=b,a=c", "a=" + strings.Repeat("x", store.MaxShortField+1), "a=\xff"} {
		if _, err := ParseCategories(bad); err == nil {
			t.Errorf("ParseCategories(%q): no error", bad)
		}
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, []byte(`{"Billing":"finance","*":"general"}`), 0o600)
	if m, err := LoadCategories(good); err != nil || m["Billing"] != "finance" || m["*"] != "general" {
		t.Errorf("LoadCategories = %v, %v", m, err)
	}
	for name, data := range map[string]string{"array.json": `["a"]`, "number.json": `{"a":1}`, "null.json": `null`, "big.json": `{"a":"` + strings.Repeat("x", maxCategoriesFile) + `"}`} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(data), 0o600)
		if _, err := LoadCategories(p); err == nil {
			t.Errorf("LoadCategories(%s): no error", name)
		}
	}
	if _, err := LoadCategories(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("LoadCategories of a missing file: no error")
	}

	// Applied at import: CSV categories Billing/Refund/"" and Zendesk ticket types.
	s := openMem(t)
	opts := Options{Format: CSV, CSV: csvOptions(t), SkipInvalid: true, Categories: map[string]string{"billing": "finance", "*": "complaints"}}
	if _, err := Import(context.Background(), s, fixture("contacts.csv"), opts); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"csv:T-1": "finance", "csv:T-2": "complaints"} {
		if c := byID(t, s, "klant-1", id); c.Category != want {
			t.Errorf("%s category %q, want %q", id, c.Category, want)
		}
	}
	// Without a mapping an empty category is the store's default.
	s2 := openMem(t)
	in := Stream("x", strings.NewReader("customer,time\nc,2025-01-01\n"), -1)
	if _, err := Import(context.Background(), s2, []Input{in}, Options{Format: CSV}); err != nil {
		t.Fatal(err)
	}
	if cs := contactsOf(t, s2, "c"); len(cs) != 1 || cs[0].Category != store.DefaultCategory {
		t.Errorf("contacts %+v, want one in %q", cs, store.DefaultCategory)
	}
}

func TestFormatsAndOptions(t *testing.T) {
	for _, s := range []string{"", "jsonl", "MBOX", " csv ", "zendesk", "freshdesk", "helpscout"} {
		if _, err := ParseFormat(s); err != nil {
			t.Errorf("ParseFormat(%q): %v", s, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil {
		t.Error("ParseFormat(xml): no error")
	}
	s := openMem(t)
	ctx := context.Background()
	if _, err := Import(ctx, s, fixture("mail.mbox"), Options{Format: MBox}); err == nil || !strings.Contains(err.Error(), "mailboxes are required") {
		t.Errorf("mbox without mailboxes: %v", err)
	}
	if _, err := Import(ctx, s, nil, Options{}); err == nil {
		t.Error("no inputs: no error")
	}
	for _, f := range []Format{Zendesk, Freshdesk} {
		_, err := Import(ctx, s, []Input{Stream("stdin", strings.NewReader("[]"), -1)}, Options{Format: f})
		if !errors.Is(err, ErrSinglePass) || !strings.Contains(err.Error(), "stdin") {
			t.Errorf("%s from a stream: %v", f, err)
		}
	}
	in := Stream("once", strings.NewReader(""), 0)
	if rc, err := in.Open(); err != nil {
		t.Fatal(err)
	} else {
		rc.Close()
	}
	if _, err := in.Open(); !errors.Is(err, ErrSinglePass) {
		t.Errorf("second Open of a stream: %v", err)
	}
	// A CSV header that does not fit the mapping is fatal, whatever SkipInvalid says.
	_, err := Import(ctx, s, fixture("contacts.csv"), Options{Format: CSV, SkipInvalid: true})
	var ie *InputError
	if !errors.As(err, &ie) || ie.Name != "testdata/contacts.csv" {
		t.Errorf("csv without mapping: %v", err)
	}
}

// TestInputErrors: an input that fails stops the import after committing what came before.
func TestInputErrors(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	inputs := append(fixture("contacts.jsonl"), File("testdata/missing.jsonl"), File("testdata/contacts.jsonl"))
	res, err := Import(ctx, s, inputs, Options{SkipInvalid: true})
	var ie *InputError
	if !errors.As(err, &ie) || ie.Name != "testdata/missing.jsonl" || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want an InputError for the missing file", err)
	}
	if res.Added != 3 {
		t.Errorf("added %d, want the 3 of the first file", res.Added)
	}
	// Malformed JSON is fatal even with SkipInvalid.
	dir := t.TempDir()
	p := filepath.Join(dir, "page.json")
	os.WriteFile(p, []byte(`{"_embedded":{"conversations":[{"id":1,"primaryCustomer":{"id":2},"_embedded":{"threads":[{"id":3,"type":"customer","createdAt":"2024-01-01T00:00:00Z","body":"x"}]}}, {"id": x`), 0o600)
	res, err = Import(ctx, s, []Input{File(p)}, Options{Format: HelpScout, SkipInvalid: true})
	if !errors.As(err, &ie) {
		t.Fatalf("err = %v, want an InputError", err)
	}
	if res.Added != 1 {
		t.Errorf("added %d, want the thread before the broken JSON", res.Added)
	}
	// A cancelled context stops the import.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Import(cctx, s, fixture("contacts.jsonl"), Options{SkipInvalid: true}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestMaxProblemsAndProgress(t *testing.T) {
	var b strings.Builder
	b.WriteString("customer,time\n")
	for i := range 50 {
		if i%2 == 0 {
			b.WriteString("c" + itoa(i) + ",bad\n")
		} else {
			b.WriteString("c" + itoa(i) + ",2025-01-01\n")
		}
	}
	data := b.String()
	s := openMem(t)
	var calls []Progress
	opts := Options{Format: CSV, SkipInvalid: true, MaxProblems: 5, BatchSize: 4, Progress: func(p Progress) { calls = append(calls, p) }}
	res, err := Import(context.Background(), s, []Input{Stream("x.csv", strings.NewReader(data), int64(len(data)))}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) != 5 || res.ProblemCount != 25 || res.Skipped != 25 || res.Added != 25 {
		t.Errorf("problems %d of %d, skipped %d, added %d", len(res.Problems), res.ProblemCount, res.Skipped, res.Added)
	}
	if len(calls) == 0 {
		t.Fatal("Progress never called")
	}
	last := calls[len(calls)-1]
	if last.Bytes != int64(len(data)) || last.Total != int64(len(data)) || last.Records != 50 || last.Stored != 25 || last.Skipped != 25 {
		t.Errorf("final progress %+v", last)
	}
	opts.MaxProblems = -1
	res, _ = Import(context.Background(), s, []Input{Stream("x.csv", strings.NewReader(data), -1)}, opts)
	if len(res.Problems) != 0 || res.ProblemCount != 25 {
		t.Errorf("MaxProblems -1: kept %d of %d", len(res.Problems), res.ProblemCount)
	}
}

func TestProblemString(t *testing.T) {
	for _, tc := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "a.csv", Line: 3, Record: 2, Reason: "r"}, "a.csv:3 (record 2): r"},
		{Problem{File: "a.jsonl", Line: 3, Reason: "r"}, "a.jsonl:3: r"},
		{Problem{File: "a.mbox", Record: 9, Reason: "r"}, "a.mbox: record 9: r"},
		{Problem{Reason: "r"}, "input: r"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("%+v = %q, want %q", tc.p, got, tc.want)
		}
	}
	err := error(&ProblemError{Problem{File: "f", Line: 1, Reason: "r"}})
	if err.Error() != "importers: f:1: r" {
		t.Errorf("ProblemError = %q", err)
	}
}

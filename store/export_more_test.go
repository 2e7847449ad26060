package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"contactstore/internal/export"
	"contactstore/internal/keys"

	"filippo.io/age"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// exPut stores n contacts of one customer (mkContact) and fails the test on error.
func exPut(t testing.TB, s *Store, customer string, n int) {
	t.Helper()
	var cs []Contact
	for i := range n {
		cs = append(cs, mkContact(customer, i))
	}
	if _, err := s.Put(context.Background(), cs); err != nil {
		t.Fatal(err)
	}
}

// exVerify verifies a stream and returns its summary and contact lines decoded as Contacts.
func exVerify(t testing.TB, data []byte) (export.Summary, []Contact, error) {
	t.Helper()
	var cs []Contact
	sum, err := export.Verify(bytes.NewReader(data), func(l []byte) error {
		var c Contact
		if err := json.Unmarshal(l, &c); err != nil {
			return err
		}
		cs = append(cs, c)
		return nil
	})
	return sum, cs, err
}

// exAudit returns the audit entries naming a customer, after the first skip of them.
func exAudit(t testing.TB, s *Store, customer string) []AuditEntry {
	t.Helper()
	var out []AuditEntry
	for e, err := range s.Audit(context.Background(), customer) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// TestExportCountryClasses runs every class of destination through Export and CheckTransfer:
// the same decision both ways; a refusal writes nothing and carries a reason and a remedy;
// an allowed export verifies; every decision is audited with its reason and without the
// recipient's name.
func TestExportCountryClasses(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, vfs.NewMem())
	defer s.Close()
	exPut(t, s, "dora", 5)
	type tc struct {
		country    string
		dpf, comm  bool
		safeguard  string
		allowed    bool
		ground     string
		remedyHint string // a word the remedy must contain when refused
	}
	base := []tc{
		{country: "NL", allowed: true, ground: "eea"},
		{country: "DE", allowed: true, ground: "eea"},
		{country: "nl", allowed: true, ground: "eea"},
		{country: "NO", allowed: true, ground: "eea"},
		{country: "IS", allowed: true, ground: "eea"},
		{country: "LI", allowed: true, ground: "eea"},
		{country: "CH", allowed: true, ground: "adequacy"},
		{country: "GB", allowed: true, ground: "adequacy"},
		{country: "JP", comm: true, allowed: true, ground: "adequacy"},
		{country: "JP", remedyHint: "--commercial"},
		{country: "US", remedyHint: "--dpf"},
		{country: "US", dpf: true, allowed: true, ground: "adequacy-dpf"},
		{country: "US", comm: true, remedyHint: "--dpf"},
		{country: "US", safeguard: "scc", allowed: true, ground: "scc"},
		{country: "CA", remedyHint: "--commercial"},
		{country: "CA", dpf: true, remedyHint: "--commercial"},
		{country: "CA", comm: true, allowed: true, ground: "adequacy"},
		{country: "XX", remedyHint: "ISO 3166"},
		{country: "EU", remedyHint: "ISO 3166"},
	}
	for _, cc := range []string{"IN", "CN"} {
		base = append(base, tc{country: cc, remedyHint: "--safeguard"}, tc{country: cc, dpf: true, comm: true, remedyHint: "--safeguard"})
		for _, sg := range []string{"scc", "bcr", "consent", "legal-claims"} {
			base = append(base, tc{country: cc, safeguard: sg, allowed: true, ground: sg})
		}
		base = append(base, tc{country: cc, safeguard: " SCC ", allowed: true, ground: "scc"})
	}
	// Under an objection to transfers outside the EEA: the EEA stays open, nothing else.
	nonEEA := []tc{
		{country: "NL", allowed: true, ground: "eea"},
		{country: "NO", allowed: true, ground: "eea"},
		{country: "CH"},
		{country: "GB"},
		{country: "US", dpf: true},
		{country: "CA", comm: true},
		{country: "IN", safeguard: "consent"},
		{country: "CN", safeguard: "legal-claims"},
	}
	// Under an objection to every disclosure: nothing at all.
	all := []tc{{country: "NL"}, {country: "DE"}, {country: "CH"}, {country: "US", dpf: true}, {country: "IN", safeguard: "scc"}}

	n := 0
	run := func(t *testing.T, c tc, objection string) {
		n++
		recipient := fmt.Sprintf("Mr. Recipient Jansen nr %d", n)
		o := ExportOptions{Recipient: recipient, Country: c.country, DPF: c.dpf, Commercial: c.comm, Safeguard: c.safeguard}
		before := len(exAudit(t, s, "dora"))
		d, err := s.CheckTransfer(ctx, "dora", o)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		res, err := s.Export(ctx, "dora", &buf, o)
		if d.Allowed != c.allowed || d.Ground != c.ground {
			t.Fatalf("CheckTransfer: allowed %v ground %q, want %v %q (%s)", d.Allowed, d.Ground, c.allowed, c.ground, d.Reason)
		}
		if d.Reason == "" || strings.Contains(d.Reason, recipient) || strings.Contains(d.Remedy, recipient) {
			t.Fatalf("decision %+v", d)
		}
		if c.allowed {
			if err != nil {
				t.Fatalf("Export: %v", err)
			}
			if res.Decision.Ground != d.Ground || res.Decision.Reason != d.Reason {
				t.Fatalf("Export decided %+v, CheckTransfer %+v", res.Decision, d)
			}
			sum, cs, err := exVerify(t, buf.Bytes())
			if err != nil || sum.Contacts != 5 || len(cs) != 5 {
				t.Fatalf("verify: %v, %+v", err, sum)
			}
			h := sum.Header
			if h.Recipient != recipient || h.Country != strings.ToUpper(strings.TrimSpace(c.country)) || h.LegalGround != c.ground ||
				h.LegalBasis != d.Reason || h.Customer != "dora" || h.StoreID != s.StoreID() {
				t.Fatalf("header %+v", h)
			}
		} else {
			var re *TransferRefusedError
			if !errors.As(err, &re) || !errors.Is(err, ErrTransferRefused) {
				t.Fatalf("Export: %v, want a refusal", err)
			}
			if buf.Len() != 0 || res.Bytes != 0 || res.Written != 0 {
				t.Fatalf("a refused export wrote %d bytes", buf.Len())
			}
			if re.Decision.Reason != d.Reason || re.Decision.Allowed {
				t.Fatalf("Export refused with %+v, CheckTransfer said %+v", re.Decision, d)
			}
			if !strings.Contains(err.Error(), d.Reason) || strings.Contains(err.Error(), recipient) {
				t.Fatalf("refusal message %q", err)
			}
			if objection == "" {
				if d.Remedy == "" || !strings.Contains(err.Error(), d.Remedy) || !strings.Contains(d.Remedy, c.remedyHint) {
					t.Fatalf("refusal without the remedy %q: %+v", c.remedyHint, d)
				}
			} else {
				// An objection has no remedy but its withdrawal, which the reason says.
				if d.Objection != objection || !strings.Contains(d.Reason, "withdrawal") {
					t.Fatalf("refusal by objection %s: %+v", objection, d)
				}
			}
		}
		// One "transfer" entry per decision (CheckTransfer's and Export's), with the
		// reason, the verdict and the recipient's digest, never the name.
		after := exAudit(t, s, "dora")[before:]
		var transfers []AuditEntry
		for _, e := range after {
			if strings.Contains(e.Detail, "Jansen") || strings.Contains(e.Detail, recipient) {
				t.Fatalf("audit entry names the recipient: %+v", e)
			}
			if e.Kind == "transfer" {
				transfers = append(transfers, e)
			}
		}
		if len(transfers) != 2 {
			t.Fatalf("%d transfer entries for two decisions: %+v", len(transfers), after)
		}
		verdict := "refused"
		if c.allowed {
			verdict = "allowed (" + c.ground + ")"
		}
		for i, e := range transfers {
			if !strings.Contains(e.Detail, d.Reason) || !strings.Contains(e.Detail, verdict) ||
				!strings.Contains(e.Detail, "recipient sha256:"+digestHex(recipient)) {
				t.Fatalf("transfer entry %d: %q (want %q and the reason)", i, e.Detail, verdict)
			}
		}
		if !strings.HasPrefix(transfers[0].Detail, "transfer check") || !strings.HasPrefix(transfers[1].Detail, "export") {
			t.Fatalf("transfer entries %q, %q", transfers[0].Detail, transfers[1].Detail)
		}
		exports := 0
		for _, e := range after {
			if e.Kind == "export" {
				exports++
				if e.Count != 5 || !strings.Contains(e.Detail, res.SHA256) {
					t.Fatalf("export entry %+v (stream %s)", e, res.SHA256)
				}
			}
		}
		if want := map[bool]int{true: 1, false: 0}[c.allowed]; exports != want {
			t.Fatalf("%d export entries, want %d", exports, want)
		}
	}
	name := func(c tc) string {
		return fmt.Sprintf("%s dpf=%v commercial=%v safeguard=%q", c.country, c.dpf, c.comm, c.safeguard)
	}
	for _, c := range base {
		t.Run("none/"+name(c), func(t *testing.T) { run(t, c, "") })
	}
	if err := s.Object(ctx, "dora", ObjectNonEEA); err != nil {
		t.Fatal(err)
	}
	for _, c := range nonEEA {
		t.Run("non-eea/"+name(c), func(t *testing.T) { run(t, c, ObjectNonEEA) })
	}
	if err := s.Object(ctx, "dora", ObjectAll); err != nil {
		t.Fatal(err)
	}
	for _, c := range all {
		t.Run("all/"+name(c), func(t *testing.T) { run(t, c, ObjectAll) })
	}
	// Withdrawing "all" leaves "non-eea"; withdrawing that restores every ground.
	if err := s.Withdraw(ctx, "dora", ObjectAll); err != nil {
		t.Fatal(err)
	}
	for _, c := range nonEEA {
		t.Run("all withdrawn/"+name(c), func(t *testing.T) { run(t, c, ObjectNonEEA) })
	}
	if err := s.Withdraw(ctx, "dora", ObjectNonEEA); err != nil {
		t.Fatal(err)
	}
	for _, c := range base {
		t.Run("withdrawn/"+name(c), func(t *testing.T) { run(t, c, "") })
	}
	if obj, err := s.Objections("dora"); err != nil || len(obj) != 0 {
		t.Fatalf("objections after withdrawal: %+v %v", obj, err)
	}
}

// TestExportLinesRefusal: ExportLines' refusal is its only element.
func TestExportLinesRefusal(t *testing.T) {
	s := openTest(t, vfs.NewMem())
	defer s.Close()
	exPut(t, s, "dora", 3)
	var got []error
	for l, err := range s.ExportLines(context.Background(), "dora", ExportOptions{Recipient: "r", Country: "IN"}) {
		if l.JSON != nil || l.Type != "" {
			t.Fatalf("a refused ExportLines yielded a line: %+v", l)
		}
		got = append(got, err)
	}
	var re *TransferRefusedError
	if len(got) != 1 || !errors.As(got[0], &re) || re.Decision.Remedy == "" {
		t.Fatalf("ExportLines refused with %v", got)
	}
}

// TestExportInvalid: bad arguments are ErrInvalid (or not found) before any decision or
// byte; nothing is audited as a transfer.
func TestExportInvalid(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, vfs.NewMem())
	defer s.Close()
	exPut(t, s, "dora", 3)
	exPut(t, s, "gone", 1)
	if _, err := s.Erase(ctx, "gone", "test"); err != nil {
		t.Fatal(err)
	}
	id, _ := age.GenerateX25519Identity()
	good := id.Recipient().String()
	flip := "q" // a changed last character: bech32's checksum fails
	if good[len(good)-1] == 'q' {
		flip = "p"
	}
	for _, tc := range []struct {
		name     string
		customer string
		o        ExportOptions
		want     error
	}{
		{"no customer", "", ExportOptions{Recipient: "r", Country: "NL"}, ErrInvalid},
		{"no recipient", "dora", ExportOptions{Country: "NL"}, ErrInvalid},
		{"recipient too long", "dora", ExportOptions{Recipient: strings.Repeat("r", 513), Country: "NL"}, ErrInvalid},
		{"no country", "dora", ExportOptions{Recipient: "r"}, ErrInvalid},
		{"unknown safeguard", "dora", ExportOptions{Recipient: "r", Country: "IN", Safeguard: "trust-me"}, ErrInvalid},
		{"bad age recipient", "dora", ExportOptions{Recipient: "r", Country: "NL", AgeRecipients: []string{"age1notakey"}}, ErrInvalid},
		{"age identity as recipient", "dora", ExportOptions{Recipient: "r", Country: "NL", AgeRecipients: []string{id.String()}}, ErrInvalid},
		{"one good, one bad age recipient", "dora", ExportOptions{Recipient: "r", Country: "NL", AgeRecipients: []string{good, good[:len(good)-1] + flip}}, ErrInvalid},
		{"ssh key as age recipient", "dora", ExportOptions{Recipient: "r", Country: "NL", AgeRecipients: []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"}}, ErrInvalid},
		{"unknown customer", "nobody", ExportOptions{Recipient: "r", Country: "NL"}, ErrNotFound},
		{"erased customer", "gone", ExportOptions{Recipient: "r", Country: "NL"}, ErrErased},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := 0
			for _, e := range exAudit(t, s, "") {
				if e.Kind == "transfer" {
					before++
				}
			}
			var buf bytes.Buffer
			_, err := s.Export(ctx, tc.customer, &buf, tc.o)
			if !errors.Is(err, tc.want) || buf.Len() != 0 {
				t.Fatalf("Export: %v (%d bytes), want %v and nothing written", err, buf.Len(), tc.want)
			}
			if _, err := s.CheckTransfer(ctx, tc.customer, tc.o); !errors.Is(err, tc.want) {
				t.Fatalf("CheckTransfer: %v, want %v", err, tc.want)
			}
			after := 0
			for _, e := range exAudit(t, s, "") {
				if e.Kind == "transfer" {
					after++
				}
			}
			if after != before {
				t.Fatalf("an invalid request was audited as a transfer decision")
			}
			if errors.Is(err, ErrInvalid) && strings.Contains(err.Error(), "rrrr") {
				t.Fatalf("error quotes the input: %v", err)
			}
		})
	}
}

// TestExportTrailerAndLines: the trailer's count and digest are what export.Verify and an
// independent SHA-256 compute; Export's bytes are ExportLines' JSON concatenated (two
// copies of one store, one clock); every field of every contact comes back.
func TestExportTrailerAndLines(t *testing.T) {
	ctx := context.Background()
	cest := time.FixedZone("CEST", 2*3600)
	base := time.Date(2025, 6, 15, 14, 30, 45, 123456789, cest)
	in := []Contact{
		{ID: "all-1", Customer: "klant", Time: base, Channel: ChannelChat,
			Direction: DirectionOutbound, Category: "complaints", Agent: "Zoë de Vries",
			Subject: "Uw klacht <b>&</b>", Body: "Wij hebben uw klacht ontvangen.\n\"Groet\"\u2028", Email: "zoe@example.nl",
			Phone: "+31 6 12345678", Rating: 7, Tags: []string{"klacht", "prio", ""},
			Attachments: []Attachment{
				{Name: "a.pdf", Type: "application/pdf", Data: []byte("%PDF-1.7")},
				{Name: "bin", Data: binaryData(3000)},
				{Name: "leeg.txt", Type: "text/plain", Data: []byte{}},
				{},
			},
			Meta: []byte(`{"ticket":4711,"nested":{"a":[1,2.5,"x"]}}`)},
		{ID: "min", Customer: "klant", Time: base.Add(time.Second)},
		{Customer: "klant", Time: time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.FixedZone("", -(9*3600+1800))), Body: "zonder id 😀 顧客"},
		{ID: "meta-spaced", Customer: "klant", Time: base.Add(time.Minute), Meta: []byte(" {\n  \"z\": 1,  \"a\" : \"<&>\" }\n")},
	}
	for i := range 40 {
		c := mkContact("klant", i)
		c.Tags = []string{fmt.Sprint(i)}
		in = append(in, c)
	}
	mem := vfs.NewCrashableMem()
	opts := testOptions(t, mem)
	s, err := Open("db", opts)
	if err != nil {
		t.Fatal(err)
	}
	setPolicy(t, s, `{"default":"P7Y","rules":[{"category":"complaints","retention":"P10Y"}]}`)
	res, err := s.Put(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	clone := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	s1, err := Open("db", testOptions(t, mem))
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	s2, err := Open("db", testOptions(t, clone))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()

	o := ExportOptions{Recipient: "Advocatenkantoor", Country: "BE"}
	var buf bytes.Buffer
	er, err := s1.Export(ctx, "klant", &buf, o)
	if err != nil {
		t.Fatal(err)
	}
	var lines bytes.Buffer
	var types []string
	var fromLines []Contact
	var lastTrailer *ExportTrailer
	for l, err := range s2.ExportLines(ctx, "klant", o) {
		if err != nil {
			t.Fatal(err)
		}
		lines.Write(l.JSON)
		types = append(types, l.Type)
		switch l.Type {
		case "header":
			if l.Header == nil || l.Contact != nil || l.Trailer != nil {
				t.Fatalf("header line %+v", l)
			}
		case "contact":
			if l.Contact == nil {
				t.Fatal("contact line without a Contact")
			}
			fromLines = append(fromLines, *l.Contact)
		case "trailer":
			lastTrailer = l.Trailer
		}
	}
	if !bytes.Equal(lines.Bytes(), buf.Bytes()) {
		t.Fatalf("ExportLines and Export differ:\n%.600s\n%.600s", lines.Bytes(), buf.Bytes())
	}
	if types[0] != "header" || types[len(types)-1] != "trailer" || len(types) != len(in)+2 || lastTrailer == nil {
		t.Fatalf("line types %v", types)
	}
	data := buf.Bytes()
	sum, got, err := exVerify(t, data)
	if err != nil {
		t.Fatal(err)
	}
	body := data[:len(data)-1]
	cut := bytes.LastIndexByte(body, '\n') + 1
	digest := sha256.Sum256(data[:cut])
	if er.Contacts != int64(len(in)) || sum.Contacts != er.Contacts || sum.Trailer.Contacts != er.Contacts ||
		sum.Trailer.SHA256 != er.SHA256 || er.SHA256 != hex.EncodeToString(digest[:]) || er.Bytes != int64(len(data)) || er.Written != er.Bytes ||
		*lastTrailer != sum.Trailer || bytes.Count(data, []byte("\n")) != len(in)+2 {
		t.Fatalf("result %+v, summary %+v", er, sum)
	}
	// The contacts, in time order, each as it was Put (the store fills in ids and the
	// default category).
	var want []Contact
	for i, c := range in {
		want = append(want, expected(c, res.IDs[i]))
	}
	slices.SortStableFunc(want, func(a, b Contact) int { return a.Time.Compare(b.Time) })
	read, err := collect(t, s1, "klant", TimeRange{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(read) != len(want) || len(fromLines) != len(want) {
		t.Fatalf("%d exported, %d read, %d want", len(got), len(read), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		// Meta is JSON: the export re-encodes it (compact); compare it as JSON, the rest
		// exactly, attachments' bytes included.
		if !jsonEqual(t, g.Meta, w.Meta) {
			t.Errorf("contact %s: meta %s, want %s", w.ID, g.Meta, w.Meta)
		}
		wm, gm, lm := w, g, fromLines[i]
		wm.Meta, gm.Meta, lm.Meta = nil, nil, nil
		if mustJSON(t, gm) != mustJSON(t, wm) || mustJSON(t, lm) != mustJSON(t, wm) {
			t.Errorf("contact %d differs\n got %s\nwant %s", i, mustJSON(t, gm), mustJSON(t, wm))
		}
		if !g.Time.Equal(w.Time) || g.Time.Nanosecond() != w.Time.Nanosecond() {
			t.Errorf("time %v, want %v", g.Time, w.Time)
		}
		_, goff := g.Time.Zone()
		_, woff := w.Time.Zone()
		if goff != woff {
			t.Errorf("time zone offset %d, want %d", goff, woff)
		}
		if len(g.Attachments) != len(w.Attachments) {
			t.Fatalf("attachments %d, want %d", len(g.Attachments), len(w.Attachments))
		}
		for j := range w.Attachments {
			if !bytes.Equal(g.Attachments[j].Data, w.Attachments[j].Data) || g.Attachments[j].Name != w.Attachments[j].Name {
				t.Errorf("attachment %d of %s differs", j, w.ID)
			}
		}
		if mustJSON(t, read[i]) != mustJSON(t, fromLines[i]) {
			t.Errorf("ExportLines' contact %d differs from Contacts'", i)
		}
	}
}

func jsonEqual(t testing.TB, a, b []byte) bool {
	t.Helper()
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return mustJSON(t, x) == mustJSON(t, y)
}

// TestExportHeader: the retention terms (the policy, or null with a note), the earlier
// disclosures in order (not refused or unfinished ones), objections and the hold.
func TestExportHeader(t *testing.T) {
	ctx := context.Background()
	o := testOptions(t, vfs.NewMem())
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	o.Clock = clock
	s, err := Open("db", o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	exPut(t, s, "dora", 4)
	exPut(t, s, "ed", 2)
	header := func(customer string) ExportHeader {
		t.Helper()
		for l, err := range s.ExportLines(ctx, customer, ExportOptions{Recipient: "Me myself", Country: "NL"}) {
			if err != nil {
				t.Fatal(err)
			}
			return *l.Header // stop at the header: no disclosure is recorded
		}
		t.Fatal("no lines")
		return ExportHeader{}
	}
	// No policy: null and a note. No disclosures, objections or hold.
	h := header("dora")
	if h.Retention == nil || string(h.Retention.Policy) != "null" || !strings.Contains(h.Retention.Note, "no retention policy") ||
		len(h.Disclosures) != 0 || h.Disclosures == nil || len(h.Objections) != 0 || !h.HeldSince.IsZero() || !h.Created.Equal(clock.t) {
		t.Fatalf("header without a policy: %+v", h)
	}
	var buf bytes.Buffer
	if _, err := s.Export(ctx, "dora", &buf, ExportOptions{Recipient: "x", Country: "NL"}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte(`"retention":{"policy":null,"note":"`)) {
		t.Fatalf("the stream's header: %.400s", buf.Bytes())
	}
	sum, _, err := exVerify(t, buf.Bytes())
	if err != nil || sum.Header.Retention == nil {
		t.Fatalf("verify: %v %+v", err, sum.Header)
	}
	// A policy: its JSON form, and a note on how terms run.
	setPolicy(t, s, `{"default":"P7Y","rules":[{"category":"chat","retention":"P30D"}]}`)
	h = header("dora")
	pj, _ := json.Marshal(s.Policy())
	if !jsonEqual(t, h.Retention.Policy, pj) || !strings.Contains(string(h.Retention.Policy), "P30D") || h.Retention.Note == "" ||
		strings.Contains(h.Retention.Note, "no retention policy") {
		t.Fatalf("retention %s / %q, want %s", h.Retention.Policy, h.Retention.Note, pj)
	}

	// Disclosures: the first export above, then three more at later instants; refusals,
	// checks and an ExportLines stopped early are not disclosures.
	type want struct {
		recipient, country, ground string
		res                        ExportResult
		at                         time.Time
	}
	var ws []want
	ws = append(ws, want{"x", "NL", "eea", ExportResult{Contacts: 4, SHA256: sum.Trailer.SHA256}, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	for i, e := range []ExportOptions{
		{Recipient: "Second Opinion LLC", Country: "US", DPF: true},
		{Recipient: "Avocat Dupont", Country: "CH"},
		{Recipient: "Law firm Mumbai", Country: "IN", Safeguard: "legal-claims"},
	} {
		clock.t = clock.t.Add(time.Duration(i+1) * time.Hour)
		if _, err := s.Export(ctx, "dora", io.Discard, ExportOptions{Recipient: e.Recipient, Country: "IN"}); !errors.Is(err, ErrTransferRefused) {
			t.Fatal(err)
		}
		if _, err := s.CheckTransfer(ctx, "dora", e); err != nil {
			t.Fatal(err)
		}
		clock.t = clock.t.Add(time.Minute)
		r, err := s.Export(ctx, "dora", io.Discard, e)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, want{e.Recipient, e.Country, r.Decision.Ground, r, clock.t})
		clock.t = clock.t.Add(time.Minute)
		h = header("dora") // stopped at the header: not a disclosure
	}
	if err := s.Object(ctx, "dora", ObjectNonEEA); err != nil {
		t.Fatal(err)
	}
	clock.t = clock.t.Add(time.Hour)
	holdAt := clock.t
	if err := s.Hold(ctx, "dora", "litigation 2026-7"); err != nil {
		t.Fatal(err)
	}
	clock.t = clock.t.Add(time.Hour)
	buf.Reset()
	if _, err := s.Export(ctx, "dora", &buf, ExportOptions{Recipient: "final", Country: "SE"}); err != nil {
		t.Fatal(err)
	}
	sum, _, err = exVerify(t, buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	h = sum.Header
	if len(h.Disclosures) != len(ws) {
		t.Fatalf("%d disclosures, want %d: %+v", len(h.Disclosures), len(ws), h.Disclosures)
	}
	for i, w := range ws {
		d := h.Disclosures[i]
		if d.Recipient != w.recipient || d.Country != w.country || d.Ground != w.ground || d.Contacts != w.res.Contacts ||
			d.SHA256 != w.res.SHA256 || !d.Time.Equal(w.at) || d.Ground == "" {
			t.Fatalf("disclosure %d: %+v, want %+v", i, d, w)
		}
	}
	if !slices.Equal(h.Objections, []string{ObjectNonEEA}) || !h.HeldSince.Equal(holdAt) {
		t.Fatalf("objections %v, held since %v (want %v)", h.Objections, h.HeldSince, holdAt)
	}
	// The other customer's header knows nothing of dora's disclosures.
	if h := header("ed"); len(h.Disclosures) != 0 || len(h.Objections) != 0 || !h.HeldSince.IsZero() {
		t.Fatalf("ed's header: %+v", h)
	}
	// The disclosures are sealed: no recipient's name in Pebble's files (checked on the
	// raw keys and values after close, below in TestExportErasureRemovesPseudonymData).
}

// TestExportDisclosuresSameInstant: two exports at the same instant (a coarse clock, a fast
// caller) are two disclosures; neither may overwrite the other.
func TestExportDisclosuresSameInstant(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, vfs.NewMem()) // a fake clock that stands still
	defer s.Close()
	exPut(t, s, "dora", 2)
	for _, r := range []string{"first", "second"} {
		if _, err := s.Export(ctx, "dora", io.Discard, ExportOptions{Recipient: r, Country: "NL"}); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := s.Export(ctx, "dora", &buf, ExportOptions{Recipient: "third", Country: "NL"}); err != nil {
		t.Fatal(err)
	}
	sum, _, err := exVerify(t, buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range sum.Header.Disclosures {
		names = append(names, d.Recipient)
	}
	if !slices.Equal(names, []string{"first", "second"}) {
		t.Fatalf("two exports at the same clock instant leave disclosures %q, want [first second]: "+
			"keys.Disclosure(ps, now.UnixNano()) is the same key, so the second record overwrites the first", names)
	}
}

// TestExportAgeRoundTrip: an age-encrypted export decrypts with the recipient's identity to
// a stream that verifies; with two recipients each identity decrypts it; others cannot.
func TestExportAgeRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, vfs.NewMem())
	defer s.Close()
	exPut(t, s, "dora", 30)
	id1, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	id2, _ := age.GenerateX25519Identity()
	other, _ := age.GenerateX25519Identity()
	decrypt := func(ct []byte, id age.Identity) ([]byte, error) {
		r, err := age.Decrypt(bytes.NewReader(ct), id)
		if err != nil {
			return nil, err
		}
		return io.ReadAll(r)
	}
	var ct bytes.Buffer
	res, err := s.Export(ctx, "dora", &ct, ExportOptions{Recipient: "r", Country: "NL", AgeRecipients: []string{id1.Recipient().String()}})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct.Bytes(), []byte("dora")) || bytes.Contains(ct.Bytes(), []byte(`"type"`)) {
		t.Fatal("the encrypted stream shows plaintext")
	}
	plain, err := decrypt(ct.Bytes(), id1)
	if err != nil {
		t.Fatal(err)
	}
	sum, cs, err := exVerify(t, plain)
	if err != nil || sum.Contacts != 30 || len(cs) != 30 || sum.Trailer.SHA256 != res.SHA256 || res.Bytes != int64(len(plain)) || res.Contacts != 30 ||
		res.Written != int64(ct.Len()) {
		t.Fatalf("decrypted stream: %v %+v, result %+v (%d plain bytes)", err, sum.Trailer, res, len(plain))
	}
	if _, err := decrypt(ct.Bytes(), other); err == nil {
		t.Fatal("another identity decrypted the stream")
	}
	// Two recipients.
	ct.Reset()
	res, err = s.Export(ctx, "dora", &ct, ExportOptions{Recipient: "r", Country: "NL",
		AgeRecipients: []string{id1.Recipient().String(), id2.Recipient().String()}})
	if err != nil {
		t.Fatal(err)
	}
	p1, err1 := decrypt(ct.Bytes(), id1)
	p2, err2 := decrypt(ct.Bytes(), id2)
	if err1 != nil || err2 != nil || !bytes.Equal(p1, p2) {
		t.Fatalf("two recipients: %v, %v, equal %v", err1, err2, bytes.Equal(p1, p2))
	}
	if sum, _, err := exVerify(t, p1); err != nil || sum.Trailer.SHA256 != res.SHA256 || sum.Contacts != 30 {
		t.Fatalf("two recipients: %v %+v", err, sum)
	}
	if _, err := decrypt(ct.Bytes(), other); err == nil {
		t.Fatal("a third identity decrypted the stream")
	}
	// A truncated ciphertext does not decrypt to a whole stream.
	p, err := decrypt(ct.Bytes()[:ct.Len()-10], id1)
	if err == nil {
		if _, _, err := exVerify(t, p); err == nil {
			t.Fatal("a truncated ciphertext gave a stream that verifies")
		}
	}
	// A refusal writes nothing, not even age's header.
	ct.Reset()
	if _, err := s.Export(ctx, "dora", &ct, ExportOptions{Recipient: "r", Country: "IN", AgeRecipients: []string{id1.Recipient().String()}}); !errors.Is(err, ErrTransferRefused) || ct.Len() != 0 {
		t.Fatalf("refused age export: %v, %d bytes", err, ct.Len())
	}
	// A bad recipient string: ErrInvalid before anything is written or decided.
	for _, bad := range []string{"", "age1", "AGE1" + id1.Recipient().String()[4:], id1.Recipient().String() + "x", id1.String()} {
		ct.Reset()
		if _, err := s.Export(ctx, "dora", &ct, ExportOptions{Recipient: "r", Country: "NL",
			AgeRecipients: []string{id1.Recipient().String(), bad}}); !errors.Is(err, ErrInvalid) || ct.Len() != 0 {
			t.Fatalf("age recipient %q: %v, %d bytes", bad, err, ct.Len())
		}
	}
}

// psBytes returns a customer's pseudonym as raw bytes.
func psBytes(t testing.TB, s *Store, customer string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s.Pseudonym(customer))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pseudonymKeys counts the 'O' and 'T' keys filed under a pseudonym.
func pseudonymKeys(t testing.TB, fs vfs.FS, ps []byte) (objections, disclosures int, values [][]byte) {
	t.Helper()
	db := openRawPebble(t, fs, "db")
	defer db.Close()
	for _, kv := range rawScan(t, db, keys.KindObject) {
		if bytes.Equal(kv.k[1:1+len(ps)], ps) {
			objections++
		}
		values = append(values, kv.v)
	}
	for _, kv := range rawScan(t, db, keys.KindDisclos) {
		if bytes.Equal(kv.k[1:1+len(ps)], ps) {
			disclosures++
		}
		values = append(values, kv.v)
	}
	return
}

// TestExportErasureRemovesPseudonymData: an erasure removes the customer's objections and
// disclosure records; so does an expiry that removes a customer entirely. Another
// customer's stay. Recipients' names are sealed.
func TestExportErasureRemovesPseudonymData(t *testing.T) {
	ctx := context.Background()
	for _, how := range []string{"erase", "expire"} {
		t.Run(how, func(t *testing.T) {
			fs := vfs.NewMem()
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			s, clock := openRet(t, fs, now, `{"default":"P30D","rules":[{"category":"orders","retention":"P7Y"}]}`)
			var cs []Contact
			for i := range 5 {
				cs = append(cs, rc("victim", fmt.Sprint(i), "", ChannelEmail, now.Add(-time.Duration(i+1)*time.Hour)))
				cs = append(cs, rc("keeper", fmt.Sprint(i), "orders", ChannelEmail, now.Add(-time.Duration(i+1)*time.Hour)))
			}
			if _, err := s.Put(ctx, cs); err != nil {
				t.Fatal(err)
			}
			for _, cu := range []string{"victim", "keeper"} {
				if err := s.Object(ctx, cu, ObjectNonEEA); err != nil {
					t.Fatal(err)
				}
				for _, r := range []string{"Recipient Vandermeulen", "Recipient Ozturk"} {
					clock.t = clock.t.Add(time.Second) // (see TestExportDisclosuresSameInstant)
					if _, err := s.Export(ctx, cu, io.Discard, ExportOptions{Recipient: r, Country: "NL"}); err != nil {
						t.Fatal(err)
					}
				}
			}
			victim, keeper := psBytes(t, s, "victim"), psBytes(t, s, "keeper")
			switch how {
			case "erase":
				if _, err := s.Erase(ctx, "victim", "test"); err != nil {
					t.Fatal(err)
				}
			case "expire":
				r, err := s.Expire(ctx, now.AddDate(0, 0, 40))
				if err != nil {
					t.Fatal(err)
				}
				if r.Customers != 1 {
					t.Fatalf("expiry removed %d customers, want 1 (%+v)", r.Customers, r)
				}
			}
			if _, err := s.Objections("victim"); err == nil {
				t.Fatal("the removed customer still has objections")
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			o, d, vals := pseudonymKeys(t, fs, victim)
			if o != 0 || d != 0 {
				t.Fatalf("after %s the customer keeps %d objection and %d disclosure keys", how, o, d)
			}
			o, d, _ = pseudonymKeys(t, fs, keeper)
			if o != 1 || d != 2 {
				t.Fatalf("the other customer has %d objection and %d disclosure keys, want 1 and 2", o, d)
			}
			for _, v := range vals {
				if bytes.Contains(v, []byte("Ozturk")) || bytes.Contains(v, []byte("Vandermeulen")) || bytes.Contains(v, []byte("non-eea")) {
					t.Fatal("an objection or disclosure record is not sealed")
				}
			}
			// Reopened, the other customer's header still lists both disclosures.
			s2, err := Open("db", testOptions(t, fs))
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			var buf bytes.Buffer
			if _, err := s2.Export(ctx, "keeper", &buf, ExportOptions{Recipient: "r", Country: "NL"}); err != nil {
				t.Fatal(err)
			}
			sum, _, err := exVerify(t, buf.Bytes())
			if err != nil || len(sum.Header.Disclosures) != 2 || !slices.Equal(sum.Header.Objections, []string{ObjectNonEEA}) {
				t.Fatalf("keeper after reopen: %v %+v", err, sum.Header)
			}
		})
	}
}

// failAfter accepts limit bytes, then fails; with limit -1, it fails on the trailer line.
type failAfter struct {
	buf   bytes.Buffer
	limit int
}

func (w *failAfter) Write(p []byte) (int, error) {
	if w.limit < 0 {
		if bytes.HasPrefix(p, []byte(`{"type":"trailer"`)) {
			return 0, errors.New("disk full")
		}
		return w.buf.Write(p)
	}
	if w.buf.Len()+len(p) > w.limit {
		n := w.limit - w.buf.Len()
		w.buf.Write(p[:n])
		return n, errors.New("disk full")
	}
	return w.buf.Write(p)
}

// TestExportInterrupted: a writer that fails, or a context cancelled, mid-stream: Export
// returns the error, what was written does not verify, and no disclosure is recorded unless
// the stream was whole up to its trailer.
func TestExportInterrupted(t *testing.T) {
	ctx := context.Background()
	o := testOptions(t, vfs.NewMem())
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	o.Clock = clock
	s, err := Open("db", o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	exPut(t, s, "dora", 600)
	disclosures := func() int {
		t.Helper()
		for l, err := range s.ExportLines(ctx, "dora", ExportOptions{Recipient: "probe", Country: "NL"}) {
			if err != nil {
				t.Fatal(err)
			}
			return len(l.Header.Disclosures)
		}
		return -1
	}
	var full bytes.Buffer
	var progress []int64
	res, err := s.Export(ctx, "dora", &full, ExportOptions{Recipient: "r", Country: "NL", Progress: func(c, b int64) {
		if c != int64(len(progress)+1) || (len(progress) > 0 && b <= progress[len(progress)-1]) {
			t.Errorf("progress (%d, %d) after %v", c, b, len(progress))
		}
		progress = append(progress, b)
	}})
	if err != nil {
		t.Fatal(err)
	}
	trailerLen := full.Len() - (bytes.LastIndexByte(full.Bytes()[:full.Len()-1], '\n') + 1)
	if len(progress) != 600 || progress[599] != res.Bytes-int64(trailerLen) {
		t.Fatalf("%d progress calls, last %d bytes; stream %d bytes, trailer line %d", len(progress), progress[len(progress)-1], res.Bytes, trailerLen)
	}
	base := disclosures()
	for _, limit := range []int{0, 1, 100, full.Len() / 2, full.Len() - trailerLen - 1, -1} {
		clock.t = clock.t.Add(time.Second)
		w := &failAfter{limit: limit}
		_, err := s.Export(ctx, "dora", w, ExportOptions{Recipient: "r", Country: "NL"})
		if err == nil {
			t.Fatalf("a write failing after %d bytes: no error", limit)
		}
		if _, _, verr := exVerify(t, w.buf.Bytes()); verr == nil {
			t.Fatalf("a write failing after %d bytes left a stream that verifies", limit)
		}
		got := disclosures()
		if limit >= 0 && got != base {
			t.Fatalf("a write failing after %d of %d bytes (before the trailer) recorded a disclosure", limit, full.Len())
		}
		if limit < 0 {
			// The trailer's write failed: every contact went out, and the disclosure is
			// recorded (the safe side for Art. 15: never fewer disclosures than happened).
			if got != base+1 {
				t.Fatalf("the trailer's write failed after all 600 contacts: disclosures %d → %d", base, got)
			}
		}
		base = got
	}
	// A context cancelled mid-stream.
	cctx, cancel := context.WithCancel(ctx)
	var buf bytes.Buffer
	_, err = s.Export(cctx, "dora", &buf, ExportOptions{Recipient: "r", Country: "NL", Progress: func(c, _ int64) {
		if c == 300 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled export: %v", err)
	}
	if sum, _, verr := exVerify(t, buf.Bytes()); verr == nil || !strings.Contains(verr.Error(), "incomplete") || sum.Contacts != 300 {
		t.Fatalf("cancelled export's stream: %v (%d contacts)", verr, sum.Contacts)
	}
	if got := disclosures(); got != base {
		t.Fatal("a cancelled export recorded a disclosure")
	}
}

// TestExportHidesPastTerm: contacts past their retention term (not yet destroyed by
// expiry) are not exported, and the trailer counts what was.
func TestExportHidesPastTerm(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, clock := openRet(t, vfs.NewMem(), now, `{"default":"P1Y","rules":[{"category":"chat","retention":"P30D"}]}`)
	defer s.Close()
	var cs []Contact
	for i := range 20 {
		cat := ""
		if i%2 == 0 {
			cat = "chat"
		}
		cs = append(cs, rc("dora", fmt.Sprint(i), cat, ChannelChat, now.Add(-time.Duration(i+1)*time.Hour)))
	}
	if _, err := s.Put(ctx, cs); err != nil {
		t.Fatal(err)
	}
	clock.t = now.AddDate(0, 0, 40) // the chats are past their term; expiry has not run
	var buf bytes.Buffer
	res, err := s.Export(ctx, "dora", &buf, ExportOptions{Recipient: "r", Country: "NL"})
	if err != nil {
		t.Fatal(err)
	}
	sum, got, err := exVerify(t, buf.Bytes())
	if err != nil || res.Contacts != 10 || sum.Contacts != 10 {
		t.Fatalf("%v: %d exported, want 10", err, sum.Contacts)
	}
	for _, c := range got {
		if c.Category == "chat" {
			t.Fatalf("a contact past its term was exported: %s", c.ID)
		}
	}
}

package workload

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"contactstore/store"
)

func TestDeterminism(t *testing.T) {
	cfg := Config{Seed: 42, WithIDs: true, AttachmentRate: 0.2}
	a := New(cfg).Batch(3000)
	b := New(cfg).Batch(3000)
	for i := range a {
		if !reflect.DeepEqual(a[i], b[i]) {
			t.Fatalf("contact %d differs between two generators with the same seed:\n%+v\n%+v", i, a[i], b[i])
		}
	}
	// Batch and Next give the same sequence.
	g := New(cfg)
	for i := 0; i < 100; i++ {
		if c := g.Next(); !reflect.DeepEqual(c, a[i]) {
			t.Fatalf("Next %d differs from Batch", i)
		}
	}
	// A different seed gives a different sequence.
	c := New(Config{Seed: 43, WithIDs: true, AttachmentRate: 0.2}).Batch(3000)
	same := 0
	for i := range a {
		if a[i].Body == c[i].Body {
			same++
		}
	}
	if same > 30 {
		t.Fatalf("seeds 42 and 43 give %d identical bodies out of %d", same, len(a))
	}
	// Customers are a function of seed and index only.
	g1, g2 := New(cfg), New(cfg)
	g2.Batch(500)
	for i := 0; i < 50; i++ {
		id1, n1, e1, p1 := g1.Customer(i)
		id2, n2, e2, p2 := g2.Customer(i)
		if id1 != id2 || n1 != n2 || e1 != e2 || p1 != p2 {
			t.Fatalf("customer %d not stable: %q %q %q %q vs %q %q %q %q", i, id1, n1, e1, p1, id2, n2, e2, p2)
		}
	}
	// Corpus is deterministic and leaves the sequence alone.
	g3 := New(cfg)
	x, y := g3.Corpus(50), New(cfg).Corpus(50)
	for i := range x {
		if !bytes.Equal(x[i], y[i]) {
			t.Fatalf("corpus sample %d differs", i)
		}
	}
	if n := g3.Next(); !reflect.DeepEqual(n, a[0]) {
		t.Fatal("Corpus disturbed the Next sequence")
	}
}

func TestValidate(t *testing.T) {
	g := New(Config{Seed: 7, WithIDs: true})
	cfg := g.Config()
	end := cfg.Start.Add(cfg.Span)
	ids := map[string]bool{}
	var backwards int
	var prev time.Time
	for i, c := range g.Batch(20000) {
		if err := c.Validate(); err != nil {
			t.Fatalf("contact %d: %v\n%+v", i, err, c)
		}
		if c.Time.Before(cfg.Start) || !c.Time.Before(end) {
			t.Fatalf("contact %d: time %v outside [%v, %v)", i, c.Time, cfg.Start, end)
		}
		if c.Time.Location() != time.UTC || c.Time.Nanosecond() != 0 {
			t.Fatalf("contact %d: time %v is not UTC with second precision", i, c.Time)
		}
		if c.Time.Before(prev) {
			backwards++
		}
		prev = c.Time
		if c.ID == "" || ids[c.ID] {
			t.Fatalf("contact %d: missing or duplicate ID %q", i, c.ID)
		}
		ids[c.ID] = true
		if g.CustomerIndex(c.Customer) < 0 {
			t.Fatalf("contact %d: unknown customer %q", i, c.Customer)
		}
		if !slices.Contains(store.Channels, c.Channel) || !slices.Contains(store.Directions, c.Direction) {
			t.Fatalf("contact %d: channel %q direction %q", i, c.Channel, c.Direction)
		}
		if !slices.Contains(Categories, c.Category) {
			t.Fatalf("contact %d: category %q", i, c.Category)
		}
		if c.Channel == store.ChannelEmail && c.Email == "" {
			t.Fatalf("contact %d: e-mail without address", i)
		}
		if c.Channel == store.ChannelPhone && c.Phone == "" {
			t.Fatalf("contact %d: call without number", i)
		}
		if c.Channel == store.ChannelSocial && utf8.RuneCountInString(c.Body) > MaxSocial {
			t.Fatalf("contact %d: social message of %d characters", i, utf8.RuneCountInString(c.Body))
		}
		if c.Subject == "" || c.Body == "" {
			t.Fatalf("contact %d: empty subject or body", i)
		}
		if len(c.Tags) > 3 {
			t.Fatalf("contact %d: %d tags", i, len(c.Tags))
		}
		if len(c.Meta) > 0 {
			var m map[string]any
			if err := json.Unmarshal(c.Meta, &m); err != nil {
				t.Fatalf("contact %d: meta %s: %v", i, c.Meta, err)
			}
		}
		if strings.Contains(c.Body, "{") || strings.Contains(c.Subject, "{") {
			t.Fatalf("contact %d: unrendered slot in %q / %q", i, c.Subject, c.Body)
		}
	}
	if backwards > 20000/10 {
		t.Errorf("%d of 20000 contacts go back in time", backwards)
	}
}

func TestClock(t *testing.T) {
	for _, u := range []int64{0, 1, 86399, 1704067200, 1704067200 + 3*86400 + 12345, 1735689599, -86400 * 3} {
		if got := fromActivity(toActivity(u)); got != u {
			t.Errorf("fromActivity(toActivity(%d)) = %d", u, got)
		}
	}
	g := New(Config{Seed: 4})
	var hours [24]int
	var days [7]int
	var first, last time.Time
	for i, c := range g.Batch(20000) {
		hours[c.Time.Hour()]++
		days[c.Time.Weekday()]++
		if i == 0 || c.Time.Before(first) {
			first = c.Time
		}
		if c.Time.After(last) {
			last = c.Time
		}
	}
	night, office := hours[1]+hours[2]+hours[3], hours[9]+hours[10]+hours[11]
	if office < 10*night {
		t.Errorf("contacts by hour %v: office hours not busier than the night", hours)
	}
	if days[time.Sunday]*2 > days[time.Monday] {
		t.Errorf("contacts by weekday %v: Sunday as busy as Monday", days)
	}
	// The clock spreads about Count contacts over the whole span.
	cfg := g.Config()
	end := cfg.Start.Add(cfg.Span)
	if first.Sub(cfg.Start) > 24*time.Hour || end.Sub(last) > cfg.Span/20 {
		t.Errorf("%d contacts span [%v, %v], want about [%v, %v)", cfg.Count, first, last, cfg.Start, end)
	}
}

func TestMix(t *testing.T) {
	const n = 20000
	g := New(Config{Seed: 3})
	cs := g.Batch(n)
	var dutch, inbound, rated, large int
	perCustomer := map[string]int{}
	channels := map[string]int{}
	categories := map[string]int{}
	for _, c := range cs {
		perCustomer[c.Customer]++
		channels[c.Channel]++
		categories[c.Category]++
		if g.Language(g.CustomerIndex(c.Customer)) == "nl" {
			dutch++
		}
		if c.Direction == store.DirectionInbound {
			inbound++
		}
		if c.Rating != 0 {
			rated++
			if c.Rating < 1 || c.Rating > 10 {
				t.Fatalf("rating %d", c.Rating)
			}
		}
		if len(c.Body) >= 8<<10 {
			large++
		}
	}
	// Language: about 60% of customers are Dutch. Contacts are skewed towards a few heavy
	// customers, so check the customers rather than the contacts.
	nlCustomers := 0
	for i := 0; i < g.Config().Customers; i++ {
		if g.Language(i) == "nl" {
			nlCustomers++
		}
	}
	if f := float64(nlCustomers) / float64(g.Config().Customers); f < 0.55 || f > 0.65 {
		t.Errorf("Dutch customers: %.2f, want about 0.60", f)
	}
	if f := float64(dutch) / n; f < 0.3 || f > 0.9 {
		t.Errorf("Dutch contacts: %.2f", f)
	}
	// The text really is in the customer's language.
	for _, c := range cs[:500] {
		lang := g.Language(g.CustomerIndex(c.Customer))
		if c.Channel != store.ChannelEmail {
			continue
		}
		dutchWords := countWords(c.Body, " de ", " het ", " een ", " ik ", " mijn ", " u ", " van ", " op ")
		englishWords := countWords(c.Body, " the ", " you ", " and ", " I ", " my ", " your ", " to ", " on ")
		if lang == "nl" && dutchWords <= englishWords || lang == "en" && englishWords <= dutchWords {
			t.Errorf("%s e-mail does not look %s:\n%s", c.Customer, lang, c.Body)
		}
	}
	if f := float64(inbound) / n; f < 0.6 || f > 0.85 {
		t.Errorf("inbound share %.2f", f)
	}
	if f := float64(rated) / n; f < 0.25 || f > 0.35 {
		t.Errorf("rated share %.2f, want about 0.30", f)
	}
	if f := float64(large) / n; f < 0.01 || f > 0.04 {
		t.Errorf("large share %.3f, want about 0.02", f)
	}
	for _, ch := range store.Channels {
		if channels[ch] == 0 {
			t.Errorf("no %s contacts", ch)
		}
	}
	for _, cat := range Categories {
		if categories[cat] == 0 {
			t.Errorf("no %s contacts", cat)
		}
	}

	// Skew: a few customers have hundreds of contacts, most only a few.
	counts := make([]int, 0, len(perCustomer))
	for _, c := range perCustomer {
		counts = append(counts, c)
	}
	slices.Sort(counts)
	top, median := counts[len(counts)-1], counts[len(counts)/2]
	t.Logf("skew 1.1: %d customers with contacts, top %d, median %d; %.0f%% of contacts Dutch", len(counts), top, median, 100*float64(dutch)/n)
	if top < 200 || median > 10 {
		t.Errorf("skew 1.1: top customer %d contacts, median %d; want top >= 200, median <= 10", top, median)
	}

	// Uniform: every customer about n/Customers.
	u := New(Config{Seed: 3, Skew: Uniform})
	clear(perCustomer)
	for _, c := range u.Batch(n) {
		perCustomer[c.Customer]++
	}
	maxc := 0
	for _, c := range perCustomer {
		maxc = max(maxc, c)
	}
	if len(perCustomer) < 990 || maxc > 50 {
		t.Errorf("uniform: %d customers, busiest %d contacts", len(perCustomer), maxc)
	}
}

func countWords(s string, words ...string) int {
	n := 0
	for _, w := range words {
		n += strings.Count(s, w)
	}
	return n
}

func TestBodySizes(t *testing.T) {
	const n = 20000
	sizes := make([]int, 0, n)
	for _, c := range New(Config{Seed: 11}).Batch(n) {
		sizes = append(sizes, len(c.Body))
		if c.Channel == store.ChannelEmail && len(c.Body) > MaxLargeBody {
			t.Fatalf("e-mail body of %d bytes", len(c.Body))
		}
	}
	slices.Sort(sizes)
	median := sizes[n/2]
	t.Logf("body size: p10 %d, median %d, p90 %d, p99 %d, max %d",
		sizes[n/10], median, sizes[n*9/10], sizes[n*99/100], sizes[n-1])
	if median < 500 || median > 1500 {
		t.Errorf("median body size %d, want 500-1500", median)
	}
	if sizes[n-1] < 8<<10 {
		t.Errorf("no large e-mails (max body %d)", sizes[n-1])
	}
}

func TestAttachments(t *testing.T) {
	for _, rate := range []float64{0.03, 0.2} {
		const n = 20000
		emails, with := 0, 0
		for _, c := range New(Config{Seed: 5, AttachmentRate: rate}).Batch(n) {
			if c.Channel != store.ChannelEmail {
				if len(c.Attachments) != 0 {
					t.Fatalf("%s contact with attachment", c.Channel)
				}
				continue
			}
			emails++
			if len(c.Attachments) == 0 {
				continue
			}
			with++
			for _, a := range c.Attachments {
				if len(a.Data) < 4<<10 || len(a.Data) > 200<<10 {
					t.Errorf("attachment %q of %d bytes", a.Name, len(a.Data))
				}
				if a.Name == "" || !strings.Contains(a.Type, "/") {
					t.Errorf("attachment name %q type %q", a.Name, a.Type)
				}
			}
		}
		got := float64(with) / float64(emails)
		if math.Abs(got-rate) > rate*0.25+0.005 {
			t.Errorf("attachment rate %.4f, want about %.2f (%d of %d e-mails)", got, rate, with, emails)
		}
	}
	for _, c := range New(Config{Seed: 5, AttachmentRate: None, LargeRate: None}).Batch(5000) {
		if len(c.Attachments) > 0 || len(c.Body) > 8<<10 {
			t.Fatal("attachments or large e-mails despite None")
		}
	}
}

func TestCustomers(t *testing.T) {
	g := New(Config{Seed: 1, Customers: 500})
	if id := g.CustomerID(42); id != "cust-000042" {
		t.Fatalf("CustomerID(42) = %q", id)
	}
	if i := g.CustomerIndex("cust-000042"); i != 42 {
		t.Fatalf("CustomerIndex = %d", i)
	}
	domains := map[string]bool{}
	idn := false
	for i := 0; i < 500; i++ {
		id, name, email, phone := g.Customer(i)
		if id != g.CustomerID(i) || name == "" || phone == "" || strings.Count(email, "@") != 1 {
			t.Fatalf("customer %d: %q %q %q %q", i, id, name, email, phone)
		}
		d := email[strings.IndexByte(email, '@')+1:]
		domains[d] = true
		if !utf8.ValidString(d) {
			t.Fatalf("invalid domain %q", d)
		}
		for _, r := range d {
			if r > 127 {
				idn = true
			}
		}
	}
	for _, d := range []string{"gmail.com", "ziggo.nl", "kpnmail.nl", "hotmail.com"} {
		if !domains[d] {
			t.Errorf("no customer at %s", d)
		}
	}
	if !idn {
		t.Error("no internationalised domain among 500 customers")
	}
}

func TestCorpus(t *testing.T) {
	c := New(Config{Seed: 9}).Corpus(1000)
	if len(c) != 1000 {
		t.Fatalf("%d samples", len(c))
	}
	total := 0
	for _, b := range c {
		if len(b) == 0 || !utf8.Valid(b) {
			t.Fatal("empty or invalid sample")
		}
		total += len(b)
	}
	if total < 300*1000 {
		t.Errorf("corpus of %d bytes", total)
	}
}

func TestTemplates(t *testing.T) {
	for _, lx := range lexicons {
		lists := [][]tmpl{lx.openers, lx.closers, lx.agentThanks, lx.agentGeneric, lx.agentClose}
		for i := 0; i < nTopics; i++ {
			lists = append(lists, lx.cust[i], lx.agentSays[i], lx.subjects[i], lx.callTopic[i], lx.social[i])
		}
		custTotal := 0
		for i := 0; i < nTopics; i++ {
			custTotal += len(lx.cust[i]) + len(lx.agentSays[i])
			if len(lx.cust[i]) > 64 || len(lx.agentSays[i]) > 64 {
				t.Fatalf("%s: more than 64 templates in a list", lx.code)
			}
		}
		if custTotal < 60 {
			t.Errorf("%s: only %d sentence templates", lx.code, custTotal)
		}
		for _, l := range lists {
			if len(l) == 0 {
				t.Errorf("%s: empty template list", lx.code)
			}
		}
	}
}

func BenchmarkNext(b *testing.B) {
	g := New(Config{Seed: 1})
	var bytes int64
	b.ReportAllocs()
	for b.Loop() {
		c := g.Next()
		bytes += int64(len(c.Body))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "contacts/s")
	b.ReportMetric(float64(bytes)/float64(b.N), "body-B/op")
}

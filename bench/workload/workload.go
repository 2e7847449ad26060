// Package workload generates realistic, seed-reproducible customer-service contacts for the
// contact store: e-mails (with greetings, signatures, quoted replies and the occasional long
// thread or attachment), chat transcripts, call notes, social-media messages, letters, web
// forms and internal notes, in Dutch and English, from a population of customers whose
// contact counts follow a Zipf-like distribution.
//
// The same Config (Seed included) always yields the same sequence of contacts, on every
// platform, so the generator can drive the CLI demo, the benchmarks and the tests alike.
// A Generator is not safe for concurrent use; give every goroutine its own.
package workload

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"time"

	"contactstore/store"
)

// Defaults applied by New to zero fields of Config.
const (
	DefaultCustomers      = 1000
	DefaultSkew           = 1.1
	DefaultSpan           = 2 * 365 * 24 * time.Hour
	DefaultAttachmentRate = 0.03
	DefaultLargeRate      = 0.02
	// DefaultPerCustomer is the number of contacts per customer assumed when Config.Count
	// is zero: the clock is paced so that Customers*DefaultPerCustomer contacts fill Span.
	DefaultPerCustomer = 20
)

// DefaultStart is the first contact time used when Config.Start is zero.
var DefaultStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Uniform, as Config.Skew, spreads contacts evenly over the customers. (A zero Skew selects
// DefaultSkew, so "no skew" has to be asked for with a negative value.)
const Uniform = -1.0

// None, as Config.AttachmentRate or Config.LargeRate, switches attachments or large
// e-mails off. (A zero rate selects the default.)
const None = -1.0

// Config describes a workload. Zero fields take the defaults above; New never modifies the
// caller's value.
type Config struct {
	// Seed makes the workload reproducible: the same Seed and Config give an identical
	// sequence of contacts; different seeds give different ones.
	Seed int64
	// Customers is the number of distinct customers (default 1000).
	Customers int
	// Skew is the Zipf exponent of contacts per customer (default 1.1): the customer of
	// each contact is drawn with probability proportional to 1/rank^Skew over a fixed,
	// seed-dependent ranking. A negative value (see Uniform) means uniform.
	Skew float64
	// Start is the first contact time (default 2024-01-01T00:00:00Z).
	Start time.Time
	// Span is the period the contacts are spread over, [Start, Start+Span) (default two
	// years). Times are UTC with second precision.
	Span time.Duration
	// AttachmentRate is the fraction of e-mails that carry an attachment (default 0.03; a
	// negative value means none).
	AttachmentRate float64
	// LargeRate is the fraction of contacts that are large e-mails: long quoted threads of
	// 8 to 64 KiB (default 0.02; a negative value means none).
	LargeRate float64
	// WithIDs makes every contact carry a source-system style ID such as "ZD-100042"
	// (unique within the sequence). Without it ID is empty and the store assigns one.
	WithIDs bool
	// Count is the number of contacts the caller expects to draw. It only paces the clock:
	// times advance by Span/Count on average, so about Count contacts fill
	// [Start, Start+Span); beyond that the clock wraps around to Start. Default
	// Customers*DefaultPerCustomer.
	Count int
}

// withDefaults returns cfg with zero fields replaced by their defaults.
func (cfg Config) withDefaults() Config {
	if cfg.Customers <= 0 {
		cfg.Customers = DefaultCustomers
	}
	switch {
	case cfg.Skew == 0 || math.IsNaN(cfg.Skew):
		cfg.Skew = DefaultSkew
	case cfg.Skew < 0:
		cfg.Skew = 0
	}
	if cfg.Start.IsZero() {
		cfg.Start = DefaultStart
	}
	cfg.Start = cfg.Start.UTC().Truncate(time.Second)
	if cfg.Span < time.Second {
		cfg.Span = DefaultSpan
	}
	cfg.AttachmentRate = rate(cfg.AttachmentRate, DefaultAttachmentRate)
	cfg.LargeRate = rate(cfg.LargeRate, DefaultLargeRate)
	if cfg.Count <= 0 {
		cfg.Count = cfg.Customers * DefaultPerCustomer
	}
	return cfg
}

func rate(v, def float64) float64 {
	switch {
	case v == 0 || math.IsNaN(v):
		return def
	case v < 0:
		return 0
	case v > 1:
		return 1
	}
	return v
}

// Generator produces contacts. Create one with New.
type Generator struct {
	cfg Config
	src *wyrand    // the random stream, seeded from a PCG; rng draws from it too
	rng *rand.Rand // for the distributions math/rand/v2 implements
	pop *population

	start  int64   // Unix seconds of Config.Start
	end    int64   // Unix seconds of Config.Start+Span, exclusive
	act0   float64 // activity coordinate of start (see clock.go)
	span   float64 // activity seconds in [Start, Start+Span)
	gap    float64 // mean activity seconds between contacts
	cursor float64 // activity seconds since start
	seq    uint64  // contacts generated so far

	buf, tmp, sub []byte
	tagSlab       []string // Tags slices are carved from it, capacity capped
	ctx           msgCtx
}

// New returns a generator for cfg. Building it costs O(Customers) time and memory (a
// cumulative distribution and a permutation); the customers themselves are derived lazily
// and deterministically from Seed and their index.
func New(cfg Config) *Generator {
	cfg = cfg.withDefaults()
	seed := uint64(cfg.Seed)
	pcg := rand.NewPCG(seed^0x6a09e667f3bcc908, seed*0x9e3779b97f4a7c15+0xbb67ae8584caa73b)
	src := &wyrand{pcg.Uint64()}
	rng := rand.New(src)
	g := &Generator{
		cfg:   cfg,
		src:   src,
		rng:   rng,
		pop:   newPopulation(cfg, rng),
		start: cfg.Start.Unix(),
		end:   cfg.Start.Unix() + int64(cfg.Span/time.Second),
		buf:   make([]byte, 0, 4096),
		tmp:   make([]byte, 0, 4096),
		sub:   make([]byte, 0, 128),
	}
	g.act0 = toActivity(g.start)
	g.span = toActivity(g.end) - g.act0
	g.gap = g.span / float64(cfg.Count)
	return g
}

// wyrand is the generator's random source: Wang Yi's wyrand, a 64-bit generator that
// passes BigCrush and costs about a nanosecond per draw, a third of PCG's. Text generation
// draws a hundred numbers per contact, so this matters. It is seeded from a rand.PCG
// seeded from Config.Seed, and implements rand.Source for the distributions of
// math/rand/v2 (ExpFloat64, Shuffle).
type wyrand struct{ s uint64 }

// Uint64 returns the next number of the stream.
func (w *wyrand) Uint64() uint64 {
	w.s += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(w.s, w.s^0xe7037ed1a0b428db)
	return hi ^ lo
}

// intn returns a uniform int in [0, n), n > 0 (Lemire's multiply-high reduction; cheaper
// than rand.Rand.IntN, which goes through an interface).
func (g *Generator) intn(n int) int {
	hi, _ := bits.Mul64(g.src.Uint64(), uint64(n))
	return int(hi)
}

func (g *Generator) int64n(n int64) int64 {
	hi, _ := bits.Mul64(g.src.Uint64(), uint64(n))
	return int64(hi)
}

// float returns a uniform float64 in [0, 1).
func (g *Generator) float() float64 { return float64(g.src.Uint64()>>11) * 0x1p-53 }

// Config returns the effective configuration, defaults filled in.
func (g *Generator) Config() Config { return g.cfg }

// Batch returns the next n contacts; it is the same as calling Next n times.
func (g *Generator) Batch(n int) []store.Contact {
	if n <= 0 {
		return nil
	}
	out := make([]store.Contact, n)
	for i := range out {
		out[i] = g.Next()
	}
	return out
}

// CustomerID returns the identifier of customer i (0 <= i < Customers), e.g. "cust-000042".
func (g *Generator) CustomerID(i int) string { return customerID(i) }

// Customer returns the identity of customer i: its ID, full name, primary e-mail address
// and phone number. They are stable: a function of Seed and i only.
func (g *Generator) Customer(i int) (id, name, email, phone string) {
	c := g.pop.get(i)
	return c.id, c.name, c.email, c.phone
}

// Language returns the language customer i writes in: "nl" or "en". About 60% of the
// customers are Dutch.
func (g *Generator) Language(i int) string { return lexicons[g.pop.get(i).lang].code }

// CustomerIndex returns the index of the customer with the given ID, or -1.
func (g *Generator) CustomerIndex(id string) int {
	if len(id) < 6 || id[:5] != "cust-" {
		return -1
	}
	n, err := strconv.Atoi(id[5:])
	if err != nil || n < 0 || n >= g.cfg.Customers || customerID(n) != id {
		return -1
	}
	return n
}

// Corpus returns n sample contact bodies (all channels, both languages, the occasional
// long thread), handy for training and benchmarking compression dictionaries. It is
// deterministic for the Config but independent of, and does not disturb, the sequence
// Next returns.
func (g *Generator) Corpus(n int) [][]byte {
	if n <= 0 {
		return nil
	}
	seed := uint64(g.cfg.Seed)
	pcg := rand.NewPCG(seed^0x3c6ef372fe94f82b, seed*0xbf58476d1ce4e5b9+0xa54ff53a5f1d36f1)
	src := &wyrand{pcg.Uint64()}
	rng := rand.New(src)
	c := &Generator{
		cfg:   g.cfg,
		src:   src,
		rng:   rng,
		pop:   g.pop,
		start: g.start,
		end:   g.end,
		act0:  g.act0,
		span:  g.span,
		gap:   g.gap,
		buf:   make([]byte, 0, 4096),
		tmp:   make([]byte, 0, 4096),
		sub:   make([]byte, 0, 128),
	}
	c.cfg.AttachmentRate = 0
	out := make([][]byte, n)
	for i := range out {
		c.next(false)
		out[i] = append([]byte(nil), c.buf...)
	}
	return out
}

// Next returns the next contact of the sequence. Every contact passes
// (*store.Contact).Validate.
func (g *Generator) Next() store.Contact { return g.next(true) }

// next generates one contact; the body is left in g.buf. With materialize false it skips
// building the Contact's strings (used by Corpus).
func (g *Generator) next(materialize bool) store.Contact {
	g.seq++
	cu := g.pop.get(g.pop.pick(g))
	now := g.tick()
	lx := lexicons[cu.lang]

	ch := g.pickChannel()
	large := false
	if g.cfg.LargeRate > 0 && g.float() < g.cfg.LargeRate {
		ch, large = chEmail, true
	}
	topic := g.pickTopic(ch)
	dir := g.pickDirection(ch)
	ag := &lx.agents[g.intn(len(lx.agents))]
	g.initCtx(lx, cu, ag, now, topic)

	g.buf, g.sub = g.buf[:0], g.sub[:0]
	switch ch {
	case chEmail:
		if large {
			g.largeEmail(dir)
		} else {
			g.email(dir)
		}
	case chPhone:
		g.call(dir)
	case chChat:
		g.chat()
	case chSocial:
		g.social(dir)
	case chLetter:
		g.letter(dir)
	case chWeb:
		g.webForm()
	default:
		if dir == dirInternal {
			g.internalNote()
		} else {
			g.storeVisit()
		}
	}
	if !materialize {
		return store.Contact{}
	}

	c := store.Contact{
		Customer:  cu.id,
		Time:      time.Unix(now, 0).UTC(),
		Channel:   channelNames[ch],
		Direction: directionNames[dir],
		Category:  topicNames[topic],
		Subject:   string(g.sub),
		Body:      string(g.buf),
	}
	if ch == chChat && g.intn(2) == 0 {
		c.Category = "chat"
	}
	if dir != dirInbound || g.float() < agentOnInbound[ch] {
		c.Agent = ag.name
	}
	if g.float() < emailShare[ch] {
		c.Email = cu.email
		if cu.email2 != "" && g.intn(4) == 0 {
			c.Email = cu.email2
		}
	}
	if g.float() < phoneShare[ch] {
		c.Phone = cu.phone
	}
	if g.intn(10) < 3 {
		c.Rating = ratingTable[g.intn(len(ratingTable))]
	}
	c.Tags = g.tags(topic)
	ticket := 100000 + g.seq
	if g.cfg.WithIDs {
		c.ID = g.contactID(ch, ticket, c.Time.Year())
	}
	if g.intn(100) < 35 {
		c.Meta = g.meta(ch, topic, ticket, lx)
	}
	if ch == chEmail && g.cfg.AttachmentRate > 0 && g.float() < g.cfg.AttachmentRate {
		c.Attachments = g.attachments(topic, dir, lx, c.Time)
	}
	return c
}

// tick advances the clock and returns the Unix time of the next contact: mostly
// non-decreasing, with an occasional contact logged a little late (back-dated by up to a
// few hours), always within [Start, Start+Span). The clock runs on activity time (see
// clock.go), so contacts crowd into office hours and working days.
func (g *Generator) tick() int64 {
	g.cursor += g.gap * g.rng.ExpFloat64()
	if g.cursor >= g.span {
		g.cursor = math.Mod(g.cursor, g.span)
	}
	at := g.cursor
	if g.intn(20) == 0 {
		at -= g.float() * 6 * 3600
		if at < 0 {
			at = 0
		}
	}
	t := fromActivity(g.act0 + at)
	if t < g.start {
		t = g.start
	}
	if t >= g.end {
		t = g.end - 1
	}
	return t
}

// Channels, directions and topics as small integers.
const (
	chEmail = iota
	chPhone
	chChat
	chSocial
	chLetter
	chWeb
	chOther
	nChannels
)

var channelNames = [nChannels]string{store.ChannelEmail, store.ChannelPhone, store.ChannelChat,
	store.ChannelSocial, store.ChannelLetter, store.ChannelWeb, store.ChannelOther}

// channelWeights is the channel mix of ordinary (not large) contacts, in per mille.
var channelWeights = [nChannels]int{420, 170, 160, 60, 30, 120, 40}

const (
	dirInbound = iota
	dirOutbound
	dirInternal
)

var directionNames = [3]string{store.DirectionInbound, store.DirectionOutbound, store.DirectionInternal}

// outboundShare and internalShare per channel, in percent.
var (
	outboundShare = [nChannels]int{35, 25, 0, 20, 45, 0, 10}
	internalShare = [nChannels]int{0, 0, 0, 0, 0, 0, 60}
)

// Share of inbound contacts that still name the handling agent, and of contacts that carry
// the customer's e-mail address and phone number, per channel.
var (
	agentOnInbound = [nChannels]float64{0.5, 0.95, 0.9, 0.4, 0.4, 0.3, 0.8}
	emailShare     = [nChannels]float64{1, 0.2, 0.5, 0, 0.1, 0.9, 0.1}
	phoneShare     = [nChannels]float64{0.1, 1, 0.1, 0, 0.2, 0.5, 0.1}
)

const (
	tGeneral = iota
	tOrder
	tDelivery
	tBilling
	tComplaint
	tMarketing
	nTopics
)

// topicNames are the categories (retention classes) contacts are filed under.
var topicNames = [nTopics]string{"general", "order", "delivery", "billing", "complaint", "marketing"}

// Categories lists the categories the generator assigns: the topic names plus "chat",
// which half of the chat transcripts are filed under.
var Categories = []string{"general", "order", "delivery", "billing", "complaint", "marketing", "chat"}

// topicWeights per channel, in percent.
var topicWeights = [nChannels][nTopics]int{
	chEmail:  {20, 22, 18, 16, 14, 10},
	chPhone:  {22, 22, 20, 14, 17, 5},
	chChat:   {22, 26, 24, 12, 12, 4},
	chSocial: {18, 12, 26, 8, 26, 10},
	chLetter: {20, 10, 6, 30, 30, 4},
	chWeb:    {28, 24, 18, 12, 10, 8},
	chOther:  {30, 20, 15, 15, 15, 5},
}

func (g *Generator) pickChannel() int {
	r := g.intn(1000)
	for ch, w := range channelWeights {
		if r < w {
			return ch
		}
		r -= w
	}
	return chOther
}

func (g *Generator) pickTopic(ch int) int {
	r := g.intn(100)
	for t, w := range topicWeights[ch] {
		if r < w {
			return t
		}
		r -= w
	}
	return tGeneral
}

func (g *Generator) pickDirection(ch int) int {
	r := g.intn(100)
	if r < internalShare[ch] {
		return dirInternal
	}
	if r < internalShare[ch]+outboundShare[ch] {
		return dirOutbound
	}
	return dirInbound
}

// ratingTable draws ratings skewed towards 7-9.
var ratingTable = func() []int {
	weights := [11]int{0, 3, 2, 2, 3, 5, 8, 18, 27, 20, 12}
	var t []int
	for r, w := range weights {
		for ; w > 0; w-- {
			t = append(t, r)
		}
	}
	return t
}()

// Tags is the fixed list tags are drawn from.
var Tags = []string{"vip", "escalated", "refund", "callback", "gdpr", "follow-up", "first-contact",
	"repeat-contact", "damaged", "late-delivery", "churn-risk", "survey", "fraud-check", "legal",
	"urgent", "resolved", "waiting-on-customer", "warranty", "compensation", "newsletter"}

// topicTags are indexes into Tags that suit each topic.
var topicTags = [nTopics][]int{
	tGeneral:   {4, 5, 6, 15, 17},
	tOrder:     {2, 6, 15, 19, 12},
	tDelivery:  {9, 8, 3, 5, 18},
	tBilling:   {2, 12, 13, 5, 18},
	tComplaint: {1, 10, 7, 14, 18, 13},
	tMarketing: {19, 4, 11, 15},
}

// tags returns 0-3 distinct tags, biased towards the topic.
func (g *Generator) tags(topic int) []string {
	var n int
	switch r := g.intn(100); {
	case r < 50:
		return nil
	case r < 80:
		n = 1
	case r < 95:
		n = 2
	default:
		n = 3
	}
	if len(g.tagSlab) < n {
		g.tagSlab = make([]string, 3*256)
	}
	out := g.tagSlab[:0:n]
	g.tagSlab = g.tagSlab[n:]
	var used uint32
	for len(out) < n {
		var i int
		if g.intn(3) < 2 {
			tt := topicTags[topic]
			i = tt[g.intn(len(tt))]
		} else {
			i = g.intn(len(Tags))
		}
		if used&(1<<i) != 0 {
			continue
		}
		used |= 1 << i
		out = append(out, Tags[i])
	}
	return out
}

// idPrefixes name the source system of each channel.
var idPrefixes = [nChannels]string{"ZD-", "GEN-", "LC-", "SPR-", "DMS-", "ZD-", "CRM-"}

func (g *Generator) contactID(ch int, ticket uint64, year int) string {
	b := g.tmp[:0]
	b = append(b, idPrefixes[ch]...)
	if ch == chLetter {
		b = strconv.AppendInt(b, int64(year), 10)
		b = append(b, '-')
	}
	b = strconv.AppendUint(b, ticket, 10)
	return string(b)
}

var metaSources = [nChannels][]string{
	{"zendesk", "outlook"}, {"genesys"}, {"livechat", "whatsapp"}, {"sprinklr"}, {"scan"}, {"webform"}, {"crm"},
}

var priorities = []string{"low", "normal", "normal", "normal", "high", "urgent"}

// meta returns a small JSON object of source-system details.
func (g *Generator) meta(ch, topic int, ticket uint64, lx *lexicon) []byte {
	b := make([]byte, 0, 128)
	b = append(b, `{"ticket":`...)
	b = strconv.AppendUint(b, ticket, 10)
	b = append(b, `,"priority":"`...)
	p := priorities[g.intn(len(priorities))]
	if topic == tComplaint && g.intn(2) == 0 {
		p = "high"
	}
	b = append(b, p...)
	b = append(b, `","source":"`...)
	src := metaSources[ch]
	b = append(b, src[g.intn(len(src))]...)
	b = append(b, '"')
	if g.intn(2) == 0 {
		b = append(b, `,"language":"`...)
		b = append(b, lx.code...)
		b = append(b, '"')
	}
	if g.intn(3) == 0 {
		b = append(b, `,"sla_hours":`...)
		b = strconv.AppendInt(b, int64([]int{4, 8, 24, 48, 72}[g.intn(5)]), 10)
	}
	if g.intn(4) == 0 {
		b = append(b, `,"escalated":`...)
		b = strconv.AppendBool(b, topic == tComplaint || g.intn(4) == 0)
	}
	if topic == tOrder || topic == tDelivery {
		if g.intn(2) == 0 {
			b = append(b, `,"order":"`...)
			b = g.appendOrder(b)
			b = append(b, '"')
		}
	}
	if ch == chPhone {
		b = append(b, `,"duration_s":`...)
		b = strconv.AppendInt(b, int64(30+g.intn(1200)), 10)
	}
	return append(b, '}')
}

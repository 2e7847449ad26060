package workload

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"
	"time"

	"contactstore/store"
)

// msgCtx holds the values a contact's slots render, drawn once per contact so that a
// subject, a message and the message it quotes agree on the order number, product,
// amount and so on.
type msgCtx struct {
	lx    *lexicon
	cu    *customer
	ag    *agent
	now   int64 // Unix seconds
	topic int

	day, date, date2 int64 // days since the epoch: today, a recent date, a coming date
	dateStyle        int
	amtStyle         int
	orderStyle       int
	order            uint64
	prod, prod2      int
	amount, amount2  int64 // cents
	carrier          int
	track            uint64
	invoice          uint64
	ticket           uint64
	city             int
	code             int
	codeRand         uint64
}

func (g *Generator) initCtx(lx *lexicon, cu *customer, ag *agent, now int64, topic int) {
	c := &g.ctx
	c.lx, c.cu, c.ag, c.now, c.topic = lx, cu, ag, now, topic
	c.day = floorDiv(now, 86400)
	c.date = c.day - 1 - int64(g.intn(45))
	c.date2 = c.day + 1 + int64(g.intn(14))
	c.dateStyle = g.intn(3)
	if c.dateStyle == 2 && g.intn(2) == 0 {
		c.dateStyle = 0
	}
	c.amtStyle = g.intn(3)
	c.orderStyle = g.intn(3)
	c.order = g.src.Uint64()
	c.prod = g.intn(len(lx.products))
	c.prod2 = g.intn(len(lx.products))
	if c.prod2 == c.prod {
		c.prod2 = (c.prod2 + 1) % len(lx.products)
	}
	c.amount = g.drawAmount()
	c.amount2 = g.drawAmount()
	c.carrier = g.intn(len(lx.carriers))
	c.track = g.src.Uint64()
	c.invoice = uint64(g.intn(999999) + 1)
	c.ticket = uint64(g.intn(9000000) + 1000000)
	c.city = g.intn(len(lx.cities))
	c.code = g.intn(len(lx.codes) + 4)
	c.codeRand = g.src.Uint64()
}

// detailsFor maps a topic to the details block customers paste into their e-mails.
var detailsFor = [nTopics]int{tGeneral: 3, tOrder: 0, tDelivery: 2, tBilling: 1, tComplaint: 0, tMarketing: 3}

// amountTable holds whole-euro prices, log-uniform between 2 and 1500 euro.
var amountTable = func() (t [1024]int64) {
	for i := range t {
		t[i] = int64(math.Exp(math.Log(2) + (float64(i)+0.5)/float64(len(t))*math.Log(750)))
	}
	return t
}()

// drawAmount returns a price in cents, log-uniform between 2 and 1500 euro, usually ending
// in ,95 or ,00.
func (g *Generator) drawAmount() int64 {
	v := g.src.Uint64()
	e := amountTable[v%uint64(len(amountTable))]
	switch r := (v >> 32) % 10; {
	case r < 5:
		return e*100 + 95
	case r < 7:
		return e * 100
	case r < 8:
		return e*100 + 99
	default:
		return e*100 + int64(v>>40)%100
	}
}

// render appends template t with its slots filled from the context.
func (g *Generator) render(b []byte, t tmpl) []byte {
	for i := range t {
		if t[i].slot == slotLit {
			b = append(b, t[i].lit...)
		} else {
			b = g.slot(b, t[i].slot)
		}
	}
	return b
}

// one renders a random template of list.
func (g *Generator) one(b []byte, list []tmpl) []byte {
	return g.render(b, list[g.intn(len(list))])
}

func (g *Generator) oneOf(list []string) string { return list[g.intn(len(list))] }

const alnum = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"

func (g *Generator) slot(b []byte, s slot) []byte {
	c := &g.ctx
	lx := c.lx
	switch s {
	case slotDate:
		return appendDate(b, c.date, c.dateStyle, lx)
	case slotDate2:
		return appendDate(b, c.date2, c.dateStyle, lx)
	case slotToday:
		return appendDate(b, c.day, 1, lx)
	case slotOrder:
		return g.appendOrder(b)
	case slotProduct:
		return append(b, lx.products[c.prod]...)
	case slotProduct2:
		return append(b, lx.products[c.prod2]...)
	case slotAmount:
		if g.intn(2) == 0 {
			return appendAmount(b, g.drawAmount(), c.amtStyle, lx)
		}
		return appendAmount(b, c.amount, c.amtStyle, lx)
	case slotAmount2:
		return appendAmount(b, c.amount2, c.amtStyle, lx)
	case slotTrack:
		return g.appendTrack(b)
	case slotCarrier:
		return append(b, lx.carriers[c.carrier].name...)
	case slotInvoice:
		return g.appendInvoice(b)
	case slotIBAN:
		return append(b, c.cu.iban...)
	case slotAddr:
		return c.cu.addrLine(b, c.cu.lang)
	case slotNewAddr:
		ci := lx.cities[g.intn(len(lx.cities))]
		n := int64(1 + g.intn(180))
		if lx == en {
			b = strconv.AppendInt(b, n, 10)
			b = append(b, ' ')
			b = append(b, lx.streets[g.intn(len(lx.streets))]...)
			b = append(b, ", "...)
			b = append(b, ci.name...)
			b = append(b, ' ')
			b = append(b, ci.code...)
			b = append(b, byte('1'+g.intn(9)), ' ', byte('1'+g.intn(9)), alnum[g.intn(24)], alnum[g.intn(24)])
			return b
		}
		b = append(b, lx.streets[g.intn(len(lx.streets))]...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, n, 10)
		b = append(b, ", "...)
		b = append(b, ci.code...)
		for i := len(ci.code); i < 4; i++ {
			b = append(b, byte('0'+g.intn(10)))
		}
		b = append(b, ' ', alnum[g.intn(24)], alnum[g.intn(24)], ' ')
		return append(b, ci.name...)
	case slotStreet:
		return append(b, lx.streets[g.intn(len(lx.streets))]...)
	case slotCity:
		return append(b, lx.cities[c.city].name...)
	case slotName:
		return append(b, c.cu.name...)
	case slotFirst:
		return append(b, c.cu.first...)
	case slotSal:
		return append(b, c.cu.sal...)
	case slotAgent:
		return append(b, c.ag.first...)
	case slotAgentFull:
		return append(b, c.ag.name...)
	case slotQty:
		return strconv.AppendInt(b, int64(2+g.intn(4)), 10)
	case slotDays:
		return strconv.AppendInt(b, int64(2+g.intn(13)), 10)
	case slotWeeks:
		return strconv.AppendInt(b, int64(2+g.intn(7)), 10)
	case slotN:
		return strconv.AppendInt(b, int64(2+g.intn(4)), 10)
	case slotMinutes:
		return strconv.AppendInt(b, int64(3+g.intn(40)), 10)
	case slotCode:
		if c.code < len(lx.codes) {
			return append(b, lx.codes[c.code]...)
		}
		b = append(b, "LB-"...)
		v := c.codeRand
		for i := 0; i < 6; i++ {
			b = append(b, alnum[v%uint64(len(alnum))])
			v /= uint64(len(alnum))
		}
		return b
	case slotTicket:
		return strconv.AppendUint(b, c.ticket, 10)
	case slotPhone:
		return append(b, c.cu.phone...)
	case slotEmail:
		return append(b, c.cu.email...)
	case slotPct:
		return strconv.AppendInt(b, int64([]int{10, 15, 20, 25, 30, 40, 50}[g.intn(7)]), 10)
	case slotVAT:
		b = append(b, lx.vatPrefix...)
		b = appendPad(b, c.codeRand%1000000000, 9)
		if lx == nl {
			b = append(b, "B01"...)
		}
		return b
	case slotOther:
		return append(b, capFirst(lx.surnames[g.intn(len(lx.surnames))])...)
	case slotTime:
		return appendClock(b, c.now, ':')
	case slotHandle:
		return append(b, c.cu.handle...)
	case slotInitials:
		return append(b, c.ag.initials...)
	case slotPostcode:
		return append(b, c.cu.postcode...)
	case slotHouse:
		return append(b, c.cu.house...)
	}
	return b
}

// appendOrder writes the contact's order number in its style: "LB40123456",
// "4001234567" or "#1234567".
func (g *Generator) appendOrder(b []byte) []byte {
	c := &g.ctx
	switch c.orderStyle {
	case 0:
		return appendPad(append(b, "LB"...), 40000000+c.order%10000000, 8)
	case 1:
		return appendPad(append(b, "40"...), c.order%100000000, 8)
	}
	return appendPad(append(b, '#'), 1000000+c.order%9000000, 7)
}

// appendOrderDigits writes the order number without a leading '#', for file names.
func (g *Generator) appendOrderDigits(b []byte) []byte {
	n := len(b)
	b = g.appendOrder(b)
	if b[n] == '#' {
		b = append(b[:n], b[n+1:]...)
	}
	return b
}

func (g *Generator) appendInvoice(b []byte) []byte {
	c := &g.ctx
	y, _, _ := civil(c.date)
	if c.lx == nl {
		b = append(b, 'F')
	} else {
		b = append(b, "INV-"...)
	}
	b = strconv.AppendInt(b, int64(y), 10)
	b = append(b, '-')
	return appendPad(b, c.invoice, 6)
}

// appendTrack writes a tracking code in the format of the contact's carrier.
func (g *Generator) appendTrack(b []byte) []byte {
	c := &g.ctx
	v := c.track
	dig := func(n int) {
		for ; n > 0; n-- {
			b = append(b, byte('0'+v%10))
			v = v/10 ^ v<<7
		}
	}
	an := func(n int) {
		for ; n > 0; n-- {
			b = append(b, alnum[v%uint64(len(alnum))])
			v = v/uint64(len(alnum)) ^ v<<9
		}
	}
	switch c.lx.carriers[c.carrier].format {
	case trackPostNL:
		b = append(b, "3S"...)
		for i := 0; i < 4; i++ {
			b = append(b, alnum[v%24])
			v /= 24
		}
		dig(9)
	case trackDHL:
		b = append(b, "JVGL0"...)
		dig(13)
	case trackDPD:
		b = append(b, "0"...)
		dig(13)
	case trackUPS:
		b = append(b, "1Z"...)
		an(16)
	case trackGLS:
		dig(11)
	case trackRoyal:
		b = append(b, alnum[v%24], alnum[(v>>8)%24])
		v >>= 16
		dig(9)
		b = append(b, "GB"...)
	default:
		b = append(b, 'H')
		an(15)
	}
	return b
}

// pickDistinct picks an index into a list of length n (n <= 64) not yet in used, if it
// can find one quickly, and records it in used.
func (g *Generator) pickDistinct(n int, used *uint64) int {
	for tries := 0; tries < 8; tries++ {
		i := g.intn(n)
		if *used&(1<<uint(i)) == 0 || tries == 7 {
			*used |= 1 << uint(i)
			return i
		}
	}
	return 0
}

// sep appends a space or, now and then, a paragraph break.
func (g *Generator) sep(b []byte, para int) []byte {
	if g.intn(100) < para {
		return append(b, "\n\n"...)
	}
	return append(b, ' ')
}

// custSentences appends n sentences a customer would write about the contact's topic.
func (g *Generator) custSentences(b []byte, n int, para int) []byte {
	lx := g.ctx.lx
	topic := g.ctx.topic
	var used, usedGen uint64
	for i := 0; i < n; i++ {
		if i > 0 {
			b = g.sep(b, para)
		}
		switch {
		case i == 0 && n > 2 && g.intn(2) == 0:
			b = g.one(b, lx.openers)
		case i == n-1 && n > 3 && g.intn(5) < 2:
			b = g.one(b, lx.closers)
		case topic != tGeneral && g.intn(8) == 0:
			b = g.render(b, lx.cust[tGeneral][g.pickDistinct(len(lx.cust[tGeneral]), &usedGen)])
		default:
			list := lx.cust[topic]
			b = g.render(b, list[g.pickDistinct(len(list), &used)])
		}
	}
	return b
}

// agentSentences appends n sentences an agent would write about the contact's topic.
func (g *Generator) agentSentences(b []byte, n int, para int) []byte {
	lx := g.ctx.lx
	list := lx.agentSays[g.ctx.topic]
	var used, usedGen uint64
	for i := 0; i < n; i++ {
		if i > 0 {
			b = g.sep(b, para)
		}
		if g.intn(6) == 0 {
			b = g.render(b, lx.agentGeneric[g.pickDistinct(len(lx.agentGeneric), &usedGen)])
		} else {
			b = g.render(b, list[g.pickDistinct(len(list), &used)])
		}
	}
	return b
}

// custMessage appends an e-mail as a customer writes it: greeting, 2-8 sentences,
// closing, name and sometimes a phone number, address or "sent from my phone" footer.
func (g *Generator) custMessage(b []byte) []byte {
	lx, cu := g.ctx.lx, g.ctx.cu
	b = g.one(b, lx.custGreet)
	b = append(b, "\n\n"...)
	b = g.custSentences(b, 2+g.intn(4)+g.intn(4), 40)
	if g.intn(10) < 4 {
		b = append(b, "\n\n"...)
		b = g.render(b, lx.details[detailsFor[g.ctx.topic]])
	}
	b = append(b, "\n\n"...)
	b = append(b, g.oneOf(lx.closings)...)
	b = append(b, '\n')
	switch r := g.intn(10); {
	case r < 6:
		b = append(b, cu.name...)
	case r < 8:
		b = append(b, cu.first...)
	default:
		b = append(b, cu.initials...)
	}
	if g.intn(4) == 0 {
		b = append(b, '\n')
		b = g.one(b, lx.custSig)
	}
	if g.intn(7) == 0 {
		b = append(b, "\n\n"...)
		b = append(b, g.oneOf(lx.mobileFooters)...)
	}
	return b
}

// agentMessage appends an agent's e-mail reply with the team signature.
func (g *Generator) agentMessage(b []byte) []byte {
	lx := g.ctx.lx
	b = g.one(b, lx.agentGreet)
	b = append(b, "\n\n"...)
	if g.intn(10) < 7 {
		b = g.one(b, lx.agentThanks)
		b = g.sep(b, 50)
	}
	b = g.agentSentences(b, 2+g.intn(5), 45)
	b = append(b, "\n\n"...)
	b = g.one(b, lx.agentClose)
	b = append(b, "\n\n"...)
	b = append(b, g.oneOf(lx.closings[:3])...)
	b = append(b, '\n')
	b = append(b, g.ctx.ag.name...)
	b = append(b, '\n')
	b = append(b, g.oneOf(lx.teamSig)...)
	if g.intn(6) == 0 {
		b = append(b, "\n\n"...)
		b = append(b, g.oneOf(lx.disclaimers)...)
	}
	return b
}

// quoteHeader appends the attribution line of a quoted message written at unix by the
// customer or by the service desk.
func (g *Generator) quoteHeader(b []byte, unix int64, byCustomer bool) []byte {
	lx, cu := g.ctx.lx, g.ctx.cu
	days := floorDiv(unix, 86400)
	y, m, d := civil(days)
	b = append(b, lx.wroteOn...)
	b = append(b, lx.weekdaysShort[weekday(days)]...)
	if lx == en {
		b = append(b, ',')
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(d), 10)
	b = append(b, ' ')
	b = append(b, lx.monthsShort[m-1]...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(y), 10)
	b = append(b, lx.wroteAt...)
	b = appendClock(b, unix, ':')
	b = append(b, lx.wroteVerb...)
	if byCustomer {
		b = append(b, cu.name...)
		b = append(b, " <"...)
		b = append(b, cu.email...)
	} else {
		b = append(b, lx.serviceName...)
		b = append(b, " <"...)
		b = append(b, lx.serviceMail...)
	}
	b = append(b, '>')
	b = append(b, lx.wroteEnd...)
	return append(b, '\n')
}

// outlookHeader appends an Outlook-style "original message" block.
func (g *Generator) outlookHeader(b []byte, unix int64, byCustomer bool) []byte {
	lx, cu := g.ctx.lx, g.ctx.cu
	days := floorDiv(unix, 86400)
	y, m, d := civil(days)
	b = append(b, lx.origMsg...)
	b = append(b, '\n')
	from, fromMail, to, toMail := lx.serviceName, lx.serviceMail, cu.name, cu.email
	if byCustomer {
		from, fromMail, to, toMail = to, toMail, from, fromMail
	}
	b = append(b, lx.hdrFrom...)
	b = append(b, from...)
	b = append(b, " <"...)
	b = append(b, fromMail...)
	b = append(b, ">\n"...)
	b = append(b, lx.hdrSent...)
	b = append(b, lx.weekdays[weekday(days)]...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(d), 10)
	b = append(b, ' ')
	b = append(b, lx.months[m-1]...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(y), 10)
	b = append(b, ' ')
	b = appendClock(b, unix, ':')
	b = append(b, '\n')
	b = append(b, lx.hdrTo...)
	b = append(b, to...)
	b = append(b, " <"...)
	b = append(b, toMail...)
	b = append(b, ">\n"...)
	b = append(b, lx.hdrSubject...)
	b = append(b, g.sub...)
	return append(b, "\n\n"...)
}

// appendQuoted appends src with every line prefixed by depth '>' characters.
func appendQuoted(b, src []byte, depth int) []byte {
	const marks = ">>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>"
	if depth > len(marks) {
		depth = len(marks)
	}
	for len(src) > 0 {
		line, rest := src, []byte(nil)
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line, rest = src[:i], src[i+1:]
		}
		b = append(b, marks[:depth]...)
		if len(line) > 0 && depth > 0 {
			b = append(b, ' ')
		}
		b = append(b, line...)
		b = append(b, '\n')
		src = rest
	}
	return b
}

func (g *Generator) subject(reply bool) {
	lx := g.ctx.lx
	if reply {
		g.sub = append(g.sub, g.oneOf(lx.replyPrefixes)...)
	}
	g.sub = g.one(g.sub, lx.subjects[g.ctx.topic])
}

// email builds an ordinary e-mail: a customer's message, possibly replying to (and
// quoting) the service desk, or an agent's reply, usually quoting the customer.
func (g *Generator) email(dir int) {
	inbound := dir == dirInbound
	var reply bool
	if inbound {
		reply = g.intn(100) < 55
	} else {
		reply = g.intn(100) < 75
	}
	g.subject(reply)
	if inbound {
		g.buf = g.custMessage(g.buf)
	} else {
		g.buf = g.agentMessage(g.buf)
	}
	if !reply {
		return
	}
	when := g.ctx.now - 1800 - g.int64n(4*86400)
	g.buf = append(g.buf, "\n\n"...)
	if inbound {
		g.tmp = g.agentMessage(g.tmp[:0])
	} else {
		g.tmp = g.custMessage(g.tmp[:0])
	}
	if g.intn(4) == 0 {
		g.buf = g.outlookHeader(g.buf, when, !inbound)
		g.buf = append(g.buf, g.tmp...)
		return
	}
	g.buf = g.quoteHeader(g.buf, when, !inbound)
	g.buf = appendQuoted(g.buf, g.tmp, 1)
}

// MaxLargeBody bounds the body of a large e-mail.
const MaxLargeBody = 64 << 10

// largeEmail builds a long thread, newest message first, until the body is 8-60 KiB
// (log-uniform); never more than MaxLargeBody. The first few older messages are quoted
// one level deeper each ("> ", ">> ", ...) as mail clients do; past that depth the thread
// continues with Outlook-style "original message" blocks at the same level, as it does
// once someone replies from Outlook.
func (g *Generator) largeEmail(dir int) {
	lx := g.ctx.lx
	g.sub = append(g.sub, g.oneOf(lx.replyPrefixes)...)
	if g.intn(3) == 0 {
		g.sub = append(g.sub, g.oneOf(lx.replyPrefixes)...)
	}
	g.sub = g.one(g.sub, lx.subjects[g.ctx.topic])
	target := int(8192 * math.Exp(g.float()*math.Log(60.0/8)))
	maxNest := 1 + g.intn(5)
	byCustomer := dir == dirInbound
	when := g.ctx.now
	depth := 0
	for i := 0; len(g.buf) < target; i++ {
		if i > 0 {
			g.buf = appendQuoted(g.buf, []byte{'\n'}, depth)
			if depth < maxNest {
				g.tmp = g.quoteHeader(g.tmp[:0], when, byCustomer)
				g.buf = appendQuoted(g.buf, g.tmp, depth)
				depth++
			} else {
				g.tmp = g.outlookHeader(g.tmp[:0], when, byCustomer)
				g.buf = appendQuoted(g.buf, g.tmp, depth)
			}
		}
		if byCustomer {
			g.tmp = g.custMessage(g.tmp[:0])
		} else {
			g.tmp = g.agentMessage(g.tmp[:0])
		}
		g.buf = appendQuoted(g.buf, g.tmp, depth)
		byCustomer = !byCustomer
		when -= 3600 + g.int64n(3*86400)
	}
	if len(g.buf) > MaxLargeBody {
		cut := MaxLargeBody
		for cut > 0 && g.buf[cut-1] != '\n' {
			cut--
		}
		g.buf = g.buf[:cut]
	}
	for len(g.buf) > 0 && g.buf[len(g.buf)-1] == '\n' {
		g.buf = g.buf[:len(g.buf)-1]
	}
}

// call builds an agent's note of a phone call: "Klant belde over ...; teruggebeld;
// opgelost." plus, sometimes, what was agreed and later log entries.
func (g *Generator) call(dir int) {
	lx := g.ctx.lx
	if g.intn(2) == 0 {
		g.sub = append(g.sub, g.oneOf(lx.callSubjects)...)
	} else {
		g.sub = append(g.sub, lx.callSubjects[0]...)
		g.sub = append(g.sub, ": "...)
		g.sub = g.one(g.sub, lx.subjects[g.ctx.topic])
	}
	b := g.buf
	if dir == dirInbound {
		b = g.one(b, lx.callIn)
	} else {
		b = g.one(b, lx.callOut)
	}
	b = g.one(b, lx.callTopic[g.ctx.topic])
	var used uint64
	for n := 1 + g.intn(3); n > 0; n-- {
		b = append(b, "; "...)
		b = g.render(b, lx.callActions[g.pickDistinct(len(lx.callActions), &used)])
	}
	b = append(b, "; "...)
	b = g.one(b, lx.callOutcomes)
	if g.intn(3) == 0 {
		b = append(b, ' ')
		b = g.one(b, lx.callExtra)
	}
	if g.intn(10) < 9 {
		b = append(b, '\n')
		b = append(b, lx.callSaid...)
		b = append(b, '"')
		b = g.custSentences(b, 1+g.intn(3), 0)
		b = append(b, "\"\n"...)
		b = append(b, lx.callTold...)
		b = g.agentSentences(b, 1+g.intn(3), 0)
	}
	at := g.ctx.now
	for n := g.intn(6); n > 0; n-- {
		at += 600 + g.int64n(86400)
		b = append(b, "\n["...)
		b = appendDate(b, floorDiv(at, 86400), 1, lx)
		b = append(b, ' ')
		b = appendClock(b, at, ':')
		b = append(b, "] "...)
		b = append(b, g.ctx.lx.agents[g.intn(len(lx.agents))].first...)
		b = append(b, ": "...)
		b = g.render(b, lx.callActions[g.pickDistinct(len(lx.callActions), &used)])
		b = append(b, "; "...)
		b = g.one(b, lx.callOutcomes)
	}
	g.buf = b
}

// chat builds a live-chat transcript with timestamps.
func (g *Generator) chat() {
	lx := g.ctx.lx
	if g.intn(2) == 0 {
		g.sub = append(g.sub, g.oneOf(lx.chatSubjects)...)
	} else {
		g.sub = append(g.sub, "Chat: "...)
		g.sub = g.one(g.sub, lx.subjects[g.ctx.topic])
	}
	b := g.buf
	t := g.ctx.now
	if g.intn(3) == 0 {
		b = g.one(b, lx.chatHeader)
		b = append(b, '\n')
	}
	cust := lx.custLabel
	if g.intn(10) < 3 {
		cust = g.ctx.cu.first
	}
	line := func(who string, agentLine bool) {
		b = append(b, '[')
		b = appendClock(b, t, ':')
		b = append(b, "] "...)
		if agentLine {
			b = append(b, lx.agentLabel...)
			b = append(b, ' ')
		}
		b = append(b, who...)
		b = append(b, ": "...)
		t += int64(g.intn(150))
	}
	if g.intn(10) < 3 {
		line(lx.botLabel, false)
		b = g.render(b, lx.chatBot[0])
		b = append(b, '\n')
		line(cust, false)
		b = g.one(b, lx.chatCustOpen)
		b = append(b, '\n')
		line(lx.botLabel, false)
		b = g.render(b, lx.chatBot[1+g.intn(len(lx.chatBot)-1)])
		b = append(b, '\n')
	}
	ag := g.ctx.ag.first
	line(ag, true)
	b = g.one(b, lx.chatOpen)
	b = append(b, '\n')
	line(cust, false)
	b = g.one(b, lx.chatCustOpen)
	b = append(b, ' ')
	b = g.custSentences(b, 1+g.intn(2), 0)
	b = append(b, '\n')
	var usedA, usedC uint64
	for n := 2 + g.intn(6); n > 0; n-- {
		line(ag, true)
		if g.intn(2) == 0 {
			b = g.render(b, lx.chatAgent[g.pickDistinct(len(lx.chatAgent), &usedA)])
		} else {
			b = g.agentSentences(b, 1, 0)
		}
		b = append(b, '\n')
		line(cust, false)
		if g.intn(10) < 6 {
			b = g.render(b, lx.chatCust[g.pickDistinct(len(lx.chatCust), &usedC)])
		} else {
			b = g.custSentences(b, 1, 0)
		}
		b = append(b, '\n')
	}
	line(ag, true)
	b = g.one(b, lx.chatAgentClose)
	b = append(b, '\n')
	line(cust, false)
	b = g.one(b, lx.chatCustClose)
	if g.intn(3) == 0 {
		b = append(b, '\n')
		b = append(b, g.oneOf(lx.chatEnd)...)
	}
	g.buf = b
}

// MaxSocial bounds the length in bytes of a social-media message.
const MaxSocial = 280

// social builds a short public post or reply.
func (g *Generator) social(dir int) {
	lx := g.ctx.lx
	g.sub = append(g.sub, g.oneOf(lx.socialSubjects)...)
	b := g.buf
	if dir == dirInbound {
		b = g.one(b, lx.social[g.ctx.topic])
		if g.intn(4) == 0 {
			b = append(b, ' ')
			b = append(b, g.oneOf(lx.hashtags)...)
		}
	} else {
		b = g.one(b, lx.socialOut)
	}
	if len(b) > MaxSocial {
		cut := MaxSocial - 3
		for cut > 0 && b[cut] != ' ' {
			cut--
		}
		b = append(b[:cut], "…"...)
	}
	g.buf = b
}

// letter builds a formal letter, from the customer or to the customer.
func (g *Generator) letter(dir int) {
	lx, cu := g.ctx.lx, g.ctx.cu
	g.sub = append(g.sub, lx.letterSubject...)
	g.sub = g.one(g.sub, lx.subjects[g.ctx.topic])
	subj := g.sub[len(lx.letterSubject):]
	b := g.buf
	addr := func() {
		b = append(b, cu.name...)
		b = append(b, '\n')
		if lx == en {
			b = append(b, cu.house...)
			b = append(b, ' ')
			b = append(b, cu.street...)
			b = append(b, '\n')
			b = append(b, cu.city...)
			b = append(b, '\n')
			b = append(b, cu.postcode...)
		} else {
			b = append(b, cu.street...)
			b = append(b, ' ')
			b = append(b, cu.house...)
			b = append(b, '\n')
			b = append(b, cu.postcode...)
			b = append(b, "  "...)
			b = append(b, cu.city...)
		}
		b = append(b, "\n\n"...)
	}
	if dir == dirInbound {
		addr()
		b = append(b, lx.companyAddress...)
		b = append(b, "\n\n"...)
		b = append(b, cu.city...)
		b = append(b, ", "...)
		b = appendDate(b, g.ctx.day, 0, lx)
		b = append(b, "\n\n"...)
		if g.intn(3) == 0 {
			b = append(b, lx.yourRef...)
			b = strconv.AppendUint(b, g.ctx.ticket, 10)
			b = append(b, '\n')
		}
		b = append(b, lx.regarding...)
		b = append(b, subj...)
		b = append(b, "\n\n"...)
		b = append(b, lx.letterGreet...)
		b = append(b, "\n\n"...)
		b = g.one(b, lx.letterOpeners)
		b = append(b, ' ')
		b = g.custSentences(b, 3+g.intn(5), 45)
		b = append(b, "\n\n"...)
		b = g.one(b, lx.closers)
		b = append(b, "\n\n"...)
		b = append(b, lx.letterClose...)
		b = append(b, "\n\n\n"...)
		b = append(b, cu.name...)
		if g.intn(4) == 0 {
			b = append(b, "\n\n"...)
			b = append(b, g.oneOf(lx.letterEnclosures)...)
		}
		g.buf = b
		return
	}
	b = append(b, lx.companyLetterhead...)
	b = append(b, "\n\n"...)
	addr()
	b = appendDate(b, g.ctx.day, 0, lx)
	b = append(b, '\n')
	b = append(b, lx.ourRef...)
	b = strconv.AppendUint(b, g.ctx.ticket, 10)
	b = append(b, '\n')
	b = append(b, lx.regarding...)
	b = append(b, subj...)
	b = append(b, "\n\n"...)
	b = g.render(b, lx.letterSalute)
	b = append(b, "\n\n"...)
	b = g.one(b, lx.letterReplyOpeners)
	b = append(b, ' ')
	b = g.agentSentences(b, 3+g.intn(4), 45)
	b = append(b, "\n\n"...)
	b = g.one(b, lx.agentClose[:2])
	b = append(b, "\n\n"...)
	b = append(b, lx.closings[0]...)
	b = append(b, "\n\n\n"...)
	b = append(b, g.ctx.ag.name...)
	b = append(b, '\n')
	b = append(b, lx.department...)
	g.buf = b
}

// webForm builds the e-mail a website contact form sends.
func (g *Generator) webForm() {
	lx, cu := g.ctx.lx, g.ctx.cu
	topic := g.ctx.topic
	g.sub = append(g.sub, lx.webSubjectPrefix...)
	g.sub = append(g.sub, lx.webTopics[topic]...)
	b := g.buf
	b = append(b, lx.webTitle...)
	b = append(b, "\n\n"...)
	field := func(i int) {
		b = append(b, lx.webLabels[i]...)
		b = append(b, ": "...)
	}
	field(0)
	b = append(b, lx.webTopics[topic]...)
	b = append(b, '\n')
	field(1)
	b = append(b, cu.name...)
	b = append(b, '\n')
	field(2)
	b = append(b, cu.email...)
	b = append(b, '\n')
	if g.intn(10) < 6 {
		field(3)
		b = append(b, cu.phone...)
		b = append(b, '\n')
	}
	if topic == tOrder || topic == tDelivery || topic == tBilling {
		field(4)
		b = g.appendOrder(b)
		b = append(b, '\n')
	}
	b = append(b, lx.webLabels[5]...)
	b = append(b, ":\n"...)
	b = g.custSentences(b, 4+g.intn(5), 25)
	if g.intn(10) < 3 {
		b = append(b, "\n\n"...)
		b = g.render(b, lx.details[detailsFor[topic]])
	}
	if g.intn(2) == 0 {
		b = append(b, "\n\n-- \n"...)
		b = g.render(b, lx.webFooter)
		b = append(b, " 84."...)
		b = strconv.AppendInt(b, int64(g.intn(256)), 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(g.intn(256)), 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(1+g.intn(254)), 10)
	}
	g.buf = b
}

// internalNote builds an agent's note for colleagues.
func (g *Generator) internalNote() {
	lx := g.ctx.lx
	g.sub = g.one(g.sub, lx.otherSubject[:1])
	b := g.one(g.buf, lx.internalHead)
	var used uint64
	for n := 2 + g.intn(4); n > 0; n-- {
		b = append(b, ' ')
		b = g.render(b, lx.internal[g.pickDistinct(len(lx.internal), &used)])
	}
	b = append(b, "\n\n"...)
	b = append(b, lx.callSaid...)
	b = append(b, '"')
	b = g.custSentences(b, 1+g.intn(3), 0)
	b = append(b, '"')
	g.buf = b
}

// storeVisit builds a record of a customer's visit to a shop.
func (g *Generator) storeVisit() {
	lx := g.ctx.lx
	g.sub = g.render(g.sub, lx.otherSubject[1+g.intn(len(lx.otherSubject)-1)])
	b := g.one(g.buf, lx.storeVisit)
	b = append(b, ' ')
	b = g.custSentences(b, 2+g.intn(3), 0)
	b = append(b, "\n\n"...)
	b = g.agentSentences(b, 1+g.intn(3), 0)
	g.buf = b
}

// Attachment kinds.
const (
	attPDF = iota
	attJPEG
	attPNG
	attDOCX
	attHEIC
)

var attTypes = [...]string{
	attPDF:  "application/pdf",
	attJPEG: "image/jpeg",
	attPNG:  "image/png",
	attDOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	attHEIC: "image/heic",
}

var attMagic = [...]string{
	attPDF:  "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
	attJPEG: "\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01",
	attPNG:  "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
	attDOCX: "PK\x03\x04\x14\x00\x06\x00",
	attHEIC: "\x00\x00\x00\x18ftypheic",
}

// attachments returns one or two files of 4-200 KiB (log-uniform) of pseudo-random bytes
// behind the right magic number, named as customers' and agents' files are.
func (g *Generator) attachments(topic, dir int, lx *lexicon, t time.Time) []store.Attachment {
	n := 1
	if g.intn(100) < 15 {
		n = 2
	}
	out := make([]store.Attachment, n)
	for i := range out {
		kind, name := g.attachmentName(topic, dir, lx, t, i)
		size := int(4096 * math.Exp(g.float()*math.Log(50)))
		data := make([]byte, size)
		fillRandom(data, g.src.Uint64())
		copy(data, attMagic[kind])
		out[i] = store.Attachment{Name: name, Type: attTypes[kind], Data: data}
	}
	return out
}

// fillRandom fills p with incompressible pseudo-random bytes from a wyrand stream, much
// faster than a cryptographic stream and good enough to stand in for JPEG or PDF payloads.
func fillRandom(p []byte, seed uint64) {
	w := wyrand{seed}
	i := 0
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], w.Uint64())
	}
	if i < len(p) {
		var tail [8]byte
		binary.LittleEndian.PutUint64(tail[:], w.Uint64())
		copy(p[i:], tail[:])
	}
}

func (g *Generator) attachmentName(topic, dir int, lx *lexicon, t time.Time, i int) (int, string) {
	b := g.tmp[:0]
	y, mo, d := t.Date()
	hh, mm, ss := t.Clock()
	isoDate := func(sep byte) {
		b = strconv.AppendInt(b, int64(y), 10)
		b = append(b, sep)
		b = appendPad(b, uint64(mo), 2)
		b = append(b, sep)
		b = appendPad(b, uint64(d), 2)
	}
	isoTime := func(sep byte) {
		b = appendPad(b, uint64(hh), 2)
		b = append(b, sep)
		b = appendPad(b, uint64(mm), 2)
		b = append(b, sep)
		b = appendPad(b, uint64(ss), 2)
	}
	kind := attPDF
	r := g.intn(10)
	switch {
	case dir != dirInbound && topic == tDelivery:
		b = append(b, lx.attReturns...)
		b = append(b, '-')
		b = g.appendOrderDigits(b)
		b = append(b, ".pdf"...)
	case dir != dirInbound || topic == tBilling && r < 7:
		b = append(b, lx.attInvoice...)
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(y), 10)
		b = append(b, '-')
		b = appendPad(b, g.ctx.invoice%10000, 4)
		b = append(b, ".pdf"...)
	case topic == tOrder && r < 6:
		b = append(b, lx.attOrder...)
		b = append(b, '-')
		b = g.appendOrderDigits(b)
		b = append(b, ".pdf"...)
	case (topic == tDelivery || topic == tComplaint) && r < 8:
		switch g.intn(4) {
		case 0:
			kind = attJPEG
			b = append(b, lx.attDamage...)
			b = append(b, '-')
			b = strconv.AppendInt(b, int64(i+1), 10)
			b = append(b, ".jpg"...)
		case 1:
			kind = attJPEG
			b = append(b, "IMG_"...)
			b = strconv.AppendInt(b, int64(y), 10)
			b = appendPad(b, uint64(mo), 2)
			b = appendPad(b, uint64(d), 2)
			b = append(b, '_')
			b = appendPad(b, uint64(hh), 2)
			b = appendPad(b, uint64(mm), 2)
			b = appendPad(b, uint64(ss+i), 2)
			b = append(b, ".jpg"...)
		case 2:
			kind = attJPEG
			b = append(b, "WhatsApp Image "...)
			isoDate('-')
			b = append(b, " at "...)
			isoTime('.')
			b = append(b, ".jpeg"...)
		default:
			kind = attHEIC
			b = append(b, "IMG_"...)
			b = appendPad(b, uint64(1000+g.intn(9000)), 4)
			b = append(b, ".HEIC"...)
		}
	case r < 4:
		kind = attPNG
		b = append(b, lx.attScreenshot...)
		b = append(b, ' ')
		isoDate('-')
		b = append(b, lx.attAt...)
		isoTime('.')
		b = append(b, ".png"...)
	case r < 6:
		b = append(b, lx.attPassport...)
		b = append(b, ".pdf"...)
	case r < 8:
		kind = attDOCX
		b = append(b, lx.attLetter...)
		b = append(b, ".docx"...)
	default:
		b = append(b, lx.attMandate...)
		b = append(b, ".pdf"...)
	}
	g.tmp = b
	return kind, string(b)
}

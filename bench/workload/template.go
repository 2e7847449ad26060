package workload

import (
	"strconv"
	"strings"
)

// A template is a sentence with slots, e.g. "Bestelling {order} is op {date} verzonden.".
// Templates are parsed once, at package initialisation, into literal and slot segments,
// so rendering is a sequence of appends.

type slot uint8

const (
	slotLit slot = iota
	slotDate
	slotDate2
	slotOrder
	slotProduct
	slotProduct2
	slotAmount
	slotAmount2
	slotTrack
	slotCarrier
	slotInvoice
	slotIBAN
	slotAddr
	slotNewAddr
	slotStreet
	slotCity
	slotName
	slotFirst
	slotSal
	slotAgent
	slotAgentFull
	slotQty
	slotDays
	slotWeeks
	slotN
	slotCode
	slotTicket
	slotPhone
	slotEmail
	slotPct
	slotVAT
	slotOther
	slotTime
	slotHandle
	slotInitials
	slotPostcode
	slotHouse
	slotMinutes
	slotToday
)

var slotByName = map[string]slot{
	"date": slotDate, "date2": slotDate2, "order": slotOrder, "product": slotProduct,
	"product2": slotProduct2, "amount": slotAmount, "amount2": slotAmount2, "track": slotTrack,
	"carrier": slotCarrier, "invoice": slotInvoice, "iban": slotIBAN, "addr": slotAddr,
	"newaddr": slotNewAddr, "street": slotStreet, "city": slotCity, "name": slotName,
	"first": slotFirst, "sal": slotSal, "agent": slotAgent, "agentfull": slotAgentFull,
	"qty": slotQty, "days": slotDays, "weeks": slotWeeks, "n": slotN, "code": slotCode,
	"ticket": slotTicket, "phone": slotPhone, "email": slotEmail, "pct": slotPct, "vat": slotVAT,
	"other": slotOther, "time": slotTime, "handle": slotHandle, "initials": slotInitials,
	"postcode": slotPostcode, "house": slotHouse, "minutes": slotMinutes, "today": slotToday,
}

type seg struct {
	lit  string
	slot slot
}

type tmpl []seg

// compile parses one template. It panics on a malformed template: templates are constants
// of this package, so a mistake shows at the first test run.
func compile(src string) tmpl {
	var t tmpl
	for len(src) > 0 {
		i := strings.IndexByte(src, '{')
		if i < 0 {
			t = append(t, seg{lit: src})
			break
		}
		if i > 0 {
			t = append(t, seg{lit: src[:i]})
		}
		j := strings.IndexByte(src[i:], '}')
		if j < 0 {
			panic("workload: unterminated slot in template " + strconv.Quote(src))
		}
		s, ok := slotByName[src[i+1:i+j]]
		if !ok {
			panic("workload: unknown slot " + src[i:i+j+1] + " in template " + strconv.Quote(src))
		}
		t = append(t, seg{slot: s})
		src = src[i+j+1:]
	}
	return t
}

// tl compiles a list of templates.
func tl(src ...string) []tmpl {
	out := make([]tmpl, len(src))
	for i, s := range src {
		out[i] = compile(s)
	}
	return out
}

// appendPad appends v in decimal, zero-padded to width digits.
func appendPad(b []byte, v uint64, width int) []byte {
	var d [20]byte
	i := len(d)
	for v >= 10 {
		i--
		d[i] = byte('0' + v%10)
		v /= 10
	}
	i--
	d[i] = byte('0' + v)
	for n := len(d) - i; n < width; n++ {
		b = append(b, '0')
	}
	return append(b, d[i:]...)
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
// algorithm); it is much cheaper than going through time.Time.
func civil(days int64) (y, m, d int) {
	z := days + 719468
	era := z / 146097
	if z < 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	y = int(yoe + era*400)
	if m <= 2 {
		y++
	}
	return y, m, d
}

// weekday returns 0 for Sunday .. 6 for Saturday.
func weekday(days int64) int { return int(((days+4)%7 + 7) % 7) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// appendDate writes a date (days since the epoch) in one of the language's styles:
// 0 long ("12 maart 2025", "12 March 2025"), 1 numeric ("12-03-2025", "12/03/2025"),
// 2 without year ("12 maart").
func appendDate(b []byte, days int64, style int, lx *lexicon) []byte {
	y, m, d := civil(days)
	switch style {
	case 1:
		b = appendPad(b, uint64(d), 2)
		b = append(b, lx.dateSep)
		b = appendPad(b, uint64(m), 2)
		b = append(b, lx.dateSep)
		return strconv.AppendInt(b, int64(y), 10)
	case 2:
		b = strconv.AppendInt(b, int64(d), 10)
		b = append(b, ' ')
		return append(b, lx.months[m-1]...)
	}
	b = strconv.AppendInt(b, int64(d), 10)
	b = append(b, ' ')
	b = append(b, lx.months[m-1]...)
	b = append(b, ' ')
	return strconv.AppendInt(b, int64(y), 10)
}

// appendClock writes hh:mm of a Unix time (UTC).
func appendClock(b []byte, unix int64, sep byte) []byte {
	s := unix - floorDiv(unix, 86400)*86400
	b = appendPad(b, uint64(s/3600), 2)
	b = append(b, sep)
	return appendPad(b, uint64(s/60%60), 2)
}

// appendAmount writes an amount in cents in a style of the language: Dutch "€ 1.249,95",
// "€1249,95" or "1.249,95 euro"; English "€1,249.95", "EUR 1,249.95" or "1249.95 euros".
func appendAmount(b []byte, cents int64, style int, lx *lexicon) []byte {
	euros, c := cents/100, cents%100
	grouped := style != 1
	if lx.code == "en" {
		grouped = style != 2
	}
	switch style {
	case 0:
		b = append(b, lx.euro0...)
	case 1:
		b = append(b, lx.euro1...)
	}
	if grouped && euros >= 1000 {
		b = strconv.AppendInt(b, euros/1000, 10)
		b = append(b, lx.thousands)
		b = appendPad(b, uint64(euros%1000), 3)
	} else {
		b = strconv.AppendInt(b, euros, 10)
	}
	b = append(b, lx.decimal)
	b = appendPad(b, uint64(c), 2)
	if style == 2 {
		b = append(b, lx.euroSuffix...)
	}
	return b
}

package workload

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"unicode/utf8"
)

// customer is one synthetic customer. Every field is a function of the seed and the
// customer's index only.
type customer struct {
	id       string
	lang     int // index into lexicons
	female   bool
	first    string
	last     string
	name     string // first + " " + last
	sal      string // salutation without greeting: "mevrouw De Vries", "Mr Smith"
	initials string // "J. de Vries"
	email    string
	email2   string // a second (work) address, sometimes
	phone    string
	street   string
	house    string
	postcode string
	city     string
	iban     string
	handle   string // social-media handle without "@"
}

// addr returns the customer's one-line postal address.
func (c *customer) addrLine(b []byte, lang int) []byte {
	if lang == langEN {
		b = append(b, c.house...)
		b = append(b, ' ')
		b = append(b, c.street...)
		b = append(b, ", "...)
		b = append(b, c.city...)
		b = append(b, ' ')
		return append(b, c.postcode...)
	}
	b = append(b, c.street...)
	b = append(b, ' ')
	b = append(b, c.house...)
	b = append(b, ", "...)
	b = append(b, c.postcode...)
	b = append(b, ' ')
	return append(b, c.city...)
}

// population holds the customers, built lazily, and the distribution contacts are drawn
// from.
type population struct {
	seed      uint64
	n         int
	cdf       []float64 // cumulative Zipf weights by rank, nil when uniform
	perm      []int32   // rank -> customer index
	customers []*customer
}

func newPopulation(cfg Config, rng *rand.Rand) *population {
	p := &population{seed: uint64(cfg.Seed), n: cfg.Customers, customers: make([]*customer, cfg.Customers)}
	if cfg.Skew > 0 && cfg.Customers > 1 {
		p.cdf = make([]float64, cfg.Customers)
		sum := 0.0
		for k := range p.cdf {
			sum += math.Pow(float64(k+1), -cfg.Skew)
			p.cdf[k] = sum
		}
		for k := range p.cdf {
			p.cdf[k] /= sum
		}
		p.perm = make([]int32, cfg.Customers)
		for i := range p.perm {
			p.perm[i] = int32(i)
		}
		rng.Shuffle(len(p.perm), func(i, j int) { p.perm[i], p.perm[j] = p.perm[j], p.perm[i] })
	}
	return p
}

// pick draws the customer index of the next contact.
func (p *population) pick(g *Generator) int {
	if p.cdf == nil {
		return g.intn(p.n)
	}
	u := g.float()
	lo, hi := 0, len(p.cdf)-1
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if p.cdf[mid] <= u {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return int(p.perm[lo])
}

// get returns customer i, building it on first use. i is reduced modulo the population
// size if out of range.
func (p *population) get(i int) *customer {
	if i < 0 || i >= p.n {
		i = ((i % p.n) + p.n) % p.n
	}
	c := p.customers[i]
	if c == nil {
		c = buildCustomer(p.seed, i)
		p.customers[i] = c
	}
	return c
}

func customerID(i int) string {
	var b [24]byte
	out := append(b[:0], "cust-"...)
	out = appendPad(out, uint64(i), 6)
	return string(out)
}

// buildCustomer derives customer i from its own random stream, so customers do not depend
// on the order in which they are first used.
func buildCustomer(seed uint64, i int) *customer {
	r := rand.New(rand.NewPCG(seed^0x510e527fade682d1, uint64(i)*0x9e3779b97f4a7c15^0x1f83d9abfb41bd6b))
	c := &customer{id: customerID(i)}
	if r.IntN(100) >= 60 {
		c.lang = langEN
	}
	lx := lexicons[c.lang]
	c.female = r.IntN(2) == 0
	if c.female {
		c.first = lx.female[r.IntN(len(lx.female))]
	} else {
		c.first = lx.male[r.IntN(len(lx.male))]
	}
	c.last = lx.surnames[r.IntN(len(lx.surnames))]
	c.name = c.first + " " + c.last
	first, _ := utf8.DecodeRuneInString(c.first)
	c.initials = string(first) + ". " + c.last
	switch {
	case !c.female:
		c.sal = lx.mr + " " + capFirst(c.last)
	case c.lang == langEN && r.IntN(3) == 0:
		c.sal = "Mrs " + c.last
	default:
		c.sal = lx.mrs + " " + capFirst(c.last)
	}

	c.street = lx.streets[r.IntN(len(lx.streets))]
	c.house = houseNumber(r, c.lang)
	city := lx.cities[r.IntN(len(lx.cities))]
	c.city = city.name
	c.postcode = postcode(r, c.lang, city.code)

	c.email = emailAddress(r, c.first, c.last, c.lang)
	if r.IntN(100) < 15 {
		c.email2 = workAddress(r, c.first, c.last, c.lang)
	}
	c.phone = phoneNumber(r, c.lang)
	c.iban = iban(r, c.lang)
	f, l := fold(c.first), fold(c.last)
	switch r.IntN(4) {
	case 0:
		c.handle = f + "_" + l[:min(3, len(l))]
	case 1:
		c.handle = f + strconv.Itoa(r.IntN(100))
	case 2:
		c.handle = strings.ToUpper(f[:1]) + f[1:] + strings.ToUpper(l[:1]) + l[1:]
	default:
		c.handle = l + "_" + f[:1]
	}
	return c
}

// capFirst upper-cases the first letter: "de Vries" -> "De Vries" (the Dutch rule for a
// surname without first name or initials).
func capFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// foldMap maps the letters with diacritics used in the name lists to ASCII.
var foldMap = map[rune]string{
	'á': "a", 'à': "a", 'ä': "a", 'â': "a", 'å': "a", 'é': "e", 'è': "e", 'ë': "e", 'ê': "e",
	'í': "i", 'ï': "i", 'ı': "i", 'İ': "i", 'ó': "o", 'ö': "o", 'ô': "o", 'ø': "o", 'ú': "u",
	'ü': "u", 'ç': "c", 'ğ': "g", 'ş': "s", 'ñ': "n", 'ß': "ss", 'Ö': "o", 'Ü': "u", 'Ç': "c",
	'Ş': "s", 'É': "e",
}

// fold lower-cases s and reduces it to the ASCII letters and digits an e-mail local part
// is made of: "Zoë" -> "zoe", "van der Meer" -> "vandermeer".
func fold(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r - 'A' + 'a')
		default:
			if f, ok := foldMap[r]; ok {
				b.WriteString(f)
			}
		}
	}
	if b.Len() == 0 {
		return "x"
	}
	return b.String()
}

type weighted struct {
	s string
	w int
}

func pickWeighted(r *rand.Rand, list []weighted) string {
	total := 0
	for _, e := range list {
		total += e.w
	}
	n := r.IntN(total)
	for _, e := range list {
		if n < e.w {
			return e.s
		}
		n -= e.w
	}
	return list[len(list)-1].s
}

var mailDomains = [2][]weighted{
	langNL: {{"gmail.com", 26}, {"hotmail.com", 12}, {"outlook.com", 8}, {"ziggo.nl", 10}, {"kpnmail.nl", 7},
		{"live.nl", 5}, {"hetnet.nl", 3}, {"home.nl", 3}, {"planet.nl", 3}, {"xs4all.nl", 3}, {"icloud.com", 5},
		{"yahoo.com", 2}, {"upcmail.nl", 2}, {"telfort.nl", 1}, {"casema.nl", 1}, {"proton.me", 1}},
	langEN: {{"gmail.com", 28}, {"outlook.com", 10}, {"hotmail.co.uk", 10}, {"btinternet.com", 7},
		{"yahoo.co.uk", 6}, {"icloud.com", 7}, {"sky.com", 4}, {"virginmedia.com", 4}, {"live.co.uk", 3},
		{"aol.com", 2}, {"eircom.net", 2}, {"talktalk.net", 2}, {"proton.me", 1}},
}

// idnDomains are internationalised domain names, written in Unicode.
var idnDomains = []string{"müller.de", "bäckerei-schröder.de", "straßenbau-köhler.de", "café-zuid.com",
	"zürich-reisen.ch", "björk.se", "küche-und-mehr.de", "mañana-viajes.es", "årstiderna.se", "élan-design.fr"}

var trades = [2][]string{
	langNL: {"installatie", "bouw", "advies", "bv", "consultancy", "tandartsen", "makelaardij", "transport",
		"kapsalon", "administratie", "schilders", "ict", "notarissen", "fysio", "bakkerij"},
	langEN: {"plumbing", "builders", "consulting", "ltd", "accountants", "dental", "estates", "haulage",
		"salon", "solicitors", "decorators", "it", "joinery", "physio", "bakery"},
}

var companyTLD = [2][]string{langNL: {".nl", ".nl", ".nl", ".com", ".eu"}, langEN: {".co.uk", ".co.uk", ".com", ".uk", ".ie"}}

func emailAddress(r *rand.Rand, first, last string, lang int) string {
	f, l := fold(first), fold(last)
	var local string
	switch r.IntN(9) {
	case 0, 1:
		local = f + "." + l
	case 2:
		local = f + l
	case 3:
		local = f[:1] + "." + l
	case 4:
		local = f + "_" + l
	case 5:
		local = f + strconv.Itoa(r.IntN(9000)+10)
	case 6:
		local = l + f[:1]
	case 7:
		y := (60 + r.IntN(46)) % 100
		local = f + "." + l + string([]byte{byte('0' + y/10), byte('0' + y%10)})
	default:
		local = f[:1] + l + strconv.Itoa(r.IntN(100))
	}
	var domain string
	switch n := r.IntN(100); {
	case n < 2:
		domain = idnDomains[r.IntN(len(idnDomains))]
	case n < 10:
		return workAddress(r, first, last, lang)
	default:
		domain = pickWeighted(r, mailDomains[lang])
	}
	return local + "@" + domain
}

func workAddress(r *rand.Rand, first, last string, lang int) string {
	f, l := fold(first), fold(last)
	t := trades[lang]
	tld := companyTLD[lang]
	domain := l + "-" + t[r.IntN(len(t))] + tld[r.IntN(len(tld))]
	switch r.IntN(4) {
	case 0:
		return "info@" + domain
	case 1:
		return f + "@" + domain
	default:
		return f[:1] + "." + l + "@" + domain
	}
}

func digits(b []byte, r *rand.Rand, n int) []byte {
	for ; n > 0; n-- {
		b = append(b, byte('0'+r.IntN(10)))
	}
	return b
}

var nlAreas3 = []string{"20", "10", "70", "30", "40", "50", "13", "24", "26", "35", "38", "43", "53", "55", "58", "71", "72", "73", "76", "78", "15", "23", "33", "36", "45", "46"}
var nlAreas4 = []string{"297", "118", "164", "172", "180", "182", "222", "229", "251", "314", "318", "341", "343", "411", "481", "495", "511", "513", "522", "546", "575", "592"}
var ukAreas = []string{"20 7946", "20 8496", "161 496", "113 496", "121 496", "131 496", "141 496", "117 496", "114 496", "191 498", "29 2018", "1632 960"}

// phoneNumber returns a phone number in one of the formats people actually type.
func phoneNumber(r *rand.Rand, lang int) string {
	b := make([]byte, 0, 20)
	if lang == langNL {
		switch n := r.IntN(100); {
		case n < 70: // mobile
			var d [8]byte
			digits(d[:0], r, 8)
			switch r.IntN(7) {
			case 0:
				b = append(append(b, "06-"...), d[:]...)
			case 1:
				b = append(append(b, "06 "...), d[:]...)
			case 2:
				b = append(append(b, "06"...), d[:]...)
			case 3:
				b = append(append(b, "+31 6 "...), d[:]...)
			case 4:
				b = append(append(b, "+316"...), d[:]...)
			case 5:
				b = append(append(b, "00316"...), d[:]...)
			default:
				b = append(append(append(append(b, "06-"...), d[:4]...), ' '), d[4:]...)
			}
		case n < 85: // three-digit area code
			a := nlAreas3[r.IntN(len(nlAreas3))]
			var d [7]byte
			digits(d[:0], r, 7)
			switch r.IntN(4) {
			case 0:
				b = append(append(append(append(b, '0'), a...), '-'), d[:]...)
			case 1:
				b = append(append(append(append(b, "+31 "...), a...), ' '), d[:3]...)
				b = append(append(b, ' '), d[3:]...)
			case 2:
				b = append(append(append(append(b, '0'), a...), ' '), d[:3]...)
				b = append(append(append(append(b, ' '), d[3:5]...), ' '), d[5:]...)
			default:
				b = append(append(append(b, "0031"...), a...), d[:]...)
			}
		case n < 95: // four-digit area code
			a := nlAreas4[r.IntN(len(nlAreas4))]
			var d [6]byte
			digits(d[:0], r, 6)
			if r.IntN(2) == 0 {
				b = append(append(append(append(b, '0'), a...), '-'), d[:]...)
			} else {
				b = append(append(append(append(b, "+31 "...), a...), ' '), d[:]...)
			}
		case n < 98: // Belgian mobile
			b = append(b, "+32 4"...)
			b = digits(b, r, 2)
			for k := 0; k < 3; k++ {
				b = digits(append(b, ' '), r, 2)
			}
		default: // German mobile
			b = append(b, "+49 15"...)
			b = digits(b, r, 1)
			b = digits(append(b, ' '), r, 8)
		}
		return string(b)
	}
	switch n := r.IntN(100); {
	case n < 60: // UK mobile, the Ofcom drama range
		var d [3]byte
		digits(d[:0], r, 3)
		switch r.IntN(4) {
		case 0:
			b = append(append(b, "07700 900"...), d[:]...)
		case 1:
			b = append(append(b, "+44 7700 900"...), d[:]...)
		case 2:
			b = append(append(b, "+447700900"...), d[:]...)
		default:
			b = append(append(b, "07700900"...), d[:]...)
		}
	case n < 85: // UK landline
		a := ukAreas[r.IntN(len(ukAreas))]
		if r.IntN(2) == 0 {
			b = append(append(b, '0'), a...)
		} else {
			b = append(append(b, "+44 "...), a...)
		}
		b = digits(append(b, ' '), r, 3)
		if len(a) < 7 {
			b = digits(b, r, 1)
		}
	case n < 95: // Irish mobile
		if r.IntN(2) == 0 {
			b = append(b, "+353 8"...)
		} else {
			b = append(b, "08"...)
		}
		b = append(b, byte('3'+r.IntN(7)))
		b = digits(append(b, ' '), r, 3)
		b = digits(append(b, ' '), r, 4)
	default: // North American fictional range
		b = append(b, "+1 "...)
		b = digits(b, r, 3)
		b = append(b, " 555 01"...)
		b = digits(b, r, 2)
	}
	return string(b)
}

func houseNumber(r *rand.Rand, lang int) string {
	n := 1 + int(math.Exp(r.Float64()*math.Log(250)))
	s := strconv.Itoa(n)
	if lang == langNL {
		switch r.IntN(12) {
		case 0:
			s += string(rune('A' + r.IntN(4)))
		case 1:
			s += "-" + strconv.Itoa(1+r.IntN(3))
		case 2:
			s += " bis"
		case 3:
			s += "-hs"
		}
		return s
	}
	switch r.IntN(15) {
	case 0:
		s += string(rune('a' + r.IntN(3)))
	case 1:
		s = "Flat " + strconv.Itoa(1+r.IntN(20)) + ", " + s
	}
	return s
}

// postcode returns a Dutch ("3511 AB", within the city's range) or British ("LS1 4AB")
// postcode.
func postcode(r *rand.Rand, lang int, code string) string {
	b := make([]byte, 0, 8)
	if lang == langNL {
		b = append(b, code...)
		b = digits(b, r, 4-len(code))
		b = append(b, ' ', byte('A'+r.IntN(26)), byte('A'+r.IntN(26)))
		return string(b)
	}
	b = append(b, code...)
	b = append(b, byte('1'+r.IntN(9)))
	if r.IntN(3) == 0 {
		b = append(b, byte('0'+r.IntN(10)))
	}
	const letters = "ABDEFGHJLNPQRSTUWXYZ"
	b = append(b, ' ', byte('1'+r.IntN(9)), letters[r.IntN(len(letters))], letters[r.IntN(len(letters))])
	return string(b)
}

var nlBanks = []string{"ABNA", "INGB", "INGB", "RABO", "RABO", "SNSB", "ASNB", "TRIO", "KNAB", "BUNQ", "RBRB"}
var ukBanks = []string{"NWBK", "BARC", "LOYD", "HBUK", "MIDL", "NAIA", "MONZ"}

// iban returns an IBAN with correct check digits, grouped in fours or not.
func iban(r *rand.Rand, lang int) string {
	var country string
	bban := make([]byte, 0, 30)
	if lang == langNL {
		country = "NL"
		bban = append(bban, nlBanks[r.IntN(len(nlBanks))]...)
		bban = digits(bban, r, 10)
	} else {
		country = "GB"
		if r.IntN(8) == 0 {
			country = "IE"
			bban = append(bban, []string{"AIBK", "BOFI", "IPBS"}[r.IntN(3)]...)
		} else {
			bban = append(bban, ukBanks[r.IntN(len(ukBanks))]...)
		}
		bban = digits(bban, r, 14)
	}
	// ISO 13616 check digits: BBAN + country + "00" as a number, mod 97.
	rem := 0
	add := func(c byte) {
		if c >= 'A' && c <= 'Z' {
			v := int(c-'A') + 10
			rem = (rem*100 + v) % 97
		} else {
			rem = (rem*10 + int(c-'0')) % 97
		}
	}
	for _, c := range bban {
		add(c)
	}
	add(country[0])
	add(country[1])
	add('0')
	add('0')
	check := 98 - rem
	plain := make([]byte, 0, 34)
	plain = append(plain, country...)
	plain = append(plain, byte('0'+check/10), byte('0'+check%10))
	plain = append(plain, bban...)
	if r.IntN(3) == 0 {
		return string(plain)
	}
	grouped := make([]byte, 0, 42)
	for i, c := range plain {
		if i > 0 && i%4 == 0 {
			grouped = append(grouped, ' ')
		}
		grouped = append(grouped, c)
	}
	return string(grouped)
}

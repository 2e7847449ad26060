package mbox

import (
	"errors"
	"fmt"
	"mime"
	"net/mail"
	"regexp"
	"strings"
)

// companyMatcher tells the company's addresses from the customers'.
type companyMatcher struct {
	addrs   map[string]bool // lower-case addresses
	domains map[string]bool // lower-case domains, without "@"
}

// newCompanyMatcher builds a matcher from addresses and "@domain" entries.
func newCompanyMatcher(mailboxes []string) (companyMatcher, error) {
	if len(mailboxes) == 0 {
		return companyMatcher{}, errors.New("Options.Mailboxes is empty: the company's addresses are required")
	}
	m := companyMatcher{addrs: map[string]bool{}, domains: map[string]bool{}}
	for i, mb := range mailboxes {
		mb = strings.ToLower(strings.TrimSpace(mb))
		at := strings.LastIndexByte(mb, '@')
		switch {
		case at < 0 || at == len(mb)-1 || strings.ContainsAny(mb, " \t<>,"):
			return companyMatcher{}, fmt.Errorf("Options.Mailboxes[%d]: not an address or @domain", i)
		case at == 0:
			m.domains[mb[1:]] = true
		default:
			m.addrs[mb] = true
		}
	}
	return m, nil
}

// isCompany reports whether addr is one of the company's.
func (m companyMatcher) isCompany(addr string) bool {
	addr = strings.ToLower(addr)
	if m.addrs[addr] {
		return true
	}
	at := strings.LastIndexByte(addr, '@')
	return at >= 0 && m.domains[addr[at+1:]]
}

// parseAddresses returns the addresses of a header value (already made valid UTF-8). It
// falls back to picking out anything shaped like an address when net/mail rejects the value,
// as it does for many real headers (unquoted dots and commas in names, stray brackets).
func parseAddresses(dec *mime.WordDecoder, v string) []*mail.Address {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	p := mail.AddressParser{WordDecoder: dec}
	if list, err := p.ParseList(v); err == nil {
		return list
	}
	var list []*mail.Address
	for _, m := range looseAddress.FindAllStringSubmatch(v, 16) {
		a := m[1]
		if a == "" {
			a = m[2]
		}
		list = append(list, &mail.Address{Address: a})
	}
	return list
}

// looseAddress matches "<local@domain>" or a bare local@domain.
var looseAddress = regexp.MustCompile(`<([^<>\s@]+@[^<>\s@]+\.[^<>\s@]+)>|([^<>\s@"(),;:\[\]]+@[^<>\s@"(),;:\[\]]+\.[^<>\s@"(),;:\[\]]+)`)

// customerID is an address as a stable customer id: all in lower case (see the package
// comment for why the local part too).
func customerID(addr string) string {
	return strings.ToLower(strings.TrimSpace(addr))
}

// displayName returns the name of a, or its address when it has none.
func displayName(a *mail.Address) string {
	if n := strings.TrimSpace(a.Name); n != "" {
		return n
	}
	return a.Address
}

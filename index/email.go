package index

import (
	"fmt"
	"net/mail"
	"net/url"
	"strings"

	"golang.org/x/net/idna"
)

// Limits on e-mail addresses, in octets of the canonical form (RFC 5321 §4.5.3.1).
const (
	maxEmailInput = 1024 // raw input, display name included
	maxLocalLen   = 64
	maxDomainLen  = 253 // textual form without the trailing dot (255 on the wire)
	maxLabelLen   = 63
	maxEmailLen   = 254 // the 256-octet path less "<" and ">"
)

// domainProfile converts domains to ASCII: the UTS #46 lookup mapping (case and width
// folding, non-transitional), STD3 rules, hyphen, joiner and BiDi checks. Lengths are
// checked afterwards, once the trailing dot is gone.
var domainProfile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.Transitional(false),
	idna.StrictDomainName(true),
	idna.CheckHyphens(true),
	idna.CheckJoiners(true),
)

// Email returns the canonical form of an e-mail address; see the package documentation.
func (n Normalizer) Email(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", invalid(KindEmail, "empty")
	}
	if len(s) > maxEmailInput {
		return "", invalid(KindEmail, fmt.Sprintf("longer than %d bytes", maxEmailInput))
	}
	if err := checkText(KindEmail, s); err != nil {
		return "", err
	}
	s, err := stripMailto(s)
	if err != nil {
		return "", err
	}
	local, domain, err := splitAddress(dropRootDot(s))
	if err != nil {
		return "", err
	}
	if domain, err = canonicalDomain(domain); err != nil {
		return "", err
	}
	if n.FoldProviders && isDotAtom(local) {
		local, domain = foldProvider(local, domain)
	}
	local = quoteLocal(local)
	switch {
	case len(local) > maxLocalLen:
		return "", invalid(KindEmail, fmt.Sprintf("local part longer than %d octets", maxLocalLen))
	case len(local)+1+len(domain) > maxEmailLen:
		return "", invalid(KindEmail, fmt.Sprintf("longer than %d octets", maxEmailLen))
	}
	return local + "@" + domain, nil
}

// stripMailto turns a mailto: URI into the address it names: percent-decoded, without the
// query. Anything else is returned as is.
func stripMailto(s string) (string, error) {
	const scheme = "mailto:"
	if len(s) < len(scheme) || !strings.EqualFold(s[:len(scheme)], scheme) {
		return s, nil
	}
	s, _, _ = strings.Cut(s[len(scheme):], "?")
	u, err := url.PathUnescape(s)
	if err != nil {
		return "", invalid(KindEmail, "bad percent-encoding in mailto URI")
	}
	// The decoded text must pass the same checks as the raw input.
	return strings.TrimSpace(u), checkText(KindEmail, u)
}

// dropRootDot removes one trailing dot (the DNS root) from the domain of a bare addr-spec
// or of a name-addr's angle-addr, which net/mail would refuse: "jan@x.nl." is "jan@x.nl".
func dropRootDot(s string) string {
	switch {
	case strings.HasSuffix(s, ".."), strings.HasSuffix(s, "..>"):
		return s // not a root dot: let the parser refuse it
	case strings.HasSuffix(s, ".>"):
		return s[:len(s)-2] + ">"
	case strings.HasSuffix(s, "."):
		return s[:len(s)-1]
	}
	return s
}

// splitAddress parses one address (addr-spec or name-addr) with net/mail and returns its
// local part, unquoted, and its domain. net/mail's errors quote the input, so they are
// replaced by ours.
func splitAddress(s string) (local, domain string, err error) {
	if !strings.Contains(s, "@") {
		return "", "", invalid(KindEmail, "missing @")
	}
	a, perr := mail.ParseAddress(s)
	if perr != nil {
		return "", "", invalid(KindEmail, "not an RFC 5322 address")
	}
	// The domain (a dot-atom or a domain literal) has no "@": the last one separates.
	i := strings.LastIndexByte(a.Address, '@')
	if i < 0 {
		return "", "", invalid(KindEmail, "missing @")
	}
	local, domain = a.Address[:i], a.Address[i+1:]
	switch {
	case local == "":
		return "", "", invalid(KindEmail, "empty local part")
	case domain == "":
		return "", "", invalid(KindEmail, "empty domain")
	case strings.HasPrefix(domain, "["):
		return "", "", invalid(KindEmail, "address literal domain")
	}
	// net/mail lets tabs through inside quoted strings; refuse them as the raw input would be.
	if err := checkText(KindEmail, local); err != nil {
		return "", "", err
	}
	return local, domain, nil
}

// canonicalDomain returns domain in lower-case IDNA ASCII form without a trailing dot.
func canonicalDomain(domain string) (string, error) {
	d, err := domainProfile.ToASCII(domain)
	if err != nil {
		return "", invalid(KindEmail, "domain is not a valid IDNA host name")
	}
	d = strings.TrimSuffix(d, ".")
	if d == "" {
		return "", invalid(KindEmail, "empty domain")
	}
	if len(d) > maxDomainLen {
		return "", invalid(KindEmail, fmt.Sprintf("domain longer than %d octets", maxDomainLen))
	}
	for label := range strings.SplitSeq(d, ".") {
		if label == "" {
			return "", invalid(KindEmail, "empty label in domain")
		}
		if len(label) > maxLabelLen {
			return "", invalid(KindEmail, fmt.Sprintf("domain label longer than %d octets", maxLabelLen))
		}
	}
	return d, nil
}

// isAtext reports whether r is RFC 5322 atext, with RFC 6532's UTF-8 extension: as net/mail
// reads it.
func isAtext(r rune) bool {
	switch r {
	case '(', ')', '<', '>', '[', ']', ':', ';', '@', '\\', ',', '"', '.':
		return false
	}
	return '!' <= r && r <= '~' || r >= 0x80
}

// isDotAtom reports whether s is an RFC 5322 dot-atom: atext runs separated by single dots.
func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		if r != '.' && !isAtext(r) {
			return false
		}
	}
	return true
}

// quoteLocal returns the canonical form of an unquoted local part: itself if it is a
// dot-atom, otherwise a quoted-string escaping only '"' and '\'.
func quoteLocal(local string) string {
	if isDotAtom(local) {
		return local
	}
	var b strings.Builder
	b.Grow(len(local) + 2)
	b.WriteByte('"')
	for i := 0; i < len(local); i++ {
		if c := local[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(local[i])
	}
	b.WriteByte('"')
	return b.String()
}

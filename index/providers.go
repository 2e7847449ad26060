package index

import "strings"

// providerRule says how a provider reads the local part of its own addresses.
type providerRule struct {
	canonical string // the domain to write, when the provider has equivalent domains
	lower     bool   // local parts are case-insensitive
	noDots    bool   // dots in the local part are ignored
	plusTag   bool   // "+tag" (sub-addressing, RFC 5233) is ignored
}

// providers lists only what the providers document (cited by article title; the help
// centres move their pages around):
//   - Gmail: Google's Gmail Help "Dots don't matter in Gmail addresses" (dots ignored), and
//     "Create task-specific email addresses" (anything after "+" ignored); Gmail and
//     Googlemail are the same service, googlemail.com mailboxes also receive at gmail.com.
//     Gmail usernames are case-insensitive.
//   - Outlook.com (outlook.com, hotmail.com, live.com): case-insensitive; plus addressing
//     (Microsoft's "Plus addressing" for Outlook.com and Exchange Online). Dots are
//     significant. Only these three domains: the national variants (hotmail.nl, …) are
//     left alone.
//   - iCloud Mail (icloud.com, me.com, mac.com): case-insensitive; "+tag" sub-addresses are
//     delivered to the base address (widely reported, receive-only). The three domains
//     are different addresses of one account, not the same address: they are not merged.
//   - Fastmail (fastmail.com, fastmail.fm): Fastmail Help "Plus addressing and subdomain
//     addressing". Case is left as is.
//   - Proton Mail (proton.me, protonmail.com, protonmail.ch, pm.me): Proton support "Types
//     of email addresses and aliases" (+Alias); case-insensitive. Proton is reported to
//     ignore dots, hyphens and underscores too, but does not document it: not applied.
var providers = map[string]providerRule{
	"gmail.com":      {canonical: "gmail.com", lower: true, noDots: true, plusTag: true},
	"googlemail.com": {canonical: "gmail.com", lower: true, noDots: true, plusTag: true},
	"outlook.com":    {lower: true, plusTag: true},
	"hotmail.com":    {lower: true, plusTag: true},
	"live.com":       {lower: true, plusTag: true},
	"icloud.com":     {lower: true, plusTag: true},
	"me.com":         {lower: true, plusTag: true},
	"mac.com":        {lower: true, plusTag: true},
	"fastmail.com":   {plusTag: true},
	"fastmail.fm":    {plusTag: true},
	"proton.me":      {lower: true, plusTag: true},
	"protonmail.com": {lower: true, plusTag: true},
	"protonmail.ch":  {lower: true, plusTag: true},
	"pm.me":          {lower: true, plusTag: true},
}

// foldProvider applies the rule of domain's provider, if any, to an unquoted local part
// (a dot-atom) and returns the folded local part and domain. A fold that would leave the
// local part empty or not a dot-atom is not applied: the address stays as it was.
func foldProvider(local, domain string) (string, string) {
	rule, ok := providers[domain]
	if !ok {
		return local, domain
	}
	l := local
	if rule.plusTag {
		l, _, _ = strings.Cut(l, "+")
	}
	if rule.noDots {
		l = strings.ReplaceAll(l, ".", "")
	}
	if rule.lower {
		l = lowerASCII(l)
	}
	if !isDotAtom(l) {
		return local, domain
	}
	if rule.canonical != "" {
		domain = rule.canonical
	}
	return l, domain
}

// lowerASCII lowers ASCII letters only: the providers' local parts are ASCII, and Unicode
// case mapping is not stable enough to be part of a token.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

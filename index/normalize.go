package index

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// MaxCustomerLen is the longest customer id accepted, in bytes.
const MaxCustomerLen = 256

// Normalizer turns raw values into canonical forms. The zero value is usable: it has no
// default region (phone numbers must then carry a country code) and no provider folding.
// A Normalizer is a small value, safe for concurrent use.
type Normalizer struct {
	Region        string // ISO 3166-1 alpha-2 default region for national numbers, e.g. "NL"; case-insensitive
	FoldProviders bool   // apply the rules of providers known to ignore dots / +tags / case in the local part
}

// Validate reports whether n is usable: an unknown Region gives an error matching ErrRegion.
func (n Normalizer) Validate() error {
	_, err := n.region()
	return err
}

// region returns the upper-cased default region, "" for none.
func (n Normalizer) region() (string, error) {
	if n.Region == "" {
		return "", nil
	}
	r := strings.ToUpper(n.Region)
	if len(r) != 2 || phonenumbers.GetCountryCodeForRegion(r) == 0 {
		// A region code is configuration, not personal data: it may be quoted.
		return "", fmt.Errorf("%w %q", ErrRegion, n.Region)
	}
	return r, nil
}

// Normalize returns the canonical form of s as a value of kind.
func (n Normalizer) Normalize(kind Kind, s string) (string, error) {
	switch kind {
	case KindEmail:
		return n.Email(s)
	case KindPhone:
		return n.Phone(s)
	case KindCustomer:
		return n.Customer(s)
	}
	return "", invalid(kind, "unknown kind")
}

// Customer returns a helpdesk customer id unchanged after checking it: non-empty valid
// UTF-8 of at most MaxCustomerLen bytes.
func (n Normalizer) Customer(s string) (string, error) {
	switch {
	case s == "":
		return "", invalid(KindCustomer, "empty")
	case len(s) > MaxCustomerLen:
		return "", invalid(KindCustomer, fmt.Sprintf("longer than %d bytes", MaxCustomerLen))
	case !utf8.ValidString(s):
		return "", invalid(KindCustomer, "invalid UTF-8")
	}
	return s, nil
}

// checkText refuses invalid UTF-8 and control characters (C0, DEL, C1).
func checkText(kind Kind, s string) error {
	if !utf8.ValidString(s) {
		return invalid(kind, "invalid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			return invalid(kind, "control character")
		}
	}
	return nil
}

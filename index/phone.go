package index

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// maxPhoneInput is libphonenumber's own limit on the raw input.
const maxPhoneInput = 250

// Phone returns a phone number in E.164 form, e.g. "+31612345678"; see the package
// documentation.
func (n Normalizer) Phone(s string) (string, error) {
	region, err := n.region()
	if err != nil {
		return "", err
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", invalid(KindPhone, "empty")
	}
	if len(s) > maxPhoneInput {
		return "", invalid(KindPhone, fmt.Sprintf("longer than %d bytes", maxPhoneInput))
	}
	if err := checkText(KindPhone, s); err != nil {
		return "", err
	}
	if len(s) >= 4 && strings.EqualFold(s[:4], "tel:") {
		s = "tel:" + s[4:] // the library only knows the lower-case scheme
	}
	if region == "" && strings.HasPrefix(s, "00") {
		s = "+" + s[2:] // ITU-T E.164's recommended international prefix
	}
	num, err := phonenumbers.Parse(s, region)
	if err != nil {
		return "", phoneError(err, region)
	}
	if !phonenumbers.IsPossibleNumber(num) {
		return "", invalid(KindPhone, "not a possible number for its country (length)")
	}
	// The extension, if any, is dropped: Format(E164) does not write it.
	e164 := phonenumbers.Format(num, phonenumbers.E164)
	// A national number that starts with the trunk prefix ("+31 0 0…" once "+31 (0)" is
	// read) formats to an E.164 form that parses to another number. Such a number is not
	// a real one, and accepting it would make normalisation depend on how often it ran.
	again, err := phonenumbers.Parse(e164, region)
	if err != nil || phonenumbers.Format(again, phonenumbers.E164) != e164 {
		return "", invalid(KindPhone, "its E.164 form reads as another number")
	}
	return e164, nil
}

// phoneError translates the library's parse errors (which do not quote the input, but are
// worded for developers) into ours.
func phoneError(err error, region string) error {
	switch {
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode) && region == "":
		return invalid(KindPhone, "no country code, and no default region to read a national number in")
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
		return invalid(KindPhone, "unknown country code")
	case errors.Is(err, phonenumbers.ErrTooShortNSN), errors.Is(err, phonenumbers.ErrTooShortAfterIDD):
		return invalid(KindPhone, "too short")
	case errors.Is(err, phonenumbers.ErrNumTooLong):
		return invalid(KindPhone, "too long")
	}
	return invalid(KindPhone, "not a phone number")
}

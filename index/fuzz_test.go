package index

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// knownReasons is every Reason normalisation may give. An error whose reason is in this
// fixed list cannot carry the input: the fuzz tests check every error against it.
var knownReasons = map[string]bool{
	"empty": true, "invalid UTF-8": true, "control character": true, "unknown kind": true,
	"longer than 256 bytes": true, "longer than 250 bytes": true, "longer than 1024 bytes": true,
	"address literal domain": true, "bad percent-encoding in mailto URI": true,
	"domain is not a valid IDNA host name": true, "empty domain": true,
	"empty label in domain": true, "empty local part": true, "missing @": true,
	"not an RFC 5322 address": true, "domain label longer than 63 octets": true,
	"domain longer than 253 octets": true, "local part longer than 64 octets": true,
	"longer than 254 octets": true,
	"no country code, and no default region to read a national number in": true,
	"not a phone number": true, "not a possible number for its country (length)": true,
	"too long": true, "too short": true, "unknown country code": true,
	"its E.164 form reads as another number": true,
}

// checkFuzzError fails unless err is an *Error of kind with a known reason.
func checkFuzzError(t *testing.T, err error, kind Kind) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrInvalid) || e.Kind != kind {
		t.Fatalf("error %v is not an ErrInvalid *Error of kind %v", err, kind)
	}
	if !knownReasons[e.Reason] || err.Error() != "index: invalid "+kind.String()+": "+e.Reason {
		t.Fatalf("unexpected error text %q (it might carry the input)", err.Error())
	}
}

// checkIdempotent fails unless out, accepted from some input, normalises to itself.
func checkIdempotent(t *testing.T, n Normalizer, kind Kind, in, out string) {
	t.Helper()
	if !utf8.ValidString(out) || out == "" {
		t.Fatalf("%v %q normalised to invalid text %q", kind, in, out)
	}
	again, err := n.Normalize(kind, out)
	if err != nil {
		t.Fatalf("%v %q normalised to %q, which is refused: %v", kind, in, out, err)
	}
	if again != out {
		t.Fatalf("%v %q: normalised to %q, then to %q", kind, in, out, again)
	}
}

func FuzzEmail(f *testing.F) {
	for _, s := range []string{
		"jan@example.nl", "Jan.Smit+news@GoogleMail.com", `"jan smit"@example.nl`, `"a\"b"@x.nl`,
		`"j\an"@x.nl`, "Jan Smit <jan@Bücher.DE>", "mailto:jan%40x.nl?subject=a", "jan@example.nl.",
		"jan@ＥＸＡＭＰＬＥ．ｃｏｍ", "jan@straße.de", "jöhn@例え.テスト", "jan@[192.0.2.1]", "+x@gmail.com",
		"a.+x@outlook.com", "jan@example.nl (comment)", "Group: a@b.nl;", "jan@xn--bcher-kva.de",
		"\"\"@x.nl", "a@b@c", "jan@x.nl。", "=?utf-8?q?J=C3=A1n?= <jan@x.nl>",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, fold bool) {
		n := Normalizer{FoldProviders: fold}
		out, err := n.Email(s)
		if err != nil {
			checkFuzzError(t, err, KindEmail)
			return
		}
		checkIdempotent(t, n, KindEmail, s, out)
		local, domain, ok := strings.Cut(out, "@")
		if strings.HasPrefix(local, `"`) {
			i := strings.LastIndexByte(out, '@')
			local, domain, ok = out[:i], out[i+1:], true
		}
		if !ok || len(out) > maxEmailLen || len(local) > maxLocalLen || domain == "" {
			t.Fatalf("%q normalised to %q, outside the limits", s, out)
		}
		if domain != strings.ToLower(domain) || strings.HasSuffix(domain, ".") {
			t.Fatalf("%q normalised to %q: domain not lower-case ASCII without a root dot", s, out)
		}
		for i := 0; i < len(domain); i++ {
			if domain[i] >= 0x80 {
				t.Fatalf("%q normalised to %q: domain not ASCII", s, out)
			}
		}
		if fold {
			return
		}
		// Without folding, the domain is the only thing whose case may change.
		if plain, err := (Normalizer{}).Email(local + "@" + strings.ToUpper(domain)); err != nil || plain != out {
			t.Fatalf("%q: upper-casing the domain of %q gives %q, %v", s, out, plain, err)
		}
	})
}

func FuzzPhone(f *testing.F) {
	regions := []string{"", "NL", "US", "BE", "DE", "GB", "IT", "XX"}
	for _, s := range []string{
		"06-12345678", "+31 (0)20 123 4567", "0031612345678", "tel:+31-6-1234-5678;ext=1",
		"tel:06-12345678;phone-context=+31", "0800 1234", "085 123 4567", "(212) 555-0123",
		"1-800-FLOWERS", "011 31 6 12345678", "+39 06 1234 5678", "+800 1234 5678",
		"+31 6 12345678 12345", "０６１２３４５６７８", "020-1234567 ext. 12", "+", "00", "tel:",
	} {
		for i := range regions {
			f.Add(s, uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, s string, r uint8) {
		n := Normalizer{Region: regions[int(r)%len(regions)]}
		out, err := n.Phone(s)
		if err != nil {
			if n.Validate() != nil {
				if !errors.Is(err, ErrRegion) {
					t.Fatalf("bad region gives %v, want ErrRegion", err)
				}
				return
			}
			checkFuzzError(t, err, KindPhone)
			return
		}
		checkIdempotent(t, n, KindPhone, s, out)
		// E.164: "+" and digits: a country code of at most 3 and a national number of at
		// most 17 (libphonenumber's limit; a few national toll-free ranges exceed E.164's 15).
		if len(out) < 2 || len(out) > 21 || out[0] != '+' || strings.Trim(out[1:], "0123456789") != "" {
			t.Fatalf("%q normalised to %q, not E.164", s, out)
		}
		// The canonical form reads the same in every region, and without one.
		for _, other := range regions[:len(regions)-1] {
			if got, err := (Normalizer{Region: other}).Phone(out); err != nil || got != out {
				t.Fatalf("%q in %q gives %q; in %q that gives %q, %v", s, n.Region, out, other, got, err)
			}
		}
	})
}

func FuzzCustomer(f *testing.F) {
	for _, s := range []string{"42", "", "C-0001", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := Normalizer{}.Normalize(KindCustomer, s)
		if err != nil {
			checkFuzzError(t, err, KindCustomer)
			return
		}
		if out != s {
			t.Fatalf("customer id changed: %q to %q", s, out)
		}
		checkIdempotent(t, Normalizer{}, KindCustomer, s, out)
	})
}

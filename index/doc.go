// Package index computes blind-index tokens: keyed, truncated HMACs of normalised e-mail
// addresses, phone numbers and helpdesk customer ids, so that the store can find the customer
// behind an address or number without keeping either in the clear (DESIGN.md §4).
//
// # Basics
//
// A [Normalizer] turns a raw value into its canonical form; a [Tokenizer] turns a kind and a
// canonical form into a [Token]. A [Term] is a lookup request (a kind and a raw value) that the
// store normalises with its own Normalizer:
//
//	n := index.Normalizer{Region: "NL"}
//	v, err := index.Phone("06-12345678").Normalize(n) // "+31612345678"
//	tok := tokenizer.Token(index.KindPhone, v)
//
// A token is HMAC-SHA256(index key, "contactstore/v1/index" ‖ kind ‖ uint32(len(v)) ‖ v),
// truncated to [TokenSize] bytes. The label names the purpose; the kind is one byte and the
// value carries its length, so no two (kind, value) pairs share an input.
//
// # E-mail addresses
//
// [Normalizer.Email] accepts a bare addr-spec ("jan@example.nl"), a name-addr
// ("Jan Smit <jan@example.nl>", parsed by net/mail) and a mailto: URI ("mailto:jan@example.nl",
// percent-decoded, with any ?query dropped). Surrounding white space is trimmed. It refuses
// invalid UTF-8, control characters (C0, DEL, C1; a tab inside the value included), more than
// one address, and inputs over 1024 bytes.
//
// The local part is kept byte for byte: RFC 5321 §2.4 lets a mailbox be case-sensitive, so
// "Jan" and "jan" stay different. Quoting is canonicalised: a quoted local part whose content is
// a valid dot-atom is unquoted ("\"jan\"@x.nl" is "jan@x.nl"), and one that needs quoting is
// written with quotes and with a backslash only before '"' and '\'. Non-ASCII local parts
// (RFC 6532) are kept as they are, without Unicode normalisation.
//
// The domain is converted to IDNA ASCII form with the UTS #46 lookup mapping
// (golang.org/x/net/idna, non-transitional, STD3 rules, BiDi and joiner checks), which also
// folds case and width; one trailing dot is dropped. Labels must be 1 to 63 octets.
// Address literals ("[192.0.2.1]", "[IPv6:…]") are refused: a customer's address is never
// one, and refusing them avoids a second canonical form.
//
// Limits, on the canonical form: local part ≤ 64 octets, domain ≤ 253 octets, whole address
// ≤ 254 octets (RFC 5321 §4.5.3.1 and its path limit less the angle brackets).
//
// With [Normalizer.FoldProviders] the local parts of a few large providers, documented to
// ignore case, dots or "+tags", are folded as those providers do (see providers.go for the
// table and its sources): "Jan.Smit+news@googlemail.com" becomes "jansmit@gmail.com". Without
// it, that address only has its domain lowered. Folding applies only to unquoted local parts,
// lowers ASCII letters only, and is skipped when it would leave the local part empty.
//
// # Phone numbers
//
// [Normalizer.Phone] uses github.com/nyaruka/phonenumbers (Google's libphonenumber metadata)
// and returns E.164 ("+31612345678"). It accepts spaces, dashes, dots, parentheses, full-width
// digits, letters on the keypad ("1-800-FLOWERS"), tel: URIs (RFC 3966, with phone-context),
// the international prefix of the default region ("00" in NL, "011" in US) and the trunk
// prefix written after a country code ("+31 (0)20 123 4567" is "+31201234567").
//
// A number without "+" is read in [Normalizer.Region]; without a region it must start with
// "+" or "00" (the ITU-recommended international prefix, read as "+"), otherwise the error
// says that a default region is needed.
//
// A number must be possible (phonenumbers.IsPossibleNumber: a plausible length for its
// country), not valid: validity follows the allocated ranges in the library's metadata, and
// a newly opened range must not make a customer unfindable. Extensions ("ext. 12", ";ext=12")
// are dropped: the token identifies the line a call comes from, and caller ids carry no
// extension. A number whose E.164 form would read back as another number (a national
// number starting with the trunk prefix, "+31 (0)0…") is refused, so that normalisation is
// idempotent. Inputs over 250 bytes are refused (libphonenumber's own limit). The result is
// "+" and up to 20 digits: libphonenumber allows a few national toll-free ranges longer than
// E.164's 15.
//
// # Customer ids
//
// A helpdesk's customer id is indexed as it is: non-empty valid UTF-8 of at most 256 bytes.
//
// # Caveats
//
// Normalisation is idempotent: a canonical form normalises to itself (the fuzz tests check
// it). Errors are [*Error] values that match [ErrInvalid]; they name the kind and what is
// wrong, never the value. A [Term] prints as "email term" and never shows its value.
// Changing any normalisation rule changes tokens: the store must re-index after such a change.
package index

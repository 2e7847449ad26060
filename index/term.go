package index

import "log/slog"

// Term is a lookup request: a kind and a raw value, which the store normalises with its own
// Normalizer before computing the token. The value is personal data: a Term prints (String,
// GoString, slog) as "email term" and so on, never with its value.
type Term struct {
	kind Kind
	raw  string
}

// Email returns a term that looks up an e-mail address.
func Email(s string) Term { return Term{kind: KindEmail, raw: s} }

// Phone returns a term that looks up a phone number.
func Phone(s string) Term { return Term{kind: KindPhone, raw: s} }

// Customer returns a term that looks up the helpdesk's own customer id.
func Customer(id string) Term { return Term{kind: KindCustomer, raw: id} }

// Kind returns the kind of the term.
func (t Term) Kind() Kind { return t.kind }

// Value returns the raw value. It is personal data: never log it.
func (t Term) Value() string { return t.raw }

// String returns "email term", "phone term" or "customer term": never the value.
func (t Term) String() string { return t.kind.String() + " term" }

// GoString returns the same as String, so that %#v does not print the value either.
func (t Term) GoString() string { return "index.Term(" + t.String() + ")" }

// LogValue makes log/slog print the term as String does.
func (t Term) LogValue() slog.Value { return slog.StringValue(t.String()) }

// Normalize returns the canonical form of the term's value under n.
func (t Term) Normalize(n Normalizer) (string, error) {
	return n.Normalize(t.kind, t.raw)
}

package index

import "strconv"

// Kind is the kind of an indexed value. Its number is part of every token: never renumber.
type Kind uint8

// The kinds of indexed values.
const (
	KindEmail    Kind = 1 // an e-mail address
	KindPhone    Kind = 2 // a phone number
	KindCustomer Kind = 3 // the helpdesk's own customer id, indexed as is
)

// String returns "email", "phone" or "customer", or "kind(N)" for an unknown kind.
func (k Kind) String() string {
	switch k {
	case KindEmail:
		return "email"
	case KindPhone:
		return "phone"
	case KindCustomer:
		return "customer"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// valid reports whether k is one of the known kinds.
func (k Kind) valid() bool {
	return k == KindEmail || k == KindPhone || k == KindCustomer
}

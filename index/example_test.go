package index_test

import (
	"errors"
	"fmt"

	"contactstore/index"
)

// A helpdesk indexes a customer's address and number when storing them, and looks a caller
// up by the token of what arrives with a message.
func Example() {
	n := index.Normalizer{Region: "NL", FoldProviders: true}
	if err := n.Validate(); err != nil {
		panic(err)
	}
	key := make([]byte, index.KeySize) // in the store: the index key from the key vault
	tz, err := index.NewTokenizer(key)
	if err != nil {
		panic(err)
	}
	defer tz.Close()

	stored, _ := n.Phone("06-12345678")
	incoming, _ := index.Phone("+31 (0)6 1234 5678").Normalize(n)
	fmt.Println(stored, incoming)
	fmt.Println(tz.Token(index.KindPhone, stored) == tz.Token(index.KindPhone, incoming))

	addr, _ := index.Email("Jan Smit <Jan.Smit+helpdesk@GoogleMail.com>").Normalize(n)
	fmt.Println(addr)

	// Errors and terms never show the value.
	term := index.Email("jan.smit@")
	_, err = term.Normalize(n)
	fmt.Println(term, "|", err, "|", errors.Is(err, index.ErrInvalid))
	// Output:
	// +31612345678 +31612345678
	// true
	// jansmit@gmail.com
	// email term | index: invalid email: not an RFC 5322 address | true
}

func ExampleNormalizer_Email() {
	var n index.Normalizer // no provider folding: only the domain changes case
	for _, s := range []string{"Jan.Smit@Bücher.DE.", `"jan"@example.nl`, "mailto:Jan%2Bnews@example.nl?subject=Hi"} {
		v, err := n.Email(s)
		fmt.Println(v, err)
	}
	// Output:
	// Jan.Smit@xn--bcher-kva.de <nil>
	// jan@example.nl <nil>
	// Jan+news@example.nl <nil>
}

func ExampleNormalizer_Phone() {
	n := index.Normalizer{Region: "NL"}
	for _, s := range []string{"020-1234567", "0031 20 123 4567", "tel:+31-20-123-4567;ext=12", "+32 2 123 45 67"} {
		v, err := n.Phone(s)
		fmt.Println(v, err)
	}
	_, err := index.Normalizer{}.Phone("020-1234567")
	fmt.Println(err)
	// Output:
	// +31201234567 <nil>
	// +31201234567 <nil>
	// +31201234567 <nil>
	// +3221234567 <nil>
	// index: invalid phone: no country code, and no default region to read a national number in
}

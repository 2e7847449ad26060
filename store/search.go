package store

import (
	"context"
	"iter"
	"strings"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Search yields one customer's contacts, in time order and within r, whose text contains
// query: subject, body, agent, category, tags or attachment names. The comparison ignores
// case the Unicode way (full case folding: "STRASSE" finds "straße") and compatibility forms
// (NFKC: a ligature "ﬁ" matches "fi", full-width letters their ASCII forms). It decrypts that
// customer's contacts only, one chunk at a time: nothing is indexed, and memory stays
// bounded whatever the history's length. An empty query matches every contact. Errors are
// those of Contacts.
func (s *Store) Search(ctx context.Context, customer, query string, r TimeRange) iter.Seq2[Contact, error] {
	q := foldText(query)
	return func(yield func(Contact, error) bool) {
		for c, err := range s.Contacts(ctx, customer, r) {
			if err != nil {
				yield(Contact{}, err)
				return
			}
			if q == "" || contactMatches(&c, q) {
				if !yield(c, nil) {
					return
				}
			}
		}
	}
}

// foldText returns the form Search compares: NFKC, then Unicode full case folding, then
// NFC again (folding can un-compose).
func foldText(s string) string {
	return norm.NFC.String(cases.Fold().String(norm.NFKC.String(s)))
}

func contactMatches(c *Contact, q string) bool {
	fields := []string{c.Subject, c.Body, c.Agent, c.Category}
	fields = append(fields, c.Tags...)
	for _, a := range c.Attachments {
		fields = append(fields, a.Name)
	}
	for _, f := range fields {
		if f != "" && strings.Contains(foldText(f), q) {
			return true
		}
	}
	return false
}

package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"contactstore/crypto"
	"contactstore/index"
	"contactstore/internal/audit"
	"contactstore/internal/keys"

	"github.com/cockroachdb/pebble/v2"
)

// Blind indexes (DESIGN.md §4). Every contact's customer id, e-mail address and phone number
// are normalised (package index) and turned into tokens: HMAC under the vault's index key of
// the kind and the normalised value. Two kinds of entry are written:
//
//	'I' token pseudonym            → nothing     which customers carry the value
//	'J' prefix token bucket        → kind‖pseudonym  which tokens a customer's contacts in a
//	                                                 bucket carry
//
// The 'I' entries answer Find; they name the customer only by pseudonym. The 'J' entries are
// filed under the customer's random record prefix, like their records, and let the store
// remove the 'I' entries: all of them when the customer is erased or leaves, and those whose
// every contact has expired when a bucket is cleaned up (a value used only in expired
// contacts stops finding the customer). Neither holds a value in the clear, and without the
// index key (in the vault) a token cannot be tested against a guess.

// indexTerm is one token a contact carries.
type indexTerm struct {
	kind  index.Kind
	token index.Token
}

// maxContactTerms is how many terms a contact can carry: customer, e-mail, phone.
const maxContactTerms = 3

// indexConfig is how the store normalises values; kept in Meta "index" so that every
// process normalises the same way (a token made another way would never match).
type indexConfig struct {
	Region        string `json:"phone_region,omitempty"`
	FoldProviders bool   `json:"fold_email_providers,omitempty"`
}

var indexConfigKey = keys.Meta("index")

// loadIndex reads (or, in a store made before indexes, records) the index configuration and
// sets up the tokenizer.
func (s *Store) loadIndex(v *crypto.Vault) error {
	want := indexConfig{Region: s.opts.PhoneRegion, FoldProviders: s.opts.FoldEmailProviders}
	val, closer, err := s.db.Get(indexConfigKey)
	var have indexConfig
	switch {
	case err == nil:
		err = json.Unmarshal(val, &have)
		closer.Close()
		if err != nil {
			return wrapErr("open", fmt.Errorf("%w: the index settings in %s/ do not parse", ErrCorrupt, PebbleDir))
		}
		if (want.Region != "" && want.Region != have.Region) || (want.FoldProviders && !have.FoldProviders) {
			return wrapErr("open", fmt.Errorf("%w: the store indexes with phone region %q and e-mail provider folding %v; "+
				"Options ask for %q and %v (the index settings are fixed when a store is created)",
				ErrInvalid, have.Region, have.FoldProviders, want.Region, want.FoldProviders))
		}
	case errors.Is(err, pebble.ErrNotFound):
		have = want
		if err := (index.Normalizer{Region: have.Region}).Validate(); err != nil {
			return wrapErr("open", fmt.Errorf("%w: Options.PhoneRegion: %v", ErrInvalid, err))
		}
		enc, _ := json.Marshal(have)
		if err := s.db.Set(indexConfigKey, enc, pebble.Sync); err != nil {
			return wrapErr("recording the index settings", err)
		}
	default:
		return wrapErr("reading the index settings", err)
	}
	s.norm = index.Normalizer{Region: have.Region, FoldProviders: have.FoldProviders}
	if err := s.norm.Validate(); err != nil {
		return wrapErr("open", fmt.Errorf("%w: the index settings in %s/: %v", ErrCorrupt, PebbleDir, err))
	}
	tk, err := index.NewTokenizer(v.IndexKey[:])
	if err != nil {
		return wrapErr("open", err)
	}
	s.tokens = tk
	return nil
}

// indexOfValue is a 'J' entry's value: the kind and the customer's pseudonym (so that the
// 'I' entry can be found without the customer key).
func indexOfValue(kind index.Kind, ps crypto.Pseudonym) []byte {
	v := make([]byte, 0, 1+len(ps))
	v = append(v, byte(kind))
	return append(v, ps[:]...)
}

// indexSeen remembers the 'J' entries the committer wrote recently, so that a customer's
// hundredth contact in a bucket does not write the same two entries again. Only the
// committer uses it. Forgetting is harmless (the entries are written again, to the same
// keys); remembering an entry that was removed since cannot happen: removal (erasure,
// expiry) changes the customer's prefix or concerns a bucket no new contact can enter.
type indexSeen struct {
	m map[[keys.IndexOfLen]byte]struct{}
}

const indexSeenMax = 1 << 20

func (x *indexSeen) has(k [keys.IndexOfLen]byte) bool {
	_, ok := x.m[k]
	return ok
}

func (x *indexSeen) add(k [keys.IndexOfLen]byte) {
	if x.m == nil || len(x.m) >= indexSeenMax {
		x.m = make(map[[keys.IndexOfLen]byte]struct{}, 1024)
	}
	x.m[k] = struct{}{}
}

// stageIndexTerms stages the entries of a moved record's terms in its new bucket (policy
// migration, hold, release), so that clean-up of the old bucket keeps them.
func (s *Store) stageIndexTerms(b *pebble.Batch, cu *customer, c *Contact, bucket uint32) {
	var terms [maxContactTerms]indexTerm
	n, _ := s.contactTerms(cu, c, &terms) // through the customer's memo, as at ingest
	for _, t := range terms[:n] {
		_ = b.Set(keys.IndexOf(cu.key.Prefix, t.token, bucket), indexOfValue(t.kind, cu.ps), nil)
		_ = b.Set(keys.Index(t.token, cu.ps), nil, nil)
	}
}

// dropIndex stages, for a customer who stays, the removal of the 'J' entries of buckets
// whose keys are gone, and of the 'I' entries of tokens no live bucket carries any more.
func (s *Store) dropIndex(b *pebble.Batch, prefix [keys.PrefixSize]byte) error {
	v := s.vault.Load()
	lo, hi := keys.CustomerRange(keys.KindIndexOf, prefix)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	var (
		cur     [keys.TokenSize]byte
		curPS   []byte
		live    bool
		started bool
	)
	flush := func() {
		if started && !live && len(curPS) == crypto.PseudonymSize {
			_ = b.Delete(keys.Index(cur, [keys.PseudonymSize]byte(curPS)), nil)
		}
	}
	for it.First(); it.Valid(); it.Next() {
		_, tok, bk, err := keys.ParseIndexOf(it.Key())
		if err != nil {
			continue
		}
		if !started || tok != cur {
			flush()
			cur, curPS, live, started = tok, nil, false, true
		}
		if val := it.Value(); len(val) == 1+crypto.PseudonymSize {
			curPS = slices.Clone(val[1:])
		}
		if bucketGone(v, bk) {
			_ = b.Delete(it.Key(), nil)
		} else {
			live = true
		}
	}
	flush()
	return it.Close()
}

// deleteIndex stages the removal of every index entry of a customer (erasure, or the last
// contact expired): the 'I' entries named by the 'J' entries, then those.
func (s *Store) deleteIndex(b *pebble.Batch, prefix [keys.PrefixSize]byte, touched *[]keyRange) error {
	lo, hi := keys.CustomerRange(keys.KindIndexOf, prefix)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	var last []byte
	for it.First(); it.Valid(); it.Next() {
		_, tok, _, err := keys.ParseIndexOf(it.Key())
		val := it.Value()
		if err != nil || len(val) != 1+crypto.PseudonymSize {
			continue
		}
		ik := keys.Index(tok, [keys.PseudonymSize]byte(val[1:]))
		if !bytes.Equal(ik, last) {
			_ = b.Delete(ik, nil)
			last = ik
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	_ = b.DeleteRange(lo, hi, nil)
	*touched = append(*touched, keyRange{lo, hi})
	return nil
}

// Find returns the customers whose contacts carry the value of an index term: an e-mail
// address, a phone number or a customer id, normalised as the store was set up to (see
// package index). The answer comes from blind-index tokens; the ids returned come from each
// customer's sealed key, not from the index. Find works by expiry day: a value stops finding
// a customer at the end of the UTC day on which the term of the last contact carrying it
// ends, whether or not the expirer has run (a legal hold keeps it findable). The lookup is audited (pseudonyms only). A value that does not normalise
// is ErrInvalid.
func (s *Store) Find(ctx context.Context, t index.Term) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.closed.Load() {
		return nil, ErrClosed
	}
	norm, err := t.Normalize(s.norm)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	tok := s.tokens.Token(t.Kind(), norm)
	lo, hi := keys.IndexRange(tok)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, wrapErr("find", err)
	}
	var pss []crypto.Pseudonym
	for it.First(); it.Valid(); it.Next() {
		if _, ps, err := keys.ParseIndex(it.Key()); err == nil {
			pss = append(pss, ps)
		}
	}
	if err := it.Close(); err != nil {
		return nil, wrapErr("find", err)
	}
	var ids []string
	var found []string
	// One iterator over the 'J' entries serves every customer found (a value shared by
	// many customers would otherwise build an iterator per customer).
	var jit *pebble.Iterator
	if len(pss) > 0 {
		jlo, jhi := keys.Kind(keys.KindIndexOf)
		if jit, err = s.db.NewIter(&pebble.IterOptions{LowerBound: jlo, UpperBound: jhi}); err != nil {
			return nil, wrapErr("find", err)
		}
		defer jit.Close()
	}
	for _, ps := range pss {
		cu, err := s.lookupByPS(ps)
		if errors.Is(err, errNoCustomer) {
			continue // erased or gone a moment ago
		}
		if err != nil {
			return nil, wrapErr("find", err)
		}
		ok, err := s.carriesLive(jit, cu, tok)
		if err != nil {
			return nil, wrapErr("find", err)
		}
		if ok {
			ids = append(ids, cu.key.Customer)
			found = append(found, hexPS(ps))
		}
	}
	slices.Sort(ids)
	if err := s.auditNow(false, audit.Entry{Kind: audit.KindFind, Customers: found, Count: int64(len(found))}); err != nil {
		return nil, err
	}
	return ids, nil
}

// carriesLive reports whether a customer has a contact carrying the token that is still
// within its term: in a bucket whose key exists and whose day has not ended (or a hold's or
// the no-expiry bucket).
func (s *Store) carriesLive(it *pebble.Iterator, cu *customer, tok index.Token) (bool, error) {
	lo := append([]byte{keys.KindIndexOf}, cu.key.Prefix[:]...)
	lo = append(lo, tok[:]...)
	v, today := s.vault.Load(), dayOf(s.opts.Clock.Now())
	_, held := s.holds.get(cu.ps)
	live := false
	for ok := it.SeekGE(lo); ok && !live && bytes.HasPrefix(it.Key(), lo); ok = it.Next() {
		_, _, bk, err := keys.ParseIndexOf(it.Key())
		if err != nil || bucketGone(v, bk) {
			continue
		}
		live = !keys.ExpiryBucket(bk) || bk >= today || held
	}
	return live, it.Error()
}

// termMemo remembers a customer's index terms: their id's, and those of the last non-empty
// e-mail address and phone number their contacts carried. Most of a customer's contacts carry
// the same values (or none: a chat has no number), and normalising a phone number costs tens
// of microseconds. The memo is replaced whole (copy on write), so sealing workers share it
// without a lock.
type termMemo struct {
	customer     indexTerm
	email, phone memoTerm
}

type memoTerm struct {
	raw      string
	term     indexTerm
	ok, skip bool // normalised / given but does not normalise
}

// contactTerms computes the index terms of a contact — its customer id, e-mail address and
// phone number, normalised and tokenised — through the customer's memo. Values that do not
// normalise (a phone field holding "ask for Jan") are not indexed; it returns how many.
func (s *Store) contactTerms(cu *customer, c *Contact, out *[maxContactTerms]indexTerm) (n, skipped int) {
	m := cu.terms.Load()
	if m == nil || (c.Email != "" && c.Email != m.email.raw) || (c.Phone != "" && c.Phone != m.phone.raw) {
		nm := &termMemo{}
		if m != nil {
			*nm = *m
		} else {
			nm.customer = s.term(index.KindCustomer, c.Customer)
		}
		for _, f := range [...]struct {
			kind index.Kind
			raw  string
			mt   *memoTerm
		}{{index.KindEmail, c.Email, &nm.email}, {index.KindPhone, c.Phone, &nm.phone}} {
			if f.raw != "" && f.raw != f.mt.raw {
				*f.mt = memoTerm{raw: f.raw}
				f.mt.term, f.mt.ok, f.mt.skip = s.termOf(f.kind, f.raw)
			}
		}
		cu.terms.Store(nm)
		m = nm
	}
	out[0], n = m.customer, 1
	for _, f := range [...]struct {
		raw string
		mt  *memoTerm
	}{{c.Email, &m.email}, {c.Phone, &m.phone}} {
		switch {
		case f.raw == "":
		case f.mt.ok:
			out[n] = f.mt.term
			n++
		case f.mt.skip:
			skipped++
		}
	}
	return n, skipped
}

// term returns the term of a value that is known to normalise (a validated customer id).
func (s *Store) term(kind index.Kind, raw string) indexTerm {
	t, _, _ := s.termOf(kind, raw)
	return t
}

// termOf normalises a value and makes its token: ok when it did, skipped when a value was
// given that does not normalise.
func (s *Store) termOf(kind index.Kind, raw string) (t indexTerm, ok, skipped bool) {
	if raw == "" {
		return t, false, false
	}
	v, err := s.norm.Normalize(kind, raw)
	if err != nil {
		return t, false, true
	}
	return indexTerm{kind: kind, token: s.tokens.Token(kind, v)}, true, false
}

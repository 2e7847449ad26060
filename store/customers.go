package store

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"contactstore/crypto"
	"contactstore/internal/keys"

	"github.com/cockroachdb/pebble/v2"
)

// customer is a resolved customer: pseudonym, shard and the unwrapped customer key.
type customer struct {
	ps    crypto.Pseudonym
	shard uint32
	gen   uint32
	key   crypto.CustomerKey

	// wrapped is the wrapped customer key while it may not yet be in Pebble: every batch that
	// uses this customer writes it too, until one of them has committed (persisted).
	wrapped   []byte
	persisted atomic.Bool

	// terms remembers the index terms of the customer's latest contact: most contacts of a
	// customer carry the same address and number, and normalising a number is not cheap.
	terms atomic.Pointer[termMemo]
}

func (c *customer) dataKeyKey() []byte { return keys.DataKey(c.shard, c.gen, c.ps) }

const cacheStripes = 64

// customerCache holds unwrapped customer keys, bounded; evicted keys are wiped. Customers
// whose key is not yet persisted are never evicted.
type customerCache struct {
	per     int
	stripes [cacheStripes]struct {
		mu sync.Mutex
		m  map[crypto.Pseudonym]*customer
	}
}

func newCustomerCache(capacity int) *customerCache {
	c := &customerCache{per: max(capacity/cacheStripes, 4)}
	for i := range c.stripes {
		c.stripes[i].m = make(map[crypto.Pseudonym]*customer)
	}
	return c
}

func (c *customerCache) get(ps crypto.Pseudonym) *customer {
	st := &c.stripes[ps[0]%cacheStripes]
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.m[ps]
}

// add inserts cu unless an entry exists, and returns the entry that is in the cache.
func (c *customerCache) add(cu *customer) *customer {
	st := &c.stripes[cu.ps[0]%cacheStripes]
	st.mu.Lock()
	defer st.mu.Unlock()
	if old, ok := st.m[cu.ps]; ok {
		return old
	}
	if len(st.m) >= c.per {
		for ps, e := range st.m { // map order is random: random eviction
			if e.persisted.Load() {
				delete(st.m, ps)
				break
			}
		}
	}
	st.m[cu.ps] = cu
	return cu
}

// removeIf removes cu if it is the cached entry of its pseudonym.
func (c *customerCache) removeIf(cu *customer) {
	st := &c.stripes[cu.ps[0]%cacheStripes]
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.m[cu.ps] == cu {
		delete(st.m, cu.ps)
	}
}

func (c *customerCache) remove(ps crypto.Pseudonym) {
	st := &c.stripes[ps[0]%cacheStripes]
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.m, ps)
}

// dropShards removes every cached customer of the given shards (their keys were rewrapped
// under new shard generations).
func (c *customerCache) dropShards(shards map[uint32]bool) {
	for i := range c.stripes {
		st := &c.stripes[i]
		st.mu.Lock()
		for ps, e := range st.m {
			if shards[e.shard] {
				delete(st.m, ps)
			}
		}
		st.mu.Unlock()
	}
}

func (c *customerCache) wipe() {
	for i := range c.stripes {
		st := &c.stripes[i]
		st.mu.Lock()
		for ps, e := range st.m {
			e.key.DataKey.Wipe()
			delete(st.m, ps)
		}
		st.mu.Unlock()
	}
}

// errNoCustomer: lookupCustomer found no key for the customer.
var errNoCustomer = errors.New("no such customer")

// pseudonym computes a customer's pseudonym.
func (s *Store) pseudonym(id string) crypto.Pseudonym {
	p := s.pseudo.Get().(*crypto.Pseudonymizer)
	ps := p.Of(id)
	s.pseudo.Put(p)
	return ps
}

// lookupCustomer finds a customer by id, or returns errNoCustomer (create false) or a new,
// not yet persisted customer (create true).
func (s *Store) lookupCustomer(id string, create bool) (*customer, error) {
	return s.lookupPS(s.pseudonym(id), id, create)
}

// lookupByPS finds a stored customer by pseudonym, or returns errNoCustomer.
func (s *Store) lookupByPS(ps crypto.Pseudonym) (*customer, error) {
	cu, err := s.lookupPS(ps, "", false)
	if err == nil && !cu.persisted.Load() {
		return nil, errNoCustomer
	}
	return cu, err
}

func (s *Store) lookupPS(ps crypto.Pseudonym, id string, create bool) (*customer, error) {
	for {
		cu, err := s.lookupCustomerOnce(ps, id, create)
		if err != nil || cu.gen == s.vault.Load().Shards[cu.shard].Gen {
			return cu, err
		}
		// An erasure rotated the shard's key while this lookup ran (reads do not hold the
		// gate): the key may be one that erasure destroyed, added to the cache after the
		// erasure dropped the shard's entries. Drop it and look again under the new key.
		s.customers.removeIf(cu)
	}
}

func (s *Store) lookupCustomerOnce(ps crypto.Pseudonym, id string, create bool) (*customer, error) {
	if cu := s.customers.get(ps); cu != nil {
		return cu, nil
	}
	v := s.vault.Load()
	shard := crypto.ShardOf(ps, len(v.Shards))
	mu := &s.createMu[shard%uint32(len(s.createMu))]
	mu.Lock()
	defer mu.Unlock()
	if cu := s.customers.get(ps); cu != nil {
		return cu, nil
	}
	sk := v.Shards[shard]
	k := keys.DataKey(shard, sk.Gen, ps)
	val, closer, err := s.db.Get(k)
	switch {
	case err == nil:
		ck, uerr := crypto.UnwrapCustomerKey(&sk.Key, ps, shard, sk.Gen, val)
		closer.Close()
		if uerr != nil {
			return nil, fmt.Errorf("%w: customer key in shard %d does not open", ErrCorrupt, shard)
		}
		cu := &customer{ps: ps, shard: shard, gen: sk.Gen, key: *ck}
		cu.persisted.Store(true)
		return s.customers.add(cu), nil
	case !errors.Is(err, pebble.ErrNotFound):
		return nil, wrapErr("reading a customer key", err)
	case !create:
		return nil, errNoCustomer
	}
	ck := crypto.CustomerKey{Created: s.opts.Clock.Now().Unix(), Customer: id}
	if ck.DataKey, err = crypto.NewKey(); err != nil {
		return nil, err
	}
	pfx, err := crypto.NewKey()
	if err != nil {
		return nil, err
	}
	copy(ck.Prefix[:], pfx[:])
	wrapped, err := crypto.WrapCustomerKey(&sk.Key, ps, shard, sk.Gen, &ck)
	if err != nil {
		return nil, err
	}
	cu := &customer{ps: ps, shard: shard, gen: sk.Gen, key: ck, wrapped: wrapped}
	return s.customers.add(cu), nil
}

// recordKeyCache holds the record ciphers derived per customer prefix and bucket.
type recordKeyCache struct {
	mu sync.Mutex
	m  map[rkID]*crypto.RecordCipher
}

type rkID struct {
	prefix [crypto.PrefixSize]byte
	bucket uint32
}

const recordKeyCacheMax = 1 << 16

func newRecordKeyCache() *recordKeyCache {
	return &recordKeyCache{m: make(map[rkID]*crypto.RecordCipher)}
}

func (c *recordKeyCache) wipe() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}

func (c *recordKeyCache) forget(prefix [crypto.PrefixSize]byte) {
	c.mu.Lock()
	for id := range c.m {
		if id.prefix == prefix {
			delete(c.m, id)
		}
	}
	c.mu.Unlock()
}

// forgetBuckets drops the ciphers derived from the keys of the given buckets.
func (c *recordKeyCache) forgetBuckets(buckets map[uint32]bool) {
	c.mu.Lock()
	for id := range c.m {
		if buckets[id.bucket] {
			delete(c.m, id)
		}
	}
	c.mu.Unlock()
}

// recordCipher returns the cipher for a customer's records in bucket, or ErrKeyGone when the
// bucket's key no longer exists.
func (s *Store) recordCipher(cu *customer, bucket uint32) (*crypto.RecordCipher, error) {
	id := rkID{cu.key.Prefix, bucket}
	s.records.mu.Lock()
	rc := s.records.m[id]
	s.records.mu.Unlock()
	if rc != nil {
		return rc, nil
	}
	bk, ok := s.vault.Load().Buckets[bucket]
	if !ok {
		return nil, ErrKeyGone
	}
	k := crypto.DeriveRecordKey(&bk, &cu.key.DataKey, bucket)
	rc, err := crypto.NewRecordCipher(&k)
	k.Wipe()
	if err != nil {
		return nil, err
	}
	s.records.mu.Lock()
	if len(s.records.m) >= recordKeyCacheMax {
		for id := range s.records.m {
			delete(s.records.m, id)
			break
		}
	}
	s.records.m[id] = rc
	s.records.mu.Unlock()
	return rc, nil
}

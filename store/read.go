package store

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"time"

	"contactstore/internal/audit"
	"contactstore/internal/keys"
	"contactstore/internal/record"

	"github.com/cockroachdb/pebble/v2"
	"github.com/klauspost/compress/s2"
)

// TimeRange selects contacts by time: Since inclusive, Until exclusive; a zero bound is open.
type TimeRange struct {
	Since, Until time.Time
}

// readChunk is how many records a read takes from one iterator before closing it. Reads
// re-open iterators chunk by chunk, so that no long-lived iterator pins Pebble's files and
// memory stays bounded however long a customer's history is.
const readChunk = 256

// A read merges one source per expiry bucket the customer has records in — with daily
// buckets, hundreds. So that its memory stays bounded however many there are, the sources
// share a budget: each buffers at most readBudget/len(sources) records (at least a few) and
// readBytes/len(sources) bytes (at least one record).
const (
	readBudget   = 4096
	readBytes    = 8 << 20
	minPerSource = 4
)

// sourceLimits returns the per-source record and byte limits for n sources.
func sourceLimits(n int) (records, bytes int) {
	n = max(n, 1)
	return min(readChunk, max(minPerSource, readBudget/n)), max(64<<10, readBytes/n)
}

// Contacts returns one customer's contacts in time order, to the microsecond (contacts
// within the same microsecond come in an order fixed by their ids), optionally limited to a
// time range. An unknown customer yields ErrNotFound; a record that fails authentication
// yields an error wrapping ErrCorrupt and ends the sequence. Contacts past their retention
// term are left out. Memory use is bounded (a budget shared by the per-bucket sources),
// however long the customer's history.
func (s *Store) Contacts(ctx context.Context, customer string, r TimeRange) iter.Seq2[Contact, error] {
	return func(yield func(Contact, error) bool) {
		if s.closed.Load() {
			yield(Contact{}, ErrClosed)
			return
		}
		cu, err := s.lookupCustomer(customer, false)
		if errors.Is(err, errNoCustomer) {
			yield(Contact{}, s.notFound(customer))
			return
		}
		if err != nil {
			yield(Contact{}, err)
			return
		}
		if err := s.auditNow(false, audit.Entry{Kind: audit.KindRead, Customers: []string{hexPS(cu.ps)}}); err != nil {
			yield(Contact{}, err)
			return
		}
		s.contactsOf(ctx, cu, r, yield)
	}
}

// contactsOf yields a resolved customer's contacts (see Contacts), without auditing.
func (s *Store) contactsOf(ctx context.Context, cu *customer, r TimeRange, yield func(Contact, error) bool) {
	{
		buckets, err := s.customerBuckets(cu)
		if err != nil {
			yield(Contact{}, err)
			return
		}
		from, to := uint64(0), uint64(math.MaxUint64)
		if !r.Since.IsZero() {
			from = keys.TimeKey(r.Since)
		}
		if !r.Until.IsZero() {
			to = keys.TimeKey(r.Until)
			if r.Until.Nanosecond()%1000 == 0 { // on a microsecond: exclusive
				if to == 0 {
					return
				}
				to--
			}
		}
		h := &sourceHeap{}
		v := s.vault.Load()
		perRecords, perBytes := sourceLimits(len(buckets))
		// Retention is checked on every read: a contact past its term is hidden from the
		// instant its term ends, whether or not the expirer has destroyed its bucket yet.
		pol, now := s.policy.cur.Load(), s.opts.Clock.Now()
		hold, held := s.holds.get(cu.ps)
		for _, b := range buckets {
			if bucketGone(v, b) {
				continue // the bucket's key was destroyed: its records are gone
			}
			lo, hi := keys.RecordRange(b, cu.key.Prefix, from, to)
			src := &source{lo: lo, hi: hi, limit: perRecords, bytes: perBytes}
			if err := s.fill(src); err != nil {
				yield(Contact{}, err)
				return
			}
			if len(src.kvs) > 0 {
				heap.Push(h, src)
			}
		}
		n := 0
		for h.Len() > 0 {
			if err := ctx.Err(); err != nil {
				yield(Contact{}, err)
				return
			}
			src := (*h)[0]
			kv := src.kvs[src.pos]
			src.pos++
			if src.pos == len(src.kvs) {
				if err := s.fill(src); err != nil {
					yield(Contact{}, err)
					return
				}
			}
			if len(src.kvs) == 0 {
				heap.Pop(h)
			} else {
				heap.Fix(h, 0)
			}
			c, err := s.openRecord(cu, kv.k, kv.v)
			if errors.Is(err, ErrKeyGone) {
				continue // its bucket expired while this read ran: gone
			}
			if err != nil {
				yield(Contact{}, fmt.Errorf("%w (record %d of this customer's history)", err, n+1))
				return
			}
			n++
			if pol != nil && !(held && beU32(kv.k[1:5]) == hold.bucket) {
				// (What is in the customer's hold bucket, the hold keeps.)
				if exp := expiryOf(pol.Policy, c.Category, c.Channel, c.Time); !now.Before(exp) && !keeps(hold.since, held, exp) {
					continue // past its retention term, and no hold keeps it
				}
			}
			// Keys hold microseconds: drop what shares a bound's microsecond but lies outside.
			if (!r.Since.IsZero() && c.Time.Before(r.Since)) || (!r.Until.IsZero() && !c.Time.Before(r.Until)) {
				continue
			}
			if !yield(c, nil) {
				return
			}
		}
	}
}

// customerBuckets lists the expiry buckets a customer has records in.
func (s *Store) customerBuckets(cu *customer) ([]uint32, error) {
	lo, hi := keys.CustomerRange(keys.KindBucket, cu.key.Prefix)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, wrapErr("reading", err)
	}
	var out []uint32
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) == len(lo)+4 {
			out = append(out, beU32(k[len(lo):]))
		}
	}
	if err := it.Close(); err != nil {
		return nil, wrapErr("reading", err)
	}
	return out, nil
}

type kv struct{ k, v []byte }

type source struct {
	lo, hi []byte
	kvs    []kv
	pos    int
	done   bool
	limit  int // records per fill (0: readChunk)
	bytes  int // bytes per fill, past the first record (0: no limit)
}

// fill replaces src's buffer with the next chunk, through a fresh iterator.
func (s *Store) fill(src *source) error {
	src.kvs, src.pos = src.kvs[:0], 0
	if src.done {
		return nil
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: src.lo, UpperBound: src.hi})
	if err != nil {
		return wrapErr("reading", err)
	}
	limit := src.limit
	if limit <= 0 {
		limit = readChunk
	}
	size := 0
	ok := it.First()
	for ; ok && len(src.kvs) < limit && (src.bytes <= 0 || len(src.kvs) == 0 || size < src.bytes); ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return wrapErr("reading", err)
		}
		src.kvs = append(src.kvs, kv{bytes.Clone(it.Key()), bytes.Clone(v)})
		size += len(v)
	}
	if err := it.Close(); err != nil {
		return wrapErr("reading", err)
	}
	if !ok {
		src.done = true
	}
	if n := len(src.kvs); n > 0 {
		src.lo = append(bytes.Clone(src.kvs[n-1].k), 0) // the immediate successor
	}
	return nil
}

// sourceHeap orders sources by the time and tag of their current record.
type sourceHeap []*source

func (h sourceHeap) Len() int { return len(h) }
func (h sourceHeap) Less(i, j int) bool {
	a, b := h[i].kvs[h[i].pos].k, h[j].kvs[h[j].pos].k
	return bytes.Compare(a[21:], b[21:]) < 0
}
func (h sourceHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *sourceHeap) Push(x any)   { *h = append(*h, x.(*source)) }
func (h *sourceHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// openRecord authenticates, decompresses and decodes one record.
func (s *Store) openRecord(cu *customer, key, val []byte) (Contact, error) {
	_, env, pt, err := s.openSealed(cu, key, val)
	if err != nil {
		return Contact{}, err
	}
	return s.decodePayload(env, pt)
}

// openSealed authenticates one record and returns its (possibly compressed) payload.
func (s *Store) openSealed(cu *customer, key, val []byte) (keys.ParsedRecord, record.Envelope, []byte, error) {
	pk, err := keys.ParseRecord(key)
	if err != nil {
		return pk, record.Envelope{}, nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	env, err := record.ParseEnvelope(val)
	if err != nil {
		return pk, env, nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	rc, err := s.recordCipher(cu, pk.Bucket)
	if err != nil {
		return pk, env, nil, err
	}
	pt, err := rc.Open(nil, env.Sealed, recordAAD(key, env.Header))
	if err != nil {
		return pk, env, nil, fmt.Errorf("%w: a record failed authentication", ErrCorrupt)
	}
	return pk, env, pt, nil
}

// decodePayload decompresses and decodes an opened record's payload.
func (s *Store) decodePayload(env record.Envelope, pt []byte) (Contact, error) {
	switch env.Codec {
	case record.CodecNone:
	case record.CodecS2:
		n, err := s2.DecodedLen(pt)
		if err != nil || n > MaxContactBytes*2 {
			return Contact{}, fmt.Errorf("%w: a record does not decompress", ErrCorrupt)
		}
		if pt, err = s2.Decode(nil, pt); err != nil {
			return Contact{}, fmt.Errorf("%w: a record does not decompress", ErrCorrupt)
		}
	case record.CodecS2Dict:
		d := s.dictByID(env.DictID)
		if d == nil {
			return Contact{}, fmt.Errorf("%w: a record names compression dictionary %d, which the store does not have", ErrCorrupt, env.DictID)
		}
		n, err := s2.DecodedLen(pt)
		if err != nil || n > MaxContactBytes*2 {
			return Contact{}, fmt.Errorf("%w: a record does not decompress", ErrCorrupt)
		}
		if pt, err = d.Decode(nil, pt); err != nil {
			return Contact{}, fmt.Errorf("%w: a record does not decompress", ErrCorrupt)
		}
	default:
		return Contact{}, fmt.Errorf("%w: unsupported codec %d", ErrCorrupt, env.Codec)
	}
	var rec record.Contact
	if err := record.Decode(pt, &rec); err != nil {
		return Contact{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return fromRecord(&rec), nil
}

// notFound is the error for a customer without a key: erased (and when), or unknown.
func (s *Store) notFound(customer string) error {
	ps := s.pseudonym(customer)
	if at, ok := s.ledger.erasedAt(ps[:]); ok {
		return &ErasedError{At: at}
	}
	return ErrNotFound
}

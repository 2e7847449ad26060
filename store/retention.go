package store

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"contactstore/crypto"
	"contactstore/internal/audit"
	"contactstore/internal/keys"
	"contactstore/internal/retention"

	"github.com/cockroachdb/pebble/v2"
)

// Retention (DESIGN.md §3). Every contact is sealed under a key derived from its customer's
// data key and the key of its expiry bucket: the UTC day on which its retention term ends.
// When that day has passed, the bucket's key is dropped from the vault and every record in
// it — for all customers, in every copy of the files — is noise at once.
//
// Between a contact's exact expiry instant and the end of its bucket's day, reads hide it
// (the term is checked against the clock on every read), so a contact past its term is
// unreadable through every API at once, whether or not the expirer has run.

// Policy is a retention policy: a default term and rules by category and/or channel, with
// terms as ISO 8601 durations. The most specific rule wins: category and channel, then
// category, then channel, then the default. A term runs from the contact's time, in UTC
// calendar units (a month is a calendar month).
type Policy = retention.Policy

// PolicyRule is one rule of a Policy.
type PolicyRule = retention.Rule

// Duration is an ISO 8601 duration in calendar units (P30D, P6M, P7Y, P1Y6M, PT12H).
type Duration = retention.Duration

// ParsePolicy reads and validates a policy's JSON form, such as
// {"default":"P2Y","rules":[{"category":"chat","retention":"P30D"}]}. An invalid policy
// gives an error wrapping ErrInvalid that says what is wrong.
func ParsePolicy(data []byte) (*Policy, error) {
	p, err := retention.Parse(data, Channels)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return p, nil
}

// ParseDuration parses an ISO 8601 duration such as P30D.
func ParseDuration(s string) (Duration, error) {
	d, err := retention.ParseDuration(s)
	if err != nil {
		return d, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return d, nil
}

// policyState is the policy in force, as stored in Pebble.
type policyState struct {
	Version uint64    `json:"version"`
	Set     time.Time `json:"set"`
	Policy  *Policy   `json:"policy"`
	// Previous is the policy this one replaced (nil: none), which a policy move needs to
	// know whether a held customer's contact was still within its term when the hold began.
	Previous *Policy `json:"previous,omitempty"`
}

// storedPolicy is a policyState signed with the store's Ed25519 key, so that a policy
// changed behind the store's back (in Pebble's files) is refused instead of silently
// shortening or lengthening every term.
type storedPolicy struct {
	State     json.RawMessage `json:"state"`
	Signature []byte          `json:"signature"`
}

const policySigContext = "contactstore/v1/retention-policy\x00"

func (s *Store) encodePolicy(ps *policyState) ([]byte, error) {
	state, err := json.Marshal(ps)
	if err != nil {
		return nil, err
	}
	sig := ed25519.Sign(s.vault.Load().SigningKey(), append([]byte(policySigContext), state...))
	return json.Marshal(storedPolicy{State: state, Signature: sig})
}

func (s *Store) decodePolicy(val []byte) (*policyState, error) {
	var sp storedPolicy
	if err := json.Unmarshal(val, &sp); err != nil {
		return nil, fmt.Errorf("%w: the stored retention policy does not parse", ErrCorrupt)
	}
	if !ed25519.Verify(s.vault.Load().PublicKey(), append([]byte(policySigContext), sp.State...), sp.Signature) {
		return nil, fmt.Errorf("%w: the stored retention policy is not signed by this store (changed outside it?)", ErrCorrupt)
	}
	var ps struct {
		Version  uint64          `json:"version"`
		Set      time.Time       `json:"set"`
		Policy   json.RawMessage `json:"policy"`
		Previous json.RawMessage `json:"previous"`
	}
	if err := json.Unmarshal(sp.State, &ps); err != nil {
		return nil, fmt.Errorf("%w: the stored retention policy does not parse", ErrCorrupt)
	}
	p, err := retention.Parse(ps.Policy, Channels)
	if err != nil {
		return nil, fmt.Errorf("%w: the stored retention policy: %v", ErrCorrupt, err)
	}
	st := &policyState{Version: ps.Version, Set: ps.Set, Policy: p}
	if len(ps.Previous) > 0 && string(ps.Previous) != "null" {
		if st.Previous, err = retention.Parse(ps.Previous, Channels); err != nil {
			return nil, fmt.Errorf("%w: the stored retention policy's predecessor: %v", ErrCorrupt, err)
		}
	}
	return st, nil
}

var (
	policyKey        = keys.Meta("policy")
	policyPendingKey = keys.Meta("policy-pending") // a policy change not yet applied to stored contacts
)

type policyHolder struct {
	cur     atomic.Pointer[policyState]
	pending atomic.Bool // stored contacts still have to be moved to the policy's buckets
}

func (s *Store) loadPolicy() error {
	val, closer, err := s.db.Get(policyKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil
	}
	if err != nil {
		return wrapErr("reading the retention policy", err)
	}
	ps, err := s.decodePolicy(val)
	closer.Close()
	if err != nil {
		return err
	}
	s.policy.cur.Store(ps)
	_, closer, err = s.db.Get(policyPendingKey)
	switch {
	case err == nil:
		closer.Close()
		s.policy.pending.Store(true)
	case !errors.Is(err, pebble.ErrNotFound):
		return wrapErr("reading the retention policy", err)
	}
	return nil
}

// Policy returns the retention policy in force, or nil when none has been set (contacts are
// then kept until one is).
func (s *Store) Policy() *Policy {
	if ps := s.policy.cur.Load(); ps != nil {
		return ps.Policy
	}
	return nil
}

// PolicyChange reports what SetPolicy did to the contacts already stored.
type PolicyChange struct {
	Version int64 `json:"version"` // the policy's version: 1 for the first, then one more per change
	// Moved counts contacts whose expiry day changed (resealed into their new bucket);
	// Expired counts contacts the new policy puts past their term (deleted at once).
	Moved   int64 `json:"moved"`
	Expired int64 `json:"expired"`
	// Scanned counts the contacts examined.
	Scanned int64 `json:"scanned"`
}

// SetPolicy replaces the retention policy and applies it to every contact already stored:
// a shortened term makes contacts past it unreadable at once and deletes them; a
// lengthened one keeps contacts whose old term has not yet been destroyed (those already
// expired stay gone: their keys no longer exist). Contacts whose expiry day changes are
// resealed into their new bucket. Held customers' contacts are left where they are.
//
// The new policy is durable before any contact moves; reads apply it at once. If the store
// stops before every contact has moved, the next Expire (or the background expirer after
// Open) finishes the move before it destroys any bucket.
func (s *Store) SetPolicy(ctx context.Context, p *Policy) (PolicyChange, error) {
	var ch PolicyChange
	if p == nil {
		return ch, fmt.Errorf("%w: SetPolicy: nil policy", ErrInvalid)
	}
	// Validate the value as ParsePolicy would (it may have been built in code).
	raw, err := json.Marshal(p)
	if err != nil {
		return ch, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if p, err = ParsePolicy(raw); err != nil {
		return ch, err
	}
	s.expireMu.Lock()
	defer s.expireMu.Unlock()
	s.gate.Lock()
	if s.closed.Load() {
		s.gate.Unlock()
		return ch, ErrClosed
	}
	ps := &policyState{Version: 1, Set: s.opts.Clock.Now().UTC(), Policy: p}
	if old := s.policy.cur.Load(); old != nil {
		ps.Version, ps.Previous = old.Version+1, old.Policy
	}
	enc, err := s.encodePolicy(ps)
	if err != nil {
		s.gate.Unlock()
		return ch, err
	}
	b := s.db.NewBatch()
	_ = b.Set(policyKey, enc, nil)
	_ = b.Set(policyPendingKey, u64(ps.Version), nil)
	s.audit.mu.Lock()
	st, err := s.stageAudit(b, audit.Entry{Kind: audit.KindPolicy, Detail: fmt.Sprintf("retention policy version %d: %s", ps.Version, raw)})
	if err == nil {
		err = commitBatch(b, pebble.Sync)
	}
	if err == nil {
		s.audit.apply(st)
		s.policy.cur.Store(ps)
		s.policy.pending.Store(true)
	}
	s.audit.mu.Unlock()
	b.Close()
	s.gate.Unlock()
	if err != nil {
		return ch, wrapErr("setting the retention policy", err)
	}
	ch.Version = int64(ps.Version)
	m, err := s.migrate(ctx, s.opts.Clock.Now())
	ch.Moved, ch.Expired, ch.Scanned = m.moved, m.expired, m.scanned
	return ch, err
}

const day = 24 * time.Hour

// dayOf returns the expiry bucket of an instant: its UTC day since 1970 (0 before 1970).
func dayOf(t time.Time) uint32 {
	d := t.Unix() / 86400
	if t.Unix() < 0 {
		return 0
	}
	if d >= keys.HoldBase {
		return keys.HoldBase - 1
	}
	return uint32(d)
}

// bucketDay returns the first instant of a bucket's day.
func bucketDay(b uint32) time.Time { return time.Unix(int64(b)*86400, 0).UTC() }

// expiryOf returns when a contact's term ends under a policy.
func expiryOf(p *Policy, category, channel string, t time.Time) time.Time {
	if category == "" {
		category = DefaultCategory
	}
	return p.Term(category, channel).AddTo(t.UTC())
}

// placement decides a contact's bucket: NoExpiry without a policy, else the day its term
// ends. A contact already past its term is expired (not stored) unless a hold keeps it (its
// customer is held, since before its term ended): it then goes to the hold's bucket.
func placement(ps *policyState, v *crypto.Vault, c *Contact, now time.Time, h holdEntry, held bool) (bucket uint32, expired bool) {
	if ps == nil {
		return keys.NoExpiry, false
	}
	exp := expiryOf(ps.Policy, c.Category, c.Channel, c.Time)
	b := dayOf(exp)
	if !now.Before(exp) || b <= v.ExpiredThrough {
		if keeps(h.since, held, exp) {
			return h.bucket, false
		}
		return 0, true
	}
	return b, false
}

// bucketPrefetch is how many following days get a key when a bucket's key is created, so
// that steady ingest writes the vault about once a week per distinct term.
const bucketPrefetch = 7

// errNoChange tells updateVault that there is nothing to write.
var errNoChange = errors.New("no change")

// ensureBuckets gives every bucket in need a key (one vault write for all of them). Callers
// hold the gate (shared or exclusive), so that no expiry runs meanwhile.
func (s *Store) ensureBuckets(ctx context.Context, need map[uint32]bool) error {
	v := s.vault.Load()
	missing := false
	for b := range need {
		if _, ok := v.Buckets[b]; !ok {
			missing = true
			break
		}
	}
	if !missing {
		return nil
	}
	err := s.updateVault(ctx, func(v *crypto.Vault) error {
		added := 0
		for b := range need {
			for d := uint32(0); d < bucketPrefetch; d++ {
				id := b + d
				if d > 0 && (!keys.ExpiryBucket(b) || !keys.ExpiryBucket(id)) {
					break // only days have following days
				}
				if keys.IsHold(id) {
					continue // a hold's key is made with the hold, never here
				}
				if keys.ExpiryBucket(id) && id <= v.ExpiredThrough {
					continue
				}
				if _, ok := v.Buckets[id]; ok {
					continue
				}
				k, err := crypto.NewKey()
				if err != nil {
					return err
				}
				v.Buckets[id] = k
				added++
			}
		}
		if added == 0 {
			return errNoChange
		}
		return nil
	})
	if err != nil {
		return wrapErr("creating expiry bucket keys", err)
	}
	return nil
}

// bucketGone reports whether a bucket's records are gone: its key was destroyed.
func bucketGone(v *crypto.Vault, b uint32) bool {
	if keys.ExpiryBucket(b) && b <= v.ExpiredThrough {
		return true
	}
	_, ok := v.Buckets[b]
	return !ok
}

package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"contactstore/crypto"
	"contactstore/internal/audit"
	"contactstore/internal/keys"
	"contactstore/internal/transfer"

	"github.com/cockroachdb/pebble/v2"
)

// Objections (GDPR Art. 21). A customer may object to transfers of their data outside the
// EEA ("non-eea") or to any disclosure to a third party ("all"). An objection wins over every
// other ground the transfer guard knows. Objections live under 'O' pseudonym, sealed under a
// key derived from the customer's data key, and every change is audited.

// Objection scopes.
const (
	ObjectNonEEA = transfer.ObjectNonEEA // no transfer outside the EEA
	ObjectAll    = transfer.ObjectAll    // no disclosure to any third party
)

// ErrNoObjection: Withdraw named an objection the customer has not made.
var ErrNoObjection = errors.New("contactstore: the customer has no such objection")

// Objection is one objection in force.
type Objection struct {
	Scope string    `json:"scope"`
	Since time.Time `json:"since"`
}

type objections struct {
	NonEEA time.Time `json:"non_eea,omitzero"`
	All    time.Time `json:"all,omitzero"`
}

func (o objections) scopes() []string {
	var out []string
	if !o.NonEEA.IsZero() {
		out = append(out, ObjectNonEEA)
	}
	if !o.All.IsZero() {
		out = append(out, ObjectAll)
	}
	return out
}

func (o *objections) slot(scope string) (*time.Time, error) {
	switch scope {
	case ObjectNonEEA:
		return &o.NonEEA, nil
	case ObjectAll:
		return &o.All, nil
	}
	return nil, fmt.Errorf("%w: unknown objection scope %q (non-eea or all)", ErrInvalid, scope)
}

const objectionPurpose = "objection"

func (s *Store) readObjections(cu *customer) (objections, error) {
	var o objections
	k := keys.Objection(cu.ps)
	val, closer, err := s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return o, nil
	}
	if err != nil {
		return o, wrapErr("reading objections", err)
	}
	defer closer.Close()
	pt, err := crypto.OpenCustomerData(&cu.key.DataKey, objectionPurpose, val, k)
	if err != nil {
		return o, fmt.Errorf("%w: the customer's objections failed authentication", ErrCorrupt)
	}
	defer clear(pt)
	if err := json.Unmarshal(pt, &o); err != nil {
		return o, fmt.Errorf("%w: the customer's objections do not decode", ErrCorrupt)
	}
	return o, nil
}

// Object records a customer's objection (scope ObjectNonEEA or ObjectAll). Objecting again
// keeps the original date.
func (s *Store) Object(ctx context.Context, customer, scope string) error {
	return s.changeObjection(ctx, customer, scope, true)
}

// Withdraw removes a customer's objection; ErrNoObjection if there is none of that scope.
func (s *Store) Withdraw(ctx context.Context, customer, scope string) error {
	return s.changeObjection(ctx, customer, scope, false)
}

func (s *Store) changeObjection(ctx context.Context, customer, scope string, on bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	op := "object"
	if !on {
		op = "withdraw an objection"
	}
	cu, err := s.lockedCustomer(op, customer)
	defer s.gate.Unlock()
	if err != nil {
		return err
	}
	o, err := s.readObjections(cu)
	if err != nil {
		return err
	}
	t, err := o.slot(scope)
	if err != nil {
		return err
	}
	kind := audit.KindObject
	switch {
	case on && !t.IsZero():
		return nil // already in force
	case on:
		*t = s.opts.Clock.Now().UTC()
	case t.IsZero():
		return ErrNoObjection
	default:
		*t, kind = time.Time{}, audit.KindWithdraw
	}
	b := s.db.NewBatch()
	defer b.Close()
	k := keys.Objection(cu.ps)
	if len(o.scopes()) == 0 {
		_ = b.Delete(k, nil)
	} else {
		pt, err := json.Marshal(&o)
		if err != nil {
			return err
		}
		sealed, err := crypto.SealCustomerData(&cu.key.DataKey, objectionPurpose, pt, k)
		clear(pt)
		if err != nil {
			return err
		}
		_ = b.Set(k, sealed, nil)
	}
	if err := s.commitWithAudit(b, audit.Entry{Kind: kind, Customers: []string{hexPS(cu.ps)}, Detail: "scope " + scope}); err != nil {
		return wrapErr(op, err)
	}
	return nil
}

// Objections returns the objections in force for a customer.
func (s *Store) Objections(customer string) ([]Objection, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	cu, err := s.lookupCustomer(customer, false)
	if err == nil && !cu.persisted.Load() {
		err = errNoCustomer
	}
	if errors.Is(err, errNoCustomer) {
		return nil, s.notFound(customer)
	}
	if err != nil {
		return nil, err
	}
	o, err := s.readObjections(cu)
	if err != nil {
		return nil, err
	}
	out := []Objection{}
	if !o.NonEEA.IsZero() {
		out = append(out, Objection{ObjectNonEEA, o.NonEEA})
	}
	if !o.All.IsZero() {
		out = append(out, Objection{ObjectAll, o.All})
	}
	return out, nil
}

// deletePseudonymData stages the deletion of what is filed under a customer's pseudonym
// besides the data key: objections and disclosures (holds are handled by their own rules).
func deletePseudonymData(b *pebble.Batch, ps crypto.Pseudonym) {
	_ = b.Delete(keys.Objection(ps), nil)
	lo, hi := keys.Disclosures(ps)
	_ = b.DeleteRange(lo, hi, nil)
}

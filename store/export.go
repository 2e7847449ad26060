package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"time"

	"contactstore/crypto"
	"contactstore/internal/audit"
	"contactstore/internal/export"
	"contactstore/internal/keys"
	"contactstore/internal/transfer"

	"filippo.io/age"
	"github.com/cockroachdb/pebble/v2"
)

// Data portability (GDPR Art. 15 and 20; DESIGN.md §6). Export streams one customer's whole
// history to a recipient the customer names, as JSON Lines: a header, one object per
// contact, a trailer with the count and the SHA-256 of everything before it. The transfer
// guard decides first — nothing is produced when it refuses — and every decision goes to
// the audit log. The stream is read in bounded chunks with fresh iterators, so memory stays
// constant whatever the customer's volume and no iterator pins Pebble's files for long.

// ExportOptions name the recipient and the legal ground of an export.
type ExportOptions struct {
	// Recipient is the person or organisation the customer named (required). It is kept,
	// sealed under the customer's key, in the record of disclosures (Art. 15(1)(c)).
	Recipient string
	// Country is the recipient's country, ISO 3166-1 alpha-2 (required).
	Country string
	// DPF: the recipient is certified under the EU-US Data Privacy Framework.
	DPF bool
	// Commercial: the recipient is a commercial organisation (the scope of Canada's
	// adequacy decision).
	Commercial bool
	// Safeguard declares an Art. 46/47 safeguard or an Art. 49 derogation: "scc", "bcr",
	// "consent" or "legal-claims" ("" for none).
	Safeguard string
	// AgeRecipients, when set, encrypt the whole stream (Export only) to these age X25519
	// public keys ("age1…"), so that it can travel by any channel.
	AgeRecipients []string
	// Progress, if set, is called after every contact with the contacts and bytes so far.
	Progress func(contacts, bytes int64)
}

// Transfer guard types: the rules (an adequacy list) and a decision.
type (
	TransferRules    = transfer.Rules
	TransferDecision = transfer.Decision
	Adequacy         = transfer.Adequacy
)

// DefaultTransferRules returns the embedded adequacy list.
func DefaultTransferRules() *TransferRules { return transfer.Default() }

// LoadTransferRules reads a replacement adequacy list (the JSON form `transfer-rules --show
// --json` prints), so that a new Commission decision needs no rebuild.
func LoadTransferRules(path string) (*TransferRules, error) {
	r, err := transfer.LoadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return r, nil
}

// ParseSafeguard checks a declared safeguard ("", "scc", "bcr", "consent", "legal-claims").
func ParseSafeguard(s string) (string, error) {
	sg, err := transfer.ParseSafeguard(s)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return sg, nil
}

// ParseObjectionScope checks an objection scope (ObjectNonEEA or ObjectAll).
func ParseObjectionScope(s string) (string, error) {
	sc, err := transfer.ParseObjection(s)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return sc, nil
}

// ErrTransferRefused: the transfer guard refused an export. The error is a
// *TransferRefusedError with the decision.
var ErrTransferRefused = errors.New("contactstore: transfer refused")

// TransferRefusedError carries a refusal: why, and what would make the transfer lawful.
type TransferRefusedError struct{ Decision TransferDecision }

func (e *TransferRefusedError) Error() string {
	msg := "contactstore: transfer refused: " + e.Decision.Reason
	if e.Decision.Remedy != "" {
		msg += "; lawful with " + e.Decision.Remedy
	}
	return msg
}

// Is makes errors.Is(err, ErrTransferRefused) true.
func (e *TransferRefusedError) Is(target error) bool { return target == ErrTransferRefused }

// Stream line types, re-exported for readers of ExportLines.
type (
	ExportHeader     = export.Header
	ExportTrailer    = export.Trailer
	ExportDisclosure = export.Disclosure
)

// ExportLine is one line of an export stream.
type ExportLine struct {
	Type    string         // "header", "contact" or "trailer"
	Header  *ExportHeader  // for "header"
	Contact *Contact       // for "contact"
	Trailer *ExportTrailer // for "trailer"
	// JSON is the line exactly as Export writes it, newline included.
	JSON []byte
}

// ExportResult tells what Export wrote.
type ExportResult struct {
	Contacts int64            `json:"contacts"`
	Bytes    int64            `json:"bytes"`   // of the plain stream, trailer included
	Written  int64            `json:"written"` // to w: the age-encrypted size when encrypting
	SHA256   string           `json:"sha256"`  // the trailer's digest
	Decision TransferDecision `json:"decision"`
}

// CheckTransfer asks the transfer guard whether the customer's data may go to the recipient,
// without exporting anything. The decision is audited. A refusal is a decision, not an
// error: the error is for an unknown customer or a failure.
func (s *Store) CheckTransfer(ctx context.Context, customer string, o ExportOptions) (TransferDecision, error) {
	cu, err := s.exportCustomer(customer, &o)
	if err != nil {
		return TransferDecision{}, err
	}
	return s.decideTransfer(cu, &o, "transfer check")
}

func (s *Store) exportCustomer(customer string, o *ExportOptions) (*customer, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	if customer == "" {
		return nil, fmt.Errorf("%w: export: customer is required", ErrInvalid)
	}
	if o.Recipient == "" {
		return nil, fmt.Errorf("%w: export: the recipient is required", ErrInvalid)
	}
	if len(o.Recipient) > 512 {
		return nil, fmt.Errorf("%w: export: the recipient's name is longer than 512 bytes", ErrInvalid)
	}
	if o.Country == "" {
		return nil, fmt.Errorf("%w: export: the recipient's country is required", ErrInvalid)
	}
	sg, err := transfer.ParseSafeguard(o.Safeguard)
	if err != nil {
		return nil, fmt.Errorf("%w: export: %v", ErrInvalid, err)
	}
	o.Safeguard = sg
	for _, r := range o.AgeRecipients {
		if _, err := age.ParseX25519Recipient(r); err != nil {
			return nil, fmt.Errorf("%w: export: an age recipient is not an age X25519 public key (age1…): %v", ErrInvalid, err)
		}
	}
	cu, err := s.lookupCustomer(customer, false)
	if err == nil && !cu.persisted.Load() {
		err = errNoCustomer
	}
	if errors.Is(err, errNoCustomer) {
		return nil, s.notFound(customer)
	}
	return cu, err
}

// decideTransfer runs the guard with the customer's objections and audits the decision.
func (s *Store) decideTransfer(cu *customer, o *ExportOptions, what string) (TransferDecision, error) {
	obj, err := s.readObjections(cu)
	if err != nil {
		return TransferDecision{}, err
	}
	req := transfer.Request{Recipient: o.Recipient, Country: o.Country, DPF: o.DPF, Commercial: o.Commercial,
		Safeguard: o.Safeguard, Objections: obj.scopes()}
	d := s.opts.TransferRules.Decide(req, s.opts.Clock.Now())
	verdict := "refused"
	if d.Allowed {
		verdict = "allowed (" + d.Ground + ")"
	}
	// The recipient's name may be personal data: the audit log keeps its SHA-256 only.
	country := d.Country
	if country == "" { // not a country code: say what was asked, briefly
		country = fmt.Sprintf("%.8q", o.Country)
	}
	detail := fmt.Sprintf("%s to %s: %s; recipient sha256:%s; %s", what, country, verdict, digestHex(o.Recipient), d.Reason)
	if err := s.auditNow(true, audit.Entry{Kind: audit.KindTransfer, Customers: []string{hexPS(cu.ps)}, Detail: detail}); err != nil {
		return d, err
	}
	return d, nil
}

func digestHex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// ExportLines yields the export stream line by line, in process (no encryption): the guard
// first (a refusal is the only element, a *TransferRefusedError), then the header, the
// contacts and the trailer. If the customer is erased while the stream is produced, the
// sequence ends with an error and no trailer: a stream without a trailer is never whole.
func (s *Store) ExportLines(ctx context.Context, customer string, o ExportOptions) iter.Seq2[ExportLine, error] {
	return func(yield func(ExportLine, error) bool) {
		s.exportLines(ctx, customer, o, nil, yield)
	}
}

// Export writes the customer's export stream to w (age-encrypted when AgeRecipients are
// set). The guard decides before the first byte: a refused export writes nothing and
// returns a *TransferRefusedError. On any other error the stream written so far has no
// trailer, and so is recognisably incomplete.
func (s *Store) Export(ctx context.Context, customer string, w io.Writer, o ExportOptions) (ExportResult, error) {
	var res ExportResult
	cw := &byteCounter{w: w}
	w = cw
	var out io.Writer = w
	var enc io.WriteCloser
	started := func(d TransferDecision) error {
		res.Decision = d
		if len(o.AgeRecipients) == 0 {
			return nil
		}
		rs := make([]age.Recipient, 0, len(o.AgeRecipients))
		for _, r := range o.AgeRecipients {
			x, err := age.ParseX25519Recipient(r)
			if err != nil {
				return fmt.Errorf("%w: export: %v", ErrInvalid, err)
			}
			rs = append(rs, x)
		}
		var err error
		if enc, err = age.Encrypt(w, rs...); err != nil {
			return wrapErr("export: age encryption", err)
		}
		out = enc
		return nil
	}
	var failed error
	s.exportLines(ctx, customer, o, started, func(l ExportLine, err error) bool {
		if err != nil {
			failed = err
			return false
		}
		if _, err := out.Write(l.JSON); err != nil {
			failed = wrapErr("export: writing", err)
			return false
		}
		res.Bytes += int64(len(l.JSON))
		if l.Type == export.TypeTrailer {
			res.Contacts, res.SHA256 = l.Trailer.Contacts, l.Trailer.SHA256
		}
		return true
	})
	if failed != nil {
		res.Written = cw.n
		return res, failed
	}
	if enc != nil {
		if err := enc.Close(); err != nil {
			return res, wrapErr("export: age encryption", err)
		}
	}
	res.Written = cw.n
	return res, nil
}

type byteCounter struct {
	w io.Writer
	n int64
}

func (c *byteCounter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ContactCount returns how many contacts the store holds for a customer (from its counter,
// without reading them; contacts past their term that expiry has not yet removed are
// included). For progress displays.
func (s *Store) ContactCount(customer string) (int64, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	cu, err := s.lookupCustomer(customer, false)
	if err == nil && !cu.persisted.Load() {
		err = errNoCustomer
	}
	if errors.Is(err, errNoCustomer) {
		return 0, s.notFound(customer)
	}
	if err != nil {
		return 0, err
	}
	n, err := s.counter(customerCountKey(cu.key.Prefix))
	if err != nil || len(n) == 0 {
		return 0, err
	}
	return max(n[0], 0), nil
}

// exportLines produces the stream. started, if set, is called with the allowed decision
// before the first line (Export sets up encryption there).
func (s *Store) exportLines(ctx context.Context, customer string, o ExportOptions, started func(TransferDecision) error,
	yield func(ExportLine, error) bool) {
	cu, err := s.exportCustomer(customer, &o)
	if err != nil {
		yield(ExportLine{}, err)
		return
	}
	d, err := s.decideTransfer(cu, &o, "export")
	if err != nil {
		yield(ExportLine{}, err)
		return
	}
	if !d.Allowed {
		yield(ExportLine{}, &TransferRefusedError{Decision: d})
		return
	}
	if started != nil {
		if err := started(d); err != nil {
			yield(ExportLine{}, err)
			return
		}
	}
	now := s.opts.Clock.Now().UTC()
	hdr, err := s.exportHeader(cu, customer, &o, d, now)
	if err != nil {
		yield(ExportLine{}, err)
		return
	}
	// The writer only counts and hashes; each line is yielded as the fresh slice that
	// encoded it (no copy), and the consumer writes it.
	w := export.NewWriter(io.Discard)
	hl, err := export.HeaderLine(hdr)
	if err != nil {
		yield(ExportLine{}, err)
		return
	}
	emit := func(l ExportLine, contact bool) bool {
		if err := w.WriteLine(l.JSON, contact); err != nil {
			return yield(ExportLine{}, err)
		}
		return yield(l, nil)
	}
	if !emit(ExportLine{Type: export.TypeHeader, Header: hdr, JSON: hl}, false) {
		return
	}
	var n int64
	ok := true
	s.contactsOf(ctx, cu, TimeRange{}, func(c Contact, err error) bool {
		if err != nil {
			yield(ExportLine{}, err)
			ok = false
			return false
		}
		cl, err := export.ContactLine(&c)
		if err != nil {
			yield(ExportLine{}, err)
			ok = false
			return false
		}
		if !emit(ExportLine{Type: export.TypeContact, Contact: &c, JSON: cl}, true) {
			ok = false
			return false
		}
		n++
		if o.Progress != nil {
			o.Progress(n, w.Bytes())
		}
		return true
	})
	if !ok {
		return
	}
	// An erasure (or the customer's last contact expiring) while the stream ran would have
	// cut it short silently: reads after it find nothing. Only a customer still there, under
	// the same key, makes the stream whole.
	if err := s.stillThere(cu); err != nil {
		yield(ExportLine{}, err)
		return
	}
	t, tl, err := w.Close()
	if err != nil {
		yield(ExportLine{}, err)
		return
	}
	if err := s.recordDisclosure(cu, &o, d, n, t.SHA256, now); err != nil {
		yield(ExportLine{}, err)
		return
	}
	yield(ExportLine{Type: export.TypeTrailer, Trailer: &t, JSON: tl}, nil)
}

// stillThere checks that a customer read from the start of an export still exists, with
// the same record prefix (a customer erased and created again has another).
func (s *Store) stillThere(cu *customer) error {
	now, err := s.lookupByPS(cu.ps)
	if errors.Is(err, errNoCustomer) {
		if at, ok := s.ledger.erasedAt(cu.ps[:]); ok {
			err := &ErasedError{At: at}
			return fmt.Errorf("%w (while the export ran: the stream is incomplete)", err)
		}
		return fmt.Errorf("%w: the customer's data went while the export ran (expired or erased): the stream is incomplete", ErrNotFound)
	}
	if err != nil {
		return err
	}
	if now.key.Prefix != cu.key.Prefix {
		return fmt.Errorf("%w: the customer was erased while the export ran: the stream is incomplete", ErrErased)
	}
	return nil
}

func (s *Store) exportHeader(cu *customer, customer string, o *ExportOptions, d TransferDecision, now time.Time) (*ExportHeader, error) {
	h := &ExportHeader{
		StoreID: s.StoreID(), Customer: customer, Recipient: o.Recipient, Country: d.Country,
		LegalGround: d.Ground, LegalBasis: d.Reason, Created: now,
		Retention: &export.Retention{Policy: json.RawMessage("null"),
			Note: "no retention policy is set: contacts are kept until one is"},
	}
	if p := s.Policy(); p != nil {
		pj, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		h.Retention = &export.Retention{Policy: pj, Note: "each contact is kept for the term of the most specific rule " +
			"(category and channel, then category, then channel, then the default), counted from the contact's time; " +
			"then it is destroyed, unless a legal hold keeps it"}
	}
	ds, err := s.disclosures(cu)
	if err != nil {
		return nil, err
	}
	h.Disclosures = ds
	obj, err := s.readObjections(cu)
	if err != nil {
		return nil, err
	}
	h.Objections = obj.scopes()
	if e, ok := s.holds.get(cu.ps); ok {
		h.HeldSince = e.since
	}
	return h, nil
}

const disclosurePurpose = "disclosure"

// recordDisclosure keeps a completed export, sealed under the customer's key, for the next
// Art. 15 answer, and audits it.
func (s *Store) recordDisclosure(cu *customer, o *ExportOptions, d TransferDecision, n int64, digest string, now time.Time) error {
	rec := ExportDisclosure{Time: now, Recipient: o.Recipient, Country: d.Country, Ground: d.Ground, Contacts: n, SHA256: digest}
	pt, err := json.Marshal(&rec)
	if err != nil {
		return err
	}
	defer clear(pt)
	s.gate.RLock() // an erasure of this customer must not interleave
	defer s.gate.RUnlock()
	if err := s.stillThere(cu); err != nil {
		return err
	}
	// Two exports in the same instant (a coarse clock) must not share a key.
	s.disclosureMu.Lock()
	defer s.disclosureMu.Unlock()
	t := uint64(now.UnixNano())
	for {
		_, closer, err := s.db.Get(keys.Disclosure(cu.ps, t))
		if errors.Is(err, pebble.ErrNotFound) {
			break
		}
		if err != nil {
			return wrapErr("export: recording the disclosure", err)
		}
		closer.Close()
		t++
	}
	k := keys.Disclosure(cu.ps, t)
	sealed, err := crypto.SealCustomerData(&cu.key.DataKey, disclosurePurpose, pt, k)
	if err != nil {
		return err
	}
	b := s.db.NewBatch()
	defer b.Close()
	_ = b.Set(k, sealed, nil)
	return wrapErr("export: recording the disclosure", s.commitWithAudit(b, audit.Entry{Kind: audit.KindExport,
		Customers: []string{hexPS(cu.ps)}, Count: n,
		Detail: fmt.Sprintf("export to %s (%s) complete; recipient sha256:%s; stream sha256:%s", d.Country, d.Ground, digestHex(o.Recipient), digest)}))
}

// disclosures lists a customer's earlier exports, oldest first.
func (s *Store) disclosures(cu *customer) ([]ExportDisclosure, error) {
	lo, hi := keys.Disclosures(cu.ps)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, wrapErr("reading disclosures", err)
	}
	defer it.Close()
	out := []ExportDisclosure{}
	for it.First(); it.Valid(); it.Next() {
		pt, err := crypto.OpenCustomerData(&cu.key.DataKey, disclosurePurpose, it.Value(), it.Key())
		if err != nil {
			return nil, fmt.Errorf("%w: a disclosure record failed authentication", ErrCorrupt)
		}
		var d ExportDisclosure
		err = json.Unmarshal(pt, &d)
		clear(pt)
		if err != nil {
			return nil, fmt.Errorf("%w: a disclosure record does not decode", ErrCorrupt)
		}
		out = append(out, d)
	}
	return out, wrapErr("reading disclosures", it.Error())
}

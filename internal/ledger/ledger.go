// Package ledger is the format of the erasure ledger (DIR/erasures): an append-only,
// hash-chained log, one JSON object per line, that holds pseudonyms, times, shard
// generations and receipt digests — never a customer id or anything else in the clear. It
// lives outside Pebble so that a restore of older Pebble files can replay it.
//
// An erasure writes two kinds of entries: an "intent" before it changes anything (the
// pseudonyms and the shard generations it will create), then one "erased" entry per customer
// once the new key vault is durable. An intent without its "erased" entries after a crash
// is resolved on open: committed if the vault has the new generations, else "aborted".
//
// Each entry's hash is SHA-256 over the previous entry's hash and the entry's canonical JSON
// without its hash; the first entry's previous hash is 32 zero bytes.
package ledger

import (
	"bufio"
	"bytes"
	"contactstore/internal/chain"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Kinds of entries.
const (
	KindIntent  = "intent"
	KindErased  = "erased"
	KindAborted = "aborted"
)

// ShardGen names a shard and a generation of its key.
type ShardGen struct {
	Shard uint32 `json:"shard"`
	Gen   uint32 `json:"gen"`
}

// Entry is one line of the ledger.
type Entry struct {
	Seq       uint64     `json:"seq"`
	Time      time.Time  `json:"time"`
	Kind      string     `json:"kind"`
	Customers []string   `json:"customers,omitempty"` // pseudonyms (hex), intent only
	Shards    []ShardGen `json:"shards,omitempty"`    // target generations, intent only
	Customer  string     `json:"customer,omitempty"`  // pseudonym (hex), erased only
	Intent    uint64     `json:"intent,omitempty"`    // the intent an erased/aborted entry closes
	Receipt   string     `json:"receipt_sha256,omitempty"`
	Prev      string     `json:"prev"`
	Hash      string     `json:"hash"`
}

// ErrCorrupt reports a ledger that does not parse or whose chain does not verify.
var ErrCorrupt = errors.New("erasure ledger is corrupt")

// MaxLine bounds one line of the ledger.
const MaxLine = 1 << 20

var zeroHash = chain.ZeroHash

// Seal fills in e.Prev from prev (the previous entry's hash, "" for the first) and e.Hash,
// and returns the line to append (with its newline).
func Seal(e *Entry, prev string) ([]byte, error) {
	if prev == "" {
		prev = zeroHash
	}
	e.Prev = prev
	e.Hash = ""
	e.Time = e.Time.UTC()
	h, err := hashOf(e)
	if err != nil {
		return nil, err
	}
	e.Hash = h
	line, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	return append(line, '\n'), nil
}

func hashOf(e *Entry) (string, error) {
	c := *e
	c.Hash = ""
	body, err := json.Marshal(&c)
	if err != nil {
		return "", err
	}
	h, err := chain.Hash(c.Prev, body)
	if err != nil {
		return "", fmt.Errorf("%w: malformed previous hash", ErrCorrupt)
	}
	return h, nil
}

// Ledger is a parsed, verified ledger.
type Ledger struct {
	Entries []Entry
	// Size is the number of bytes of complete, verified lines; a torn last line (from a
	// crash during an append) is not counted and should be cut off.
	Size int64
	// Torn reports that the input ended in an incomplete line.
	Torn bool
}

// Last returns the hash of the last entry ("" for an empty ledger) and the next sequence
// number.
func (l *Ledger) Last() (hash string, next uint64) {
	if len(l.Entries) == 0 {
		return "", 1
	}
	e := l.Entries[len(l.Entries)-1]
	return e.Hash, e.Seq + 1
}

// Parse reads and verifies a whole ledger: every line parses, sequence numbers run from 1
// without gaps, every hash links to its predecessor and matches the entry. A torn tail — an
// incomplete last line, or a hole a crash left in the last append — is tolerated and
// reported as Torn; anything else wrong is ErrCorrupt with the line number.
//
// A hole: a file system that kept a later block of an unsynced append but not an earlier
// one fills the gap with zeros. No entry holds a NUL byte (JSON escapes it), and every append
// is synced before the next one starts, so a line that fails and holds a NUL byte begins the
// last append's torn tail — provided no more lines follow than one append writes
// (MaxAppend); otherwise it is corruption.
func Parse(r io.Reader) (*Ledger, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	l := &Ledger{}
	prev := zeroHash
	for line := 1; ; line++ {
		b, err := br.ReadSlice('\n')
		if err == io.EOF {
			if len(b) > 0 {
				l.Torn = true
			}
			return l, nil
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
		var e *Entry
		perr := fmt.Errorf("%w: line %d is too long", ErrCorrupt, line)
		if err == nil {
			if e, err = parseLine(b, prev, uint64(len(l.Entries)+1)); err != nil {
				perr = fmt.Errorf("%w: line %d: %v", ErrCorrupt, line, err)
			} else {
				perr = nil
			}
		}
		if perr != nil {
			if bytes.IndexByte(b, 0) >= 0 {
				rest, err := io.ReadAll(br)
				if err != nil {
					return nil, err
				}
				if bytes.Count(rest, []byte{'\n'}) < MaxAppend {
					l.Torn = true
					return l, nil
				}
			}
			return nil, perr
		}
		l.Entries = append(l.Entries, *e)
		l.Size += int64(len(b))
		prev = e.Hash
	}
}

// MaxAppend bounds the entries one append writes (the store erases at most 256 customers in
// one group, one "erased" entry each).
const MaxAppend = 256

func parseLine(b []byte, prev string, seq uint64) (*Entry, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var e Entry
	if err := dec.Decode(&e); err != nil {
		return nil, errors.New("does not parse")
	}
	if _, err := dec.Token(); err != io.EOF {
		// Anything after the object (another line glued on, say) would go unverified.
		return nil, errors.New("does not parse (data after the entry)")
	}
	if e.Seq != seq {
		return nil, fmt.Errorf("sequence %d where %d was due", e.Seq, seq)
	}
	switch e.Kind {
	case KindIntent:
		if len(e.Customers) == 0 || len(e.Shards) == 0 {
			return nil, errors.New("intent without customers or shards")
		}
	case KindErased:
		if e.Customer == "" || e.Intent == 0 || e.Intent >= e.Seq {
			return nil, errors.New("erased entry without customer or intent")
		}
	case KindAborted:
		if e.Intent == 0 || e.Intent >= e.Seq {
			return nil, errors.New("aborted entry without intent")
		}
	default:
		return nil, errors.New("unknown kind")
	}
	if subtle.ConstantTimeCompare([]byte(e.Prev), []byte(prev)) != 1 {
		return nil, errors.New("does not link to the previous entry (changed, removed or reordered)")
	}
	h, err := hashOf(&e)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(h), []byte(e.Hash)) != 1 {
		return nil, errors.New("hash does not match the entry (changed)")
	}
	return &e, nil
}

// Erased returns the "erased" entry of a pseudonym (hex), or nil.
func (l *Ledger) Erased(pseudonym string) *Entry {
	for i := len(l.Entries) - 1; i >= 0; i-- {
		if e := &l.Entries[i]; e.Kind == KindErased && e.Customer == pseudonym {
			return e
		}
	}
	return nil
}

// Pending returns the intents that are not closed: not aborted, and with at least one of
// their customers still without an "erased" entry.
func (l *Ledger) Pending() []Entry {
	aborted := map[uint64]bool{}
	erased := map[uint64]map[string]bool{}
	for _, e := range l.Entries {
		switch e.Kind {
		case KindAborted:
			aborted[e.Intent] = true
		case KindErased:
			if erased[e.Intent] == nil {
				erased[e.Intent] = map[string]bool{}
			}
			erased[e.Intent][e.Customer] = true
		}
	}
	var out []Entry
	for _, e := range l.Entries {
		if e.Kind != KindIntent || aborted[e.Seq] {
			continue
		}
		for _, c := range e.Customers {
			if !erased[e.Seq][c] {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

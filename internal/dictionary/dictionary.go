// Package dictionary trains the compression dictionaries that records are compressed with,
// such that a dictionary holds nothing that belongs to a single customer.
//
// A trained dictionary is made of frequent fragments of real contacts, so it could hold
// personal data. Two rules keep it from holding any one customer's: the samples are at most
// one contact per customer, and after training the dictionary is cut into pieces that each
// occur verbatim in the samples of at least K distinct customers; bytes that fit in no such
// piece are cut out. What remains are phrases many customers share ("Met vriendelijke groet",
// "Bedankt voor uw bericht", order-number layouts), which erasing one customer does not
// make theirs. The store still seals the dictionary like a record.
package dictionary

import (
	"bytes"
	"encoding/binary"
	"errors"

	"github.com/klauspost/compress/dict"
	"github.com/klauspost/compress/s2"
)

// Shingle is the window length of the k-anonymity filter.
const Shingle = 8

// MaxSize is the largest dictionary Train builds.
const MaxSize = 64 << 10

// Train builds an S2 dictionary from samples, one per distinct customer, made only of pieces
// found verbatim in at least k samples (see Filter). It returns the serialised
// dictionary (s2.Dict.Bytes) or an error when too little survives to be worth using.
func Train(samples [][]byte, k int) ([]byte, error) {
	if len(samples) < k {
		return nil, errors.New("fewer samples than the anonymity threshold")
	}
	raw, err := dict.BuildRawDict(samples, dict.Options{MaxDictSize: MaxSize, HashBytes: 6})
	if err != nil {
		return nil, err
	}
	kept := Filter(raw, samples, k)
	if len(kept) < 256 {
		return nil, errors.New("too little shared text for a dictionary")
	}
	d := s2.MakeDict(kept, nil)
	if d == nil {
		return nil, errors.New("dictionary rejected by s2")
	}
	return d.Bytes(), nil
}

// Filter cuts raw into pieces that each occur verbatim in at least k of the samples and
// returns their concatenation; bytes not inside such a piece (of at least Shingle bytes) are
// dropped. Pieces are grown greedily from the left.
func Filter(raw []byte, samples [][]byte, k int) []byte {
	return bytes.Join(Pieces(raw, samples, k), nil)
}

// Pieces returns the pieces Filter keeps, in order.
func Pieces(raw []byte, samples [][]byte, k int) [][]byte {
	// Inverted index: which samples hold each Shingle-byte string.
	index := make(map[uint64][]int32)
	seen := make(map[uint64]struct{})
	for id, s := range samples {
		clear(seen)
		for i := 0; i+Shingle <= len(s); i++ {
			h := binary.LittleEndian.Uint64(s[i:])
			if _, ok := seen[h]; !ok {
				seen[h] = struct{}{}
				index[h] = append(index[h], int32(id))
			}
		}
	}
	// Checking a few more than k candidates is enough to know that k hold a piece; it
	// keeps the work bounded for very common strings.
	limit := 4 * k
	var out [][]byte
	cands := make([]int32, 0, limit)
	for i := 0; i+Shingle <= len(raw); {
		all := index[binary.LittleEndian.Uint64(raw[i:])]
		if len(all) < k {
			i++
			continue
		}
		cands = append(cands[:0], all[:min(len(all), limit)]...)
		j := i + Shingle
		for j < len(raw) {
			next := cands[:0:0]
			for _, c := range cands {
				if bytes.Contains(samples[c], raw[i:j+1]) {
					next = append(next, c)
				}
			}
			if len(next) < k {
				break
			}
			cands = next
			j++
		}
		out = append(out, raw[i:j:j])
		i = j
	}
	return out
}

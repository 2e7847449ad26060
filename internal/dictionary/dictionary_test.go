package dictionary

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/klauspost/compress/s2"
)

func samples(n int) [][]byte {
	var out [][]byte
	for i := range n {
		out = append(out, []byte(fmt.Sprintf(
			"Beste klantenservice,\nMijn bestelling met nummer %07d is nog niet aangekomen. Kunt u mij laten weten waar het pakket blijft?\n"+
				"Met vriendelijke groet,\nUniekeNaam%05dXQ\nuniek%05d@voorbeeld.nl\n", i*7919, i, i)))
	}
	return out
}

func TestFilterKeepsOnlySharedText(t *testing.T) {
	ss := samples(50)
	raw := bytes.Join(ss, nil) // as if the trainer had taken everything
	kept := Filter(raw, ss, 5)
	if !bytes.Contains(kept, []byte("Met vriendelijke groet")) {
		t.Fatal("shared phrase was dropped")
	}
	for i := range 50 {
		for _, private := range []string{fmt.Sprintf("UniekeNaam%05d", i), fmt.Sprintf("uniek%05d@", i)} {
			if bytes.Contains(kept, []byte(private)) {
				t.Fatalf("private value %q survived the filter", private)
			}
		}
	}
}

func TestFilterThreshold(t *testing.T) {
	ss := [][]byte{[]byte("alpha-bravo-charlie"), []byte("alpha-bravo-delta"), []byte("zulu-yankee-x-ray")}
	if got := Filter([]byte("alpha-bravo-"), ss, 2); string(got) != "alpha-bravo-" {
		t.Fatalf("k=2: got %q", got)
	}
	if got := Filter([]byte("alpha-bravo-"), ss, 3); len(got) != 0 {
		t.Fatalf("k=3: got %q", got)
	}
}

func TestTrainCompressesAndHoldsNoPrivateValue(t *testing.T) {
	ss := samples(2000)
	d, err := Train(ss, 5)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		if bytes.Contains(d, []byte(fmt.Sprintf("UniekeNaam%05d", i))) {
			t.Fatal("a single customer's value is in the dictionary")
		}
	}
	dict := s2.NewDict(d)
	if dict == nil {
		t.Fatal("trained bytes are not an S2 dictionary")
	}
	probe := samples(2001)[2000]
	with := dict.Encode(nil, probe)
	without := s2.Encode(nil, probe)
	if len(with) >= len(without) {
		t.Fatalf("dictionary does not help: %d >= %d", len(with), len(without))
	}
	back, err := dict.Decode(nil, with)
	if err != nil || !bytes.Equal(back, probe) {
		t.Fatalf("round trip failed: %v", err)
	}
}

func TestTrainRefusesTooFewSamples(t *testing.T) {
	if _, err := Train(samples(3), 5); err == nil {
		t.Fatal("trained on fewer samples than k")
	}
}

func TestEveryPieceOccursInKSamples(t *testing.T) {
	ss := samples(300)
	raw := bytes.Join(ss[:40], nil)
	pieces := Pieces(raw, ss, 5)
	if len(pieces) == 0 {
		t.Fatal("nothing kept")
	}
	for _, p := range pieces {
		n := 0
		for _, s := range ss {
			if bytes.Contains(s, p) {
				n++
			}
		}
		if n < 5 || len(p) < Shingle {
			t.Fatalf("piece %q occurs in %d samples (len %d)", p, n, len(p))
		}
	}
	kept := Filter(raw, ss, 5)
	for _, piece := range []string{"Met vriendelijke groet,\n", "is nog niet aangekomen"} {
		if !bytes.Contains(kept, []byte(piece)) {
			t.Fatalf("common piece %q dropped", piece)
		}
	}
}

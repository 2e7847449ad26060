package keys

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestDataKeyRoundTrip(t *testing.T) {
	p := [PseudonymSize]byte{1, 2, 3, 15: 0xff}
	k := DataKey(7, 9, p)
	if len(k) != DataKeyLen || k[0] != KindDataKey {
		t.Fatalf("key %x", k)
	}
	shard, gen, q, err := ParseDataKey(k)
	if err != nil || shard != 7 || gen != 9 || q != p {
		t.Fatalf("parsed %d %d %x %v", shard, gen, q, err)
	}
	lo, hi := DataKeyGen(7, 9)
	if bytes.Compare(k, lo) < 0 || bytes.Compare(k, hi) >= 0 {
		t.Error("data key outside its generation's range")
	}
	if other := DataKey(7, 10, p); bytes.Compare(other, lo) >= 0 && bytes.Compare(other, hi) < 0 {
		t.Error("another generation's key inside the range")
	}
	lo, hi = DataKeyShard(7)
	for _, g := range []uint32{0, 9, math.MaxUint32} {
		if k := DataKey(7, g, p); bytes.Compare(k, lo) < 0 || bytes.Compare(k, hi) >= 0 {
			t.Errorf("gen %d outside its shard's range", g)
		}
	}
	if k := DataKey(8, 0, [PseudonymSize]byte{}); bytes.Compare(k, hi) < 0 {
		t.Error("next shard inside the range")
	}
}

func TestRecordRoundTrip(t *testing.T) {
	pfx := [PrefixSize]byte{9, 8, 7}
	tag := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10} // longer than RecordTagSize: truncated
	k := Record(42, pfx, TimeKey(time.Unix(1e9, 0)), tag)
	if len(k) != RecordLen {
		t.Fatalf("len %d", len(k))
	}
	r, err := ParseRecord(k)
	if err != nil {
		t.Fatal(err)
	}
	if r.Bucket != 42 || r.Prefix != pfx || r.Time != TimeKey(time.Unix(1e9, 0)) || !bytes.Equal(r.Tag[:], tag[:RecordTagSize]) {
		t.Fatalf("parsed %+v", r)
	}
	lo, hi := BucketRange(42)
	if bytes.Compare(k, lo) < 0 || bytes.Compare(k, hi) >= 0 {
		t.Error("record outside its bucket's range")
	}
}

func TestParseRejects(t *testing.T) {
	good := Record(1, [PrefixSize]byte{}, 0, make([]byte, 8))
	for _, k := range [][]byte{nil, good[:len(good)-1], append(bytes.Clone(good), 0), append([]byte{KindDataKey}, good[1:]...)} {
		if _, err := ParseRecord(k); err == nil {
			t.Errorf("ParseRecord(%x) accepted", k)
		}
	}
	dk := DataKey(1, 2, [PseudonymSize]byte{})
	for _, k := range [][]byte{nil, dk[:len(dk)-1], append(bytes.Clone(dk), 0), append([]byte{KindRecord}, dk[1:]...)} {
		if _, _, _, err := ParseDataKey(k); err == nil {
			t.Errorf("ParseDataKey(%x) accepted", k)
		}
	}
}

// TestRecordRange checks, over random keys, that RecordRange holds exactly the customer's
// records of the bucket with a time key in [from, to].
func TestRecordRange(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pfx := [PrefixSize]byte{5}
	other := [PrefixSize]byte{5, 1}
	for range 2000 {
		from, to := r.Uint64(), r.Uint64()
		if r.IntN(4) == 0 {
			to = math.MaxUint64
		}
		if r.IntN(8) == 0 {
			from = 0
		}
		if from > to {
			from, to = to, from
		}
		lo, hi := RecordRange(3, pfx, from, to)
		for _, tk := range []uint64{from, to, from - 1, to + 1, r.Uint64(), 0, math.MaxUint64} {
			tag := make([]byte, RecordTagSize)
			for _, fill := range []byte{0, 0xff} {
				for i := range tag {
					tag[i] = fill
				}
				in := func(k []byte) bool { return bytes.Compare(k, lo) >= 0 && (hi == nil || bytes.Compare(k, hi) < 0) }
				want := tk >= from && tk <= to
				if got := in(Record(3, pfx, tk, tag)); got != want {
					t.Fatalf("[%d, %d]: time %d in range %v, want %v", from, to, tk, got, want)
				}
				if in(Record(3, other, tk, tag)) || in(Record(4, pfx, tk, tag)) || in(Record(2, pfx, tk, tag)) {
					t.Fatalf("[%d, %d]: another customer's or bucket's record in range", from, to)
				}
			}
		}
	}
}

func TestCustomerRangeAndMembership(t *testing.T) {
	pfx := [PrefixSize]byte{0xff, 0xff}
	lo, hi := CustomerRange(KindBucket, pfx)
	for _, b := range []uint32{0, 1, math.MaxUint32} {
		k := Bucket(pfx, b)
		if bytes.Compare(k, lo) < 0 || bytes.Compare(k, hi) >= 0 {
			t.Errorf("bucket %d outside the customer's range", b)
		}
	}
	lo, hi = CustomerRange(KindLocator, pfx)
	if k := Locator(pfx, [LocatorTag]byte{0xff}); len(k) != LocatorLen || bytes.Compare(k, lo) < 0 || bytes.Compare(k, hi) >= 0 {
		t.Error("locator outside the customer's range")
	}
	if e := Expiry(7, pfx); e[0] != KindExpiry || binary.BigEndian.Uint32(e[1:5]) != 7 || !bytes.Equal(e[5:], pfx[:]) {
		t.Errorf("expiry key %x", e)
	}
	klo, khi := Kind(KindStat)
	if s := Stat("x"); bytes.Compare(s, klo) < 0 || bytes.Compare(s, khi) >= 0 {
		t.Error("stat key outside its kind")
	}
	if m := Meta("store-id"); m[0] != KindMeta || string(m[1:]) != "store-id" {
		t.Errorf("meta key %q", m)
	}
}

func TestSuccessor(t *testing.T) {
	for _, tc := range []struct{ in, want []byte }{
		{[]byte{1}, []byte{2}},
		{[]byte{1, 0xff}, []byte{2}},
		{[]byte{1, 2, 0xff, 0xff}, []byte{1, 3}},
		{[]byte{0xff, 0xff}, nil},
		{nil, nil},
	} {
		if got := Successor(tc.in); !bytes.Equal(got, tc.want) {
			t.Errorf("Successor(%x) = %x, want %x", tc.in, got, tc.want)
		}
	}
	in := []byte{1, 0xff}
	Successor(in)
	if in[0] != 1 || in[1] != 0xff {
		t.Error("Successor changed its input")
	}
}

// microTime is a time from microseconds since the epoch plus some nanoseconds.
func microTime(us int64, ns uint16) time.Time {
	return time.UnixMicro(us).Add(time.Duration(ns % 1000))
}

func FuzzTimeKey(f *testing.F) {
	f.Add(int64(0), uint16(0), int64(1), uint16(0))
	f.Add(int64(-1), uint16(999), int64(0), uint16(0))
	f.Add(int64(math.MinInt64), uint16(0), int64(math.MaxInt64), uint16(0))
	f.Add(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), uint16(1), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC).UnixMicro(), uint16(2))
	f.Fuzz(func(t *testing.T, a int64, an uint16, b int64, bn uint16) {
		ta, tb := microTime(a, an), microTime(b, bn)
		ka, kb := TimeKey(ta), TimeKey(tb)
		// Order-preserving at microsecond resolution, as integers and as big-endian bytes.
		if (a < b) != (ka < kb) || (a == b) != (ka == kb) {
			t.Fatalf("TimeKey order: %d < %d is %v, keys %x < %x is %v", a, b, a < b, ka, kb, ka < kb)
		}
		ba, bb := binary.BigEndian.AppendUint64(nil, ka), binary.BigEndian.AppendUint64(nil, kb)
		if (bytes.Compare(ba, bb) < 0) != (ka < kb) {
			t.Fatal("byte order differs from integer order")
		}
		// Inverse, to the microsecond.
		if got := TimeFromKey(ka); !got.Equal(time.UnixMicro(a)) || got.Location() != time.UTC {
			t.Fatalf("TimeFromKey(TimeKey(%v)) = %v", ta, got)
		}
	})
}

func FuzzParseRecord(f *testing.F) {
	f.Add(Record(1, [PrefixSize]byte{2}, 3, []byte("12345678")))
	f.Add([]byte{KindRecord})
	f.Add(DataKey(1, 2, [PseudonymSize]byte{3}))
	f.Fuzz(func(t *testing.T, k []byte) {
		r, err := ParseRecord(k)
		if err != nil {
			return
		}
		if again := Record(r.Bucket, r.Prefix, r.Time, r.Tag[:]); !bytes.Equal(again, k) {
			t.Fatalf("ParseRecord(%x) = %+v, which builds %x", k, r, again)
		}
	})
}

func FuzzParseDataKey(f *testing.F) {
	f.Add(DataKey(1, 2, [PseudonymSize]byte{3}))
	f.Add([]byte{KindDataKey, 0, 0})
	f.Add(Record(1, [PrefixSize]byte{2}, 3, []byte("12345678")))
	f.Fuzz(func(t *testing.T, k []byte) {
		shard, gen, p, err := ParseDataKey(k)
		if err != nil {
			return
		}
		if again := DataKey(shard, gen, p); !bytes.Equal(again, k) {
			t.Fatalf("ParseDataKey(%x) builds %x", k, again)
		}
	})
}

func FuzzParseIndex(f *testing.F) {
	f.Add(Index([TokenSize]byte{1}, [PseudonymSize]byte{2}))
	f.Add(IndexOf([PrefixSize]byte{1}, [TokenSize]byte{2}, 3))
	f.Add([]byte{KindIndex})
	f.Fuzz(func(t *testing.T, k []byte) {
		if tok, ps, err := ParseIndex(k); err == nil {
			if again := Index(tok, ps); !bytes.Equal(again, k) {
				t.Fatalf("ParseIndex(%x) builds %x", k, again)
			}
			lo, hi := IndexRange(tok)
			if bytes.Compare(k, lo) < 0 || bytes.Compare(k, hi) >= 0 {
				t.Fatalf("index entry %x outside its token's range [%x, %x)", k, lo, hi)
			}
		}
		if p, tok, b, err := ParseIndexOf(k); err == nil {
			if again := IndexOf(p, tok, b); !bytes.Equal(again, k) {
				t.Fatalf("ParseIndexOf(%x) builds %x", k, again)
			}
			lo, hi := CustomerRange(KindIndexOf, p)
			if bytes.Compare(k, lo) < 0 || bytes.Compare(k, hi) >= 0 {
				t.Fatalf("index membership %x outside its customer's range", k)
			}
		}
	})
}

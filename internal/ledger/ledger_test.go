package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ps(c byte) string { return strings.Repeat(string(c), 32) }

// sample returns the entries of a ledger with every kind of entry: an intent closed by two
// erasures, an aborted intent, an intent half done, and an intent with nothing after it.
func sample() []*Entry {
	return []*Entry{
		{Time: t0, Kind: KindIntent, Customers: []string{ps('a'), ps('b')}, Shards: []ShardGen{{Shard: 3, Gen: 2}}},
		{Time: t0, Kind: KindErased, Customer: ps('a'), Intent: 1, Receipt: ps('1') + ps('1')},
		{Time: t0, Kind: KindErased, Customer: ps('b'), Intent: 1, Receipt: ps('2') + ps('2')},
		{Time: t0.Add(time.Minute), Kind: KindIntent, Customers: []string{ps('c')}, Shards: []ShardGen{{Shard: 0, Gen: 5}}},
		{Time: t0.Add(time.Minute), Kind: KindAborted, Intent: 4},
		// A time in another zone: Seal stores it in UTC.
		{Time: t0.Add(time.Hour).In(time.FixedZone("CET", 3600)), Kind: KindIntent, Customers: []string{ps('d'), ps('e')},
			Shards: []ShardGen{{Shard: 1, Gen: 9}, {Shard: 7, Gen: 2}}},
		{Time: t0.Add(time.Hour), Kind: KindErased, Customer: ps('d'), Intent: 6, Receipt: ps('3') + ps('3')},
		{Time: t0.Add(2 * time.Hour), Kind: KindIntent, Customers: []string{ps('f')}, Shards: []ShardGen{{Shard: 2, Gen: 3}}},
	}
}

// build seals entries into a ledger file and returns it with its lines (newline included).
func build(t testing.TB, entries []*Entry) ([]byte, [][]byte) {
	t.Helper()
	var buf []byte
	var lines [][]byte
	prev := ""
	for i, e := range entries {
		e.Seq = uint64(i + 1)
		line, err := Seal(e, prev)
		if err != nil {
			t.Fatal(err)
		}
		prev = e.Hash
		buf = append(buf, line...)
		lines = append(lines, line)
	}
	return buf, lines
}

func parseBytes(b []byte) (*Ledger, error) { return Parse(bytes.NewReader(b)) }

func TestSealParseRoundTrip(t *testing.T) {
	entries := sample()
	data, lines := build(t, entries)
	l, err := parseBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	if l.Torn || l.Size != int64(len(data)) || len(l.Entries) != len(entries) {
		t.Fatalf("torn %v, size %d of %d, %d entries of %d", l.Torn, l.Size, len(data), len(l.Entries), len(entries))
	}
	for i, e := range entries {
		got := l.Entries[i]
		if !got.Time.Equal(e.Time) || got.Time.Location() != time.UTC {
			t.Errorf("entry %d: time %v, want %v in UTC", i+1, got.Time, e.Time)
		}
		if a, b := mustMarshal(t, &got), mustMarshal(t, e); a != b {
			t.Errorf("entry %d:\n got %s\nwant %s", i+1, a, b)
		}
		if !bytes.HasSuffix(lines[i], []byte("\n")) || bytes.Count(lines[i], []byte("\n")) != 1 {
			t.Errorf("line %d is not one line: %q", i+1, lines[i])
		}
	}
	if l.Entries[0].Prev != strings.Repeat("0", 64) {
		t.Errorf("first entry's prev %q, want 64 zeros", l.Entries[0].Prev)
	}
	for i := 1; i < len(l.Entries); i++ {
		if l.Entries[i].Prev != l.Entries[i-1].Hash {
			t.Errorf("entry %d does not name its predecessor's hash", i+1)
		}
	}
	h, next := l.Last()
	if h != entries[len(entries)-1].Hash || next != uint64(len(entries)+1) {
		t.Errorf("Last() = %q, %d", h, next)
	}

	// An empty ledger.
	l, err = parseBytes(nil)
	if err != nil || len(l.Entries) != 0 || l.Torn || l.Size != 0 {
		t.Fatalf("empty ledger: %+v, %v", l, err)
	}
	if h, next := l.Last(); h != "" || next != 1 {
		t.Errorf("empty ledger: Last() = %q, %d", h, next)
	}

	// Appending to a parsed ledger continues the chain.
	l, _ = parseBytes(data)
	h, next = l.Last()
	e := &Entry{Seq: next, Time: t0, Kind: KindAborted, Intent: 8}
	line, err := Seal(e, h)
	if err != nil {
		t.Fatal(err)
	}
	if l2, err := parseBytes(append(slices.Clone(data), line...)); err != nil || len(l2.Entries) != len(entries)+1 {
		t.Fatalf("after an append: %v", err)
	}
}

func mustMarshal(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantCorruptAt checks that err wraps ErrCorrupt and names line n.
func wantCorruptAt(t *testing.T, what string, err error, n int) {
	t.Helper()
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("%s: error %v, want ErrCorrupt", what, err)
		return
	}
	if !regexp.MustCompile(fmt.Sprintf(`\bline %d\b`, n)).MatchString(err.Error()) {
		t.Errorf("%s: error %q does not name line %d", what, err, n)
	}
}

// TestTamperEachField changes each field of each line (without resealing, as someone
// editing the file would): Parse fails with ErrCorrupt naming that line.
func TestTamperEachField(t *testing.T) {
	_, lines := build(t, sample())
	for i := range lines {
		var obj map[string]any
		if err := json.Unmarshal(lines[i], &obj); err != nil {
			t.Fatal(err)
		}
		for field := range obj {
			m := map[string]any{}
			for k, v := range obj {
				m[k] = v
			}
			m[field] = changed(t, field, m[field])
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			tampered := slices.Clone(lines)
			tampered[i] = append(b, '\n')
			_, err = parseBytes(bytes.Join(tampered, nil))
			wantCorruptAt(t, fmt.Sprintf("line %d, field %s", i+1, field), err, i+1)
		}
		// A field added.
		m := map[string]any{}
		for k, v := range obj {
			m[k] = v
		}
		m["note"] = "x"
		b, _ := json.Marshal(m)
		tampered := slices.Clone(lines)
		tampered[i] = append(b, '\n')
		_, err := parseBytes(bytes.Join(tampered, nil))
		wantCorruptAt(t, fmt.Sprintf("line %d, field added", i+1), err, i+1)
	}
}

// changed returns a different value of the same JSON type.
func changed(t *testing.T, field string, v any) any {
	switch x := v.(type) {
	case float64:
		return x + 1
	case string:
		if field == "time" {
			tm, err := time.Parse(time.RFC3339Nano, x)
			if err != nil {
				t.Fatal(err)
			}
			return tm.Add(time.Second).Format(time.RFC3339Nano)
		}
		if field == "kind" {
			if x == KindErased {
				return KindAborted
			}
			return KindErased
		}
		// Hex: change the first digit.
		r := []byte(x)
		if r[0] == '0' {
			r[0] = '1'
		} else {
			r[0] = '0'
		}
		return string(r)
	case []any:
		if len(x) > 1 {
			return []any{x[1], x[0]} // reordered
		}
		return append(slices.Clone(x), x[0]) // one more
	default:
		t.Fatalf("field %s: unexpected JSON type %T", field, v)
		return nil
	}
}

// TestTamperEachByte replaces every byte of every complete line but the last: the ledger
// never parses, and the error names the line.
func TestTamperEachByte(t *testing.T) {
	data, lines := build(t, sample())
	off := 0
	for i, line := range lines[:len(lines)-1] {
		for j := range line {
			b := slices.Clone(data)
			if b[off+j] == 'x' {
				b[off+j] = 'y'
			} else {
				b[off+j] = 'x'
			}
			_, err := parseBytes(b)
			wantCorruptAt(t, fmt.Sprintf("line %d byte %d", i+1, j), err, i+1)
		}
		off += len(line)
	}
}

func TestRemovedReorderedDuplicated(t *testing.T) {
	_, lines := build(t, sample())
	n := len(lines)
	for i := range n - 1 {
		removed := slices.Delete(slices.Clone(lines), i, i+1)
		_, err := parseBytes(bytes.Join(removed, nil))
		wantCorruptAt(t, fmt.Sprintf("line %d removed", i+1), err, i+1)

		swapped := slices.Clone(lines)
		swapped[i], swapped[i+1] = swapped[i+1], swapped[i]
		_, err = parseBytes(bytes.Join(swapped, nil))
		wantCorruptAt(t, fmt.Sprintf("lines %d and %d swapped", i+1, i+2), err, i+1)

		dup := slices.Insert(slices.Clone(lines), i+1, lines[i])
		_, err = parseBytes(bytes.Join(dup, nil))
		wantCorruptAt(t, fmt.Sprintf("line %d duplicated", i+1), err, i+2)
	}
	// Dropping whole lines from the end cannot be told from a shorter ledger: the chain has
	// no signature. (The store's receipts name their ledger position; VerifyErasure finds a
	// missing entry.)
	if l, err := parseBytes(bytes.Join(lines[:n-1], nil)); err != nil || len(l.Entries) != n-1 {
		t.Errorf("a ledger cut at a line boundary: %v", err)
	}
}

// TestTornTail cuts the last line at every byte: the complete lines are kept, the rest is
// reported as torn and not counted in Size.
func TestTornTail(t *testing.T) {
	data, lines := build(t, sample())
	last := lines[len(lines)-1]
	whole := int64(len(data) - len(last))
	for cut := 1; cut < len(last); cut++ {
		l, err := parseBytes(data[:int(whole)+cut])
		if err != nil {
			t.Fatalf("cut %d bytes into the last line: %v", cut, err)
		}
		if !l.Torn || l.Size != whole || len(l.Entries) != len(lines)-1 {
			t.Fatalf("cut %d: torn %v, size %d (want %d), %d entries", cut, l.Torn, l.Size, whole, len(l.Entries))
		}
	}
	// A torn line after which a newline follows is not torn but corrupt.
	b := append(slices.Clone(data[:int(whole)+10]), '\n')
	_, err := parseBytes(b)
	wantCorruptAt(t, "a short line with its newline", err, len(lines))
}

// TestTornTailWithHole is what a crash leaves when the file system kept a later block of an
// unsynced append but not an earlier one: zeros, then the rest of the lines. No entry ever
// holds a NUL byte (JSON escapes it), so the tail from the first line with one is torn —
// as long as it is no longer than one append.
func TestTornTailWithHole(t *testing.T) {
	data, lines := build(t, sample())
	n := len(lines)
	// The last two lines were one append; the file kept its end but not its start.
	start := len(data) - len(lines[n-1]) - len(lines[n-2])
	for _, hole := range []struct{ from, to int }{
		{start, start + 5},                   // the start of the append
		{start + 20, len(data) - 30},         // across the line boundary
		{len(data) - 12, len(data) - 1},      // the end of the last line, its newline kept
		{start + 3, start + len(lines[n-2])}, // the first line's newline lost
	} {
		b := slices.Clone(data)
		clear(b[hole.from:hole.to])
		l, err := parseBytes(b)
		if err != nil {
			t.Errorf("hole [%d,%d): %v", hole.from, hole.to, err)
			continue
		}
		line := 1 + bytes.Count(data[:hole.from], []byte("\n"))
		if !l.Torn || len(l.Entries) != line-1 || l.Size != int64(len(bytes.Join(lines[:line-1], nil))) {
			t.Errorf("hole [%d,%d): torn %v, %d entries, size %d", hole.from, hole.to, l.Torn, len(l.Entries), l.Size)
		}
	}
	// Zeros followed by more lines than one append writes are not a crash's doing: corrupt.
	var many []*Entry
	for i := range MaxAppend + 2 {
		many = append(many, &Entry{Time: t0, Kind: KindIntent, Customers: []string{ps('a')}, Shards: []ShardGen{{Shard: uint32(i)}}})
	}
	long, _ := build(t, many)
	clear(long[5:15])
	_, err := parseBytes(long)
	wantCorruptAt(t, "zeros in the first of many lines", err, 1)
	// A line that fails without a NUL byte is corrupt however few lines follow.
	b := slices.Clone(data)
	b[start+5] = 'x'
	_, err = parseBytes(b)
	wantCorruptAt(t, "a changed byte in the last append", err, n-1)
}

func TestParseRejects(t *testing.T) {
	seal := func(entries ...*Entry) []byte {
		b, _ := build(t, entries)
		return b
	}
	long := &Entry{Time: t0, Kind: KindIntent, Customers: []string{strings.Repeat("ab", 40<<10)}, Shards: []ShardGen{{}}}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"not JSON", []byte("hello\n")},
		{"JSON but not an object", []byte("[1,2]\n")},
		{"two objects on a line", bytes.Repeat(bytes.TrimSuffix(seal(sample()[0]), []byte("\n")), 2)},
		{"unknown kind", seal(&Entry{Time: t0, Kind: "forgotten", Customer: ps('a')})},
		{"intent without customers", seal(&Entry{Time: t0, Kind: KindIntent, Shards: []ShardGen{{}}})},
		{"intent without shards", seal(&Entry{Time: t0, Kind: KindIntent, Customers: []string{ps('a')}})},
		{"erased without customer", seal(sample()[0], &Entry{Time: t0, Kind: KindErased, Intent: 1})},
		{"erased without intent", seal(sample()[0], &Entry{Time: t0, Kind: KindErased, Customer: ps('a')})},
		{"erased closing a later intent", seal(sample()[0], &Entry{Time: t0, Kind: KindErased, Customer: ps('a'), Intent: 2})},
		{"aborted without intent", seal(sample()[0], &Entry{Time: t0, Kind: KindAborted})},
		{"a line longer than the reader's buffer", seal(long)},
		{"starts at sequence 2", func() []byte {
			e := sample()[0]
			e.Seq = 2
			b, _ := Seal(e, "")
			return b
		}()},
		{"malformed prev", func() []byte {
			e := sample()[0]
			e.Seq = 1
			_, _ = Seal(e, "")
			e.Prev = "zz"
			b, _ := json.Marshal(e)
			return append(b, '\n')
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Wherever the bad line is, the error names it.
			_, err := parseBytes(tc.data)
			n := bytes.Count(tc.data, []byte("\n"))
			if tc.name == "two objects on a line" {
				n = 1
				tc.data = append(tc.data, '\n')
				_, err = parseBytes(tc.data)
			}
			wantCorruptAt(t, tc.name, err, n)
		})
	}
}

func TestPending(t *testing.T) {
	intent := func(cs ...byte) *Entry {
		e := &Entry{Time: t0, Kind: KindIntent, Shards: []ShardGen{{Shard: 1, Gen: 2}}}
		for _, c := range cs {
			e.Customers = append(e.Customers, ps(c))
		}
		return e
	}
	erased := func(c byte, intent uint64) *Entry {
		return &Entry{Time: t0, Kind: KindErased, Customer: ps(c), Intent: intent}
	}
	aborted := func(intent uint64) *Entry { return &Entry{Time: t0, Kind: KindAborted, Intent: intent} }
	for _, tc := range []struct {
		name    string
		entries []*Entry
		pending []uint64
	}{
		{"empty", nil, nil},
		{"intent alone", []*Entry{intent('a')}, []uint64{1}},
		{"intent erased", []*Entry{intent('a'), erased('a', 1)}, nil},
		{"intent aborted", []*Entry{intent('a'), aborted(1)}, nil},
		{"one of two erased", []*Entry{intent('a', 'b'), erased('a', 1)}, []uint64{1}},
		{"both erased", []*Entry{intent('a', 'b'), erased('b', 1), erased('a', 1)}, nil},
		{"erased under another intent does not count", []*Entry{intent('a'), intent('a'), erased('a', 2)}, []uint64{1}},
		{"two pending", []*Entry{intent('a'), intent('b'), aborted(1), intent('c'), erased('c', 4), intent('d')}, []uint64{2, 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, _ := build(t, tc.entries)
			l, err := parseBytes(data)
			if err != nil {
				t.Fatal(err)
			}
			var got []uint64
			for _, e := range l.Pending() {
				if e.Kind != KindIntent {
					t.Errorf("pending entry %d is a %s", e.Seq, e.Kind)
				}
				got = append(got, e.Seq)
			}
			if !slices.Equal(got, tc.pending) {
				t.Errorf("pending %v, want %v", got, tc.pending)
			}
		})
	}
}

func TestErased(t *testing.T) {
	entries := append(sample(),
		&Entry{Time: t0.Add(3 * time.Hour), Kind: KindIntent, Customers: []string{ps('a')}, Shards: []ShardGen{{Shard: 3, Gen: 3}}},
		&Entry{Time: t0.Add(3 * time.Hour), Kind: KindErased, Customer: ps('a'), Intent: 9, Receipt: ps('4') + ps('4')},
	)
	data, _ := build(t, entries)
	l, err := parseBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ps   string
		seq  uint64 // 0: none
		when time.Time
	}{
		{ps('a'), 10, t0.Add(3 * time.Hour)}, // erased twice: the latest
		{ps('b'), 3, t0},
		{ps('c'), 0, time.Time{}}, // aborted
		{ps('e'), 0, time.Time{}}, // pending
		{ps('z'), 0, time.Time{}},
	} {
		e := l.Erased(tc.ps)
		switch {
		case tc.seq == 0 && e != nil:
			t.Errorf("%s: erased entry %d, want none", tc.ps[:4], e.Seq)
		case tc.seq != 0 && (e == nil || e.Seq != tc.seq || !e.Time.Equal(tc.when)):
			t.Errorf("%s: erased entry %+v, want seq %d", tc.ps[:4], e, tc.seq)
		}
	}
}

// FuzzParse: Parse never panics; what it accepts re-seals to the same hashes, and its
// verified part parses again on its own, untorn.
func FuzzParse(f *testing.F) {
	data, lines := build(f, sample())
	f.Add(data)
	f.Add(data[:len(data)-7])
	f.Add(bytes.Join(lines[:2], nil))
	f.Add([]byte{})
	f.Add([]byte("\n"))
	f.Add([]byte("{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := parseBytes(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not ErrCorrupt: %v", err)
			}
			return
		}
		if l.Size > int64(len(data)) || l.Torn != (l.Size < int64(len(data))) {
			t.Fatalf("size %d of %d, torn %v", l.Size, len(data), l.Torn)
		}
		var resealed []byte
		prev := ""
		for i := range l.Entries {
			e := l.Entries[i]
			line, err := Seal(&e, prev)
			if err != nil {
				t.Fatalf("entry %d does not re-seal: %v", i+1, err)
			}
			if e.Hash != l.Entries[i].Hash {
				t.Fatalf("entry %d re-seals to another hash", i+1)
			}
			prev = e.Hash
			resealed = append(resealed, line...)
		}
		for _, again := range [][]byte{resealed, data[:l.Size]} {
			l2, err := parseBytes(again)
			if err != nil || l2.Torn || len(l2.Entries) != len(l.Entries) {
				t.Fatalf("the verified part does not parse alone: %v", err)
			}
			for i := range l2.Entries {
				if mustMarshal(t, &l2.Entries[i]) != mustMarshal(t, &l.Entries[i]) {
					t.Fatalf("entry %d differs after re-parsing", i+1)
				}
			}
		}
	})
}

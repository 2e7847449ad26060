package backupfmt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

var macKey = bytes.Repeat([]byte{7}, 32)

func sampleManifest() *Manifest {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return &Manifest{
		StoreID: strings.Repeat("ab", 16), BackupID: strings.Repeat("cd", 16),
		Created: created, TermEnd: created.AddDate(0, 0, 30), VaultGeneration: 3, LedgerSeq: 2, LedgerHash: "x",
		Files: []File{{Name: "pebble/000001.sst", Size: 5}, {Name: "pebble/MANIFEST-000001", Size: 0}, {Name: LedgerName, Size: 3}, {Name: VaultName, Size: 4}},
	}
}

var sampleFiles = map[string]string{"pebble/000001.sst": "hello", "pebble/MANIFEST-000001": "", LedgerName: "led", VaultName: "vlt!"}

func write(t testing.TB, m *Manifest) []byte {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, m, macKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Files {
		if err := w.Add(f.Name, strings.NewReader(sampleFiles[f.Name])); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readAll reads an archive whole and verifies it.
func readAll(data, key []byte) (*Manifest, map[string]string, error) {
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	got := map[string]string{}
	for {
		f, fr, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		b, err := io.ReadAll(fr)
		if err != nil {
			return nil, nil, err
		}
		got[f.Name] = string(b)
	}
	if err := r.Finish(key); err != nil {
		return nil, nil, err
	}
	return r.Manifest(), got, nil
}

func TestRoundTrip(t *testing.T) {
	data := write(t, sampleManifest())
	m, got, err := readAll(data, macKey)
	if err != nil {
		t.Fatal(err)
	}
	if m.BackupID != sampleManifest().BackupID || len(got) != len(sampleFiles) {
		t.Fatalf("manifest %+v, %d files", m, len(got))
	}
	for n, want := range sampleFiles {
		if got[n] != want {
			t.Errorf("%s: %q", n, got[n])
		}
	}
	if _, _, err := readAll(data, bytes.Repeat([]byte{8}, 32)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("another key: %v", err)
	}
}

func TestWriterRejects(t *testing.T) {
	for name, mod := range map[string]func(m *Manifest){
		"bad name":       func(m *Manifest) { m.Files[0].Name = "pebble/../keyvault" },
		"absolute":       func(m *Manifest) { m.Files[0].Name = "/etc/passwd" },
		"nested":         func(m *Manifest) { m.Files[0].Name = "pebble/a/b" },
		"repeated":       func(m *Manifest) { m.Files[1].Name = m.Files[0].Name },
		"no vault":       func(m *Manifest) { m.Files = m.Files[:3] },
		"term before":    func(m *Manifest) { m.TermEnd = m.Created },
		"bad id":         func(m *Manifest) { m.BackupID = "zz" },
		"negative size":  func(m *Manifest) { m.Files[0].Size = -1 },
		"digest in list": func(m *Manifest) { m.Files[0].SHA256 = "00" },
	} {
		m := sampleManifest()
		mod(m)
		if _, err := NewWriter(io.Discard, m, macKey); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, sampleManifest(), macKey)
	if err := w.Add(VaultName, strings.NewReader("x")); err == nil {
		t.Error("a file out of order was accepted")
	}
	if err := w.Add("pebble/000001.sst", strings.NewReader("hell")); err == nil {
		t.Error("a short file was accepted")
	}
	if err := w.Close(); err == nil {
		t.Error("Close with files missing succeeded")
	}
}

func TestReaderDetectsDamage(t *testing.T) {
	data := write(t, sampleManifest())
	cases := map[string][]byte{"appended": append(bytes.Clone(data), 1)}
	for _, n := range []int{0, 4, 20, len(data) / 2, len(data) - 1} {
		cases[fmt.Sprintf("truncated to %d", n)] = data[:n]
	}
	for i := range data {
		d := bytes.Clone(data)
		d[i] ^= 0x01
		cases[fmt.Sprintf("bit flipped at %d", i)] = d
	}
	for name, d := range cases {
		if _, _, err := readAll(d, macKey); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestReaderRequiresWholeFiles(t *testing.T) {
	r, err := NewReader(bytes.NewReader(write(t, sampleManifest())))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, fr, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fr.Read(make([]byte, 2))
	if _, _, err := r.Next(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a half-read file: %v", err)
	}
}

func FuzzReader(f *testing.F) {
	good := write(f, sampleManifest())
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, got, err := readAll(data, macKey)
		if err != nil {
			if strings.Contains(err.Error(), "hello") {
				t.Fatal("an error quotes file content")
			}
			return
		}
		for n, want := range sampleFiles {
			if got[n] != want {
				t.Fatalf("a forged archive verified (%s)", n)
			}
		}
		if m.BackupID != sampleManifest().BackupID {
			t.Fatal("a forged manifest verified")
		}
	})
}

func BenchmarkWriteRead(b *testing.B) {
	payload := bytes.Repeat([]byte("ciphertext-ish "), 1<<16) // ~1 MB
	m := sampleManifest()
	m.Files = []File{{Name: "pebble/000001.sst", Size: int64(len(payload))}, {Name: VaultName, Size: 4}}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		var buf bytes.Buffer
		w, _ := NewWriter(&buf, m, macKey)
		_ = w.Add("pebble/000001.sst", bytes.NewReader(payload))
		_ = w.Add(VaultName, strings.NewReader("vlt!"))
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		r, err := NewReader(&buf)
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, fr, err := r.Next()
			if err != nil {
				break
			}
			_, _ = io.Copy(io.Discard, fr)
		}
		if err := r.Finish(macKey); err != nil {
			b.Fatal(err)
		}
	}
}

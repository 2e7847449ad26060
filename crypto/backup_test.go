package crypto

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"contactstore/internal/wire"
)

func sampleBackups() []BackupKey {
	return []BackupKey{
		{ID: [BackupIDSize]byte{1}, Created: fixedTime, TermEnd: fixedTime.Add(30 * 24 * time.Hour), Key: fixedKey(30)},
		{ID: [BackupIDSize]byte{2}, Created: fixedTime, TermEnd: fixedTime.Add(time.Hour), Destroyed: fixedTime.Add(2 * time.Hour)},
	}
}

func TestVaultBackupsRoundTrip(t *testing.T) {
	root := fixtureRoot()
	for _, tc := range []struct {
		name    string
		backups []BackupKey
	}{
		{"none", nil},
		{"live and expired", sampleBackups()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := fixtureVault()
			v.Backups = tc.backups
			data, err := v.Marshal(context.Background(), root)
			if err != nil {
				t.Fatal(err)
			}
			got, err := OpenVault(context.Background(), data, root)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(v) || len(got.Backups) != len(tc.backups) {
				t.Fatalf("round trip changed the backups: %d", len(got.Backups))
			}
			if len(tc.backups) > 0 {
				c := got.Clone()
				c.Backups[0].Key = fixedKey(99)
				if got.Backups[0].Key == c.Backups[0].Key {
					t.Error("Clone shares the backups")
				}
			}
			got.Wipe()
			for _, b := range got.Backups {
				if !b.Key.IsZero() {
					t.Error("Wipe left a backup key")
				}
			}
		})
	}
}

func TestVaultBackupsRejects(t *testing.T) {
	enc := func(bks []BackupKey) []byte { return appendBackupKeys(nil, bks) }
	dup := sampleBackups()
	dup[1].ID = dup[0].ID
	badState := enc(sampleBackups()[:1])
	badState[1+BackupIDSize+16] = 9
	zeroDestroyed := enc(sampleBackups()[1:])
	copy(zeroDestroyed[len(zeroDestroyed)-8:], make([]byte, 8))
	for name, data := range map[string][]byte{
		"duplicate id":        enc(dup),
		"unknown state":       badState,
		"destroyed at zero":   zeroDestroyed,
		"truncated":           enc(sampleBackups())[:50],
		"count beyond length": {0x7f},
	} {
		if _, err := decodeBackupKeys(wire.NewDecoder(data)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestKeyRing(t *testing.T) {
	v := fixtureVault()
	v.Backups = sampleBackups()
	ring := NewKeyRing(v)
	if len(ring.Keys) != 1 || ring.Find(v.Backups[0].ID) == nil || ring.Find(v.Backups[1].ID) != nil {
		t.Fatalf("key-ring holds %d keys", len(ring.Keys))
	}
	data, err := ring.Marshal(context.Background(), fixtureRoot())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, v.Backups[0].Key[:]) {
		t.Error("the key-ring holds a backup key in the clear")
	}
	got, err := OpenKeyRing(context.Background(), data, fixtureRoot())
	if err != nil || len(got.Keys) != 1 || got.Keys[0].Key != v.Backups[0].Key || got.StoreID != v.StoreID {
		t.Fatalf("open: %v", err)
	}
	if _, err := OpenKeyRing(context.Background(), data, NewRootKey(fixedKey(2), "other")); !errors.Is(err, ErrWrongKey) {
		t.Errorf("wrong root key: %v", err)
	}
	for i := range data {
		d := bytes.Clone(data)
		d[i] ^= 1
		if _, err := OpenKeyRing(context.Background(), d, fixtureRoot()); err == nil {
			t.Fatalf("byte %d changed: opened", i)
		}
	}
	bad := &KeyRing{Keys: sampleBackups()}
	if _, err := bad.Marshal(context.Background(), fixtureRoot()); err == nil {
		t.Error("a key-ring with a destroyed key was written")
	}
}

func TestBackupWrapper(t *testing.T) {
	v := fixtureVault()
	kb := fixedKey(40)
	data, err := v.Marshal(context.Background(), BackupWrapper(kb))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenVault(context.Background(), data, fixtureRoot()); !errors.Is(err, ErrWrongKey) {
		t.Errorf("the root key opens a backup's vault copy: %v", err)
	}
	if _, err := OpenVault(context.Background(), data, BackupWrapper(kb)); err != nil {
		t.Error(err)
	}
	if m := BackupMACKey(&kb); m == kb || m.IsZero() {
		t.Error("the MAC key is not derived")
	}
}

func FuzzBackupKeys(f *testing.F) {
	f.Add(appendBackupKeys(nil, sampleBackups()))
	f.Add(appendBackupKeys(nil, nil))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, data []byte) {
		d := wire.NewDecoder(data)
		bks, err := decodeBackupKeys(d)
		if err != nil || d.Done() != nil {
			return
		}
		if out := appendBackupKeys(nil, bks); !bytes.Equal(out, data) {
			t.Fatalf("decode then encode changed the section:\n%x\n%x", data, out)
		}
	})
}

func FuzzOpenKeyRing(f *testing.F) {
	v := fixtureVault()
	v.Backups = sampleBackups()
	sealed, err := NewKeyRing(v).Marshal(context.Background(), fixtureRoot())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	f.Add(sealed[:len(sealed)/2])
	f.Add([]byte(keyRingMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		// (Each fuzz worker seals its own copy, with fresh nonces: what opens must be one of
		// them, holding exactly the fixture's live key.)
		r, err := OpenKeyRing(context.Background(), data, fixtureRoot())
		if err == nil && (r.StoreID != v.StoreID || len(r.Keys) != 1 || r.Keys[0] != v.Backups[0]) {
			t.Fatalf("a forged key-ring opened (%d keys)", len(r.Keys))
		}
	})
}

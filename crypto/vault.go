package crypto

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"time"

	"contactstore/internal/wire"
)

// DefaultShards is the number of shard keys in a new vault. An erasure rewraps the data keys
// of one shard, so more shards make erasure cheaper and the vault larger (36 bytes a shard).
const DefaultShards = 4096

// MaxShards bounds the shard count a vault may declare.
const MaxShards = 1 << 16

// StoreIDSize is the size of a store id.
const StoreIDSize = 16

// Shard is one shard key with its generation. The generation grows each time the key is
// replaced (on every erasure in the shard); wrapped data keys name the generation they were
// wrapped under.
type Shard struct {
	Gen uint32
	Key Key
}

// Vault is the decoded key vault: every key of the hierarchy below the root. It is a plain
// value; the store copies it (Clone), changes the copy and writes it whole.
type Vault struct {
	StoreID    [StoreIDSize]byte
	Generation uint64 // grows by one with every write
	Created    time.Time

	PseudonymKey Key // customer id → pseudonym
	IndexKey     Key // blind-index tokens
	SigningSeed  Key // Ed25519 seed of the store's signing key (receipts, audit checkpoints)
	DictKey      Key // seals trained compression dictionaries

	Shards  []Shard
	Buckets map[uint32]Key // expiry bucket → key

	// ExpiredThrough is the highest expiry bucket whose key has been destroyed by expiry: no
	// bucket at or below it may be given a key again, so that a destroyed bucket's records
	// (in old files and backups) can never be confused with new ones. Zero: none yet.
	ExpiredThrough uint32

	// Backups are the store's backups: a live one holds the key that opens it (see
	// BackupKey); an expired one is a tombstone that only says when its key was destroyed.
	Backups []BackupKey
}

// NewVault returns a vault with fresh random keys and n shards (DefaultShards if n <= 0).
func NewVault(n int, now time.Time) (*Vault, error) {
	if n <= 0 {
		n = DefaultShards
	}
	if n > MaxShards {
		return nil, fmt.Errorf("too many shards: %d > %d", n, MaxShards)
	}
	v := &Vault{Generation: 0, Created: now.UTC().Truncate(time.Second), Buckets: map[uint32]Key{}}
	id, err := randomBytes(StoreIDSize)
	if err != nil {
		return nil, err
	}
	copy(v.StoreID[:], id)
	for _, k := range []*Key{&v.PseudonymKey, &v.IndexKey, &v.SigningSeed, &v.DictKey} {
		if *k, err = NewKey(); err != nil {
			return nil, err
		}
	}
	v.Shards = make([]Shard, n)
	for i := range v.Shards {
		if v.Shards[i].Key, err = NewKey(); err != nil {
			return nil, err
		}
		v.Shards[i].Gen = 1
	}
	return v, nil
}

// StoreIDString returns the store id as 32 hex digits.
func (v *Vault) StoreIDString() string { return fmt.Sprintf("%x", v.StoreID[:]) }

// Clone returns a deep copy.
func (v *Vault) Clone() *Vault {
	c := *v
	c.Shards = slices.Clone(v.Shards)
	c.Backups = slices.Clone(v.Backups)
	c.Buckets = make(map[uint32]Key, len(v.Buckets))
	for b, k := range v.Buckets {
		c.Buckets[b] = k
	}
	return &c
}

// SigningKey returns the store's Ed25519 private key.
func (v *Vault) SigningKey() ed25519.PrivateKey { return ed25519.NewKeyFromSeed(v.SigningSeed[:]) }

// PublicKey returns the store's Ed25519 public key.
func (v *Vault) PublicKey() ed25519.PublicKey {
	return v.SigningKey().Public().(ed25519.PublicKey)
}

// Wipe overwrites every key in v.
func (v *Vault) Wipe() {
	for _, k := range []*Key{&v.PseudonymKey, &v.IndexKey, &v.SigningSeed, &v.DictKey} {
		k.Wipe()
	}
	for i := range v.Shards {
		v.Shards[i].Key.Wipe()
	}
	for b := range v.Buckets {
		delete(v.Buckets, b)
	}
	for i := range v.Backups {
		v.Backups[i].Key.Wipe()
	}
}

const (
	vaultMagic   = "CSVAULT\x00"
	vaultVersion = 1

	secCreated  = 1
	secServices = 2
	secShards   = 3
	secBuckets  = 4
	secExpiry   = 5 // optional: absent in vaults written before any expiry
	secBackups  = 6 // optional: absent in vaults of stores never backed up
)

// ErrVaultCorrupt is returned for a vault file that is malformed or fails authentication
// with a root key that did unwrap its key.
var ErrVaultCorrupt = errors.New("key vault is corrupt")

// Marshal seals the vault: a fresh vault key encrypts the body and the root key wraps the
// vault key. The store id and generation stay readable in the header.
func (v *Vault) Marshal(ctx context.Context, root KeyWrapper) ([]byte, error) {
	vk, err := NewKey()
	if err != nil {
		return nil, err
	}
	defer vk.Wipe()
	hdr := v.header()
	wrapped, err := root.WrapKey(ctx, vk[:], hdr)
	if err != nil {
		return nil, fmt.Errorf("wrapping the vault key with %s: %w", Describe(root), err)
	}
	out := slices.Clone(hdr)
	out = wire.AppendBytes(out, wrapped)
	body := v.body()
	defer clear(body)
	return sealX(out, &vk, body, out)
}

func (v *Vault) header() []byte {
	h := []byte(vaultMagic)
	h = append(h, vaultVersion)
	h = append(h, v.StoreID[:]...)
	return wire.AppendU64(h, v.Generation)
}

func (v *Vault) body() []byte {
	var b []byte
	section := func(tag uint64, content []byte) {
		b = wire.AppendUvarint(b, tag)
		b = wire.AppendBytes(b, content)
		clear(content)
	}
	section(secCreated, wire.AppendU64(nil, uint64(v.Created.Unix())))
	var s []byte
	for _, k := range []*Key{&v.PseudonymKey, &v.IndexKey, &v.SigningSeed, &v.DictKey} {
		s = append(s, k[:]...)
	}
	section(secServices, s)
	s = wire.AppendUvarint(nil, uint64(len(v.Shards)))
	for _, sh := range v.Shards {
		s = wire.AppendU32(s, sh.Gen)
		s = append(s, sh.Key[:]...)
	}
	section(secShards, s)
	ids := make([]uint32, 0, len(v.Buckets))
	for id := range v.Buckets {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	s = wire.AppendUvarint(nil, uint64(len(ids)))
	for _, id := range ids {
		k := v.Buckets[id]
		s = wire.AppendU32(s, id)
		s = append(s, k[:]...)
	}
	section(secBuckets, s)
	if v.ExpiredThrough != 0 {
		section(secExpiry, wire.AppendU32(nil, v.ExpiredThrough))
	}
	if len(v.Backups) > 0 {
		section(secBackups, appendBackupKeys(nil, v.Backups))
	}
	return b
}

// VaultHeader is the readable part of a vault file.
type VaultHeader struct {
	StoreID    [StoreIDSize]byte
	Generation uint64
}

// ReadVaultHeader parses the header of a vault file without any key.
func ReadVaultHeader(data []byte) (VaultHeader, error) {
	var h VaultHeader
	if len(data) < len(vaultMagic) || string(data[:len(vaultMagic)]) != vaultMagic {
		return h, fmt.Errorf("%w: not a contactstore key vault", ErrVaultCorrupt)
	}
	d := wire.NewDecoder(data[len(vaultMagic):])
	if ver := d.Byte(); d.Err() == nil && ver != vaultVersion {
		return h, fmt.Errorf("%w: unsupported vault version %d", ErrVaultCorrupt, ver)
	}
	copy(h.StoreID[:], d.Fixed(StoreIDSize))
	h.Generation = d.U64()
	if d.Err() != nil {
		return h, fmt.Errorf("%w: header: %v", ErrVaultCorrupt, d.Err())
	}
	return h, nil
}

// OpenVault authenticates and decodes a vault file with the root key. A root key that does
// not unwrap the vault key gives ErrWrongKey; damage anywhere else gives ErrVaultCorrupt.
func OpenVault(ctx context.Context, data []byte, root KeyWrapper) (*Vault, error) {
	h, err := ReadVaultHeader(data)
	if err != nil {
		return nil, err
	}
	hdrLen := len(vaultMagic) + 1 + StoreIDSize + 8
	d := wire.NewDecoder(data[hdrLen:])
	wrapped := d.Bytes()
	if d.Err() != nil {
		return nil, fmt.Errorf("%w: wrapped key: %v", ErrVaultCorrupt, d.Err())
	}
	sealedAt := len(data) - d.Len()
	raw, err := root.UnwrapKey(ctx, wrapped, data[:hdrLen])
	if err != nil {
		if errors.Is(err, ErrWrongKey) {
			return nil, fmt.Errorf("%w: %s does not open this key vault", ErrWrongKey, Describe(root))
		}
		return nil, fmt.Errorf("unwrapping the vault key with %s: %w", Describe(root), err)
	}
	if len(raw) != KeySize {
		return nil, fmt.Errorf("%w: vault key has %d bytes", ErrVaultCorrupt, len(raw))
	}
	var vk Key
	copy(vk[:], raw)
	clear(raw)
	defer vk.Wipe()
	body, err := openX(nil, &vk, data[sealedAt:], data[:sealedAt])
	if err != nil {
		return nil, fmt.Errorf("%w: the sealed body does not authenticate", ErrVaultCorrupt)
	}
	defer clear(body)
	v := &Vault{StoreID: h.StoreID, Generation: h.Generation, Buckets: map[uint32]Key{}}
	if err := v.decodeBody(body); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrVaultCorrupt, err)
	}
	return v, nil
}

func (v *Vault) decodeBody(body []byte) error {
	d := wire.NewDecoder(body)
	var last uint64
	seen := 0
	for d.Len() > 0 {
		tag := d.Uvarint()
		content := d.Bytes()
		if d.Err() != nil {
			return d.Err()
		}
		if tag <= last {
			return fmt.Errorf("section %d out of order", tag)
		}
		last = tag
		s := wire.NewDecoder(content)
		switch tag {
		case secCreated:
			v.Created = time.Unix(int64(s.U64()), 0).UTC()
		case secServices:
			for _, k := range []*Key{&v.PseudonymKey, &v.IndexKey, &v.SigningSeed, &v.DictKey} {
				copy(k[:], s.Fixed(KeySize))
			}
		case secShards:
			n := s.Count(4 + KeySize)
			if n == 0 || n > MaxShards {
				return fmt.Errorf("bad shard count %d", n)
			}
			v.Shards = make([]Shard, n)
			for i := range v.Shards {
				v.Shards[i].Gen = s.U32()
				copy(v.Shards[i].Key[:], s.Fixed(KeySize))
			}
		case secBuckets:
			n := s.Count(4 + KeySize)
			prev := int64(-1)
			for range n {
				id := s.U32()
				var k Key
				copy(k[:], s.Fixed(KeySize))
				if int64(id) <= prev {
					return errors.New("buckets out of order")
				}
				prev = int64(id)
				v.Buckets[id] = k
			}
		case secExpiry:
			v.ExpiredThrough = s.U32()
			seen-- // optional
		case secBackups:
			bks, err := decodeBackupKeys(s)
			if err != nil {
				return fmt.Errorf("section %d: %v", tag, err)
			}
			v.Backups = bks
			seen-- // optional
		default:
			return fmt.Errorf("unknown section %d (written by a newer version?)", tag)
		}
		if err := s.Done(); err != nil {
			return fmt.Errorf("section %d: %v", tag, err)
		}
		seen++
	}
	if seen != 4 {
		return fmt.Errorf("%d of 4 sections present", seen)
	}
	return nil
}

// Equal reports whether two vaults hold the same keys and metadata (for tests and checks).
func (v *Vault) Equal(o *Vault) bool {
	return bytes.Equal(v.header(), o.header()) && bytes.Equal(v.body(), o.body())
}

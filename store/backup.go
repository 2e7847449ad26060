package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"contactstore/crypto"
	"contactstore/internal/audit"
	"contactstore/internal/backupfmt"
	"contactstore/internal/retention"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Backups (docs/backup.md). Each backup has its own key K_b, recorded in the live vault
// before the backup is taken and destroyed by the expirer when the backup's term ends: the
// backup's copy of the vault is sealed under K_b, so from then on every copy of the backup,
// wherever it went, is noise.

// DefaultBackupTerm is the term of a backup when none is given.
const DefaultBackupTerm = "P30D"

// KeyRingSuffix names the off-site key-ring next to the store directory: DIR.backupkeys.
const KeyRingSuffix = ".backupkeys"

// backupTempPrefix names the checkpoint directory a backup makes inside the store dir.
const backupTempPrefix = "backup-tmp-"

// maxTombstones bounds the expired backups the vault remembers (oldest dropped first).
const maxTombstones = 1024

// KeyRingPath returns the key-ring file of the store in dir: DIR.backupkeys, beside the
// directory like the root key file DIR.key.
func KeyRingPath(dir string) string {
	return strings.TrimRight(dir, `/\`) + KeyRingSuffix
}

// BackupOptions configure a backup.
type BackupOptions struct {
	// Term is how long the backup may be restored (ISO 8601 duration); default P30D. When it
	// ends, the expirer destroys the backup's key.
	Term string
	// Progress, if set, is called with the bytes of store files written so far and their
	// total.
	Progress func(done, total int64)
}

// BackupInfo describes a backup.
type BackupInfo struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	TermEnd time.Time `json:"term_end"`
	// State is "live" (restorable), "due" (term ended, key not yet destroyed: the next
	// expiry run destroys it; restores are refused already) or "expired" (key destroyed).
	State     string     `json:"state"`
	Destroyed *time.Time `json:"destroyed,omitempty"`
	// Set by Backup: the archive's size, its SHA-256, the store files in it and their size.
	Bytes     int64  `json:"bytes,omitempty"`
	SHA256    string `json:"sha256,omitempty"`
	Files     int    `json:"files,omitempty"`
	DataBytes int64  `json:"data_bytes,omitempty"`
}

func backupInfo(b *crypto.BackupKey, now time.Time) BackupInfo {
	bi := BackupInfo{ID: b.IDString(), Created: b.Created, TermEnd: b.TermEnd, State: "live"}
	switch {
	case !b.Live():
		d := b.Destroyed
		bi.State, bi.Destroyed = "expired", &d
	case !b.TermEnd.After(now):
		bi.State = "due"
	}
	return bi
}

// Backups lists the store's backups, oldest first: live ones and the tombstones of
// expired ones.
func (s *Store) Backups() []BackupInfo {
	now := s.opts.Clock.Now()
	v := s.vault.Load()
	out := make([]BackupInfo, 0, len(v.Backups))
	for i := range v.Backups {
		out = append(out, backupInfo(&v.Backups[i], now))
	}
	return out
}

// countingWriter counts and hashes what passes through.
type countingWriter struct {
	w io.Writer
	n int64
	h hash.Hash
}

func (c *countingWriter) Write(p []byte) (int, error) {
	_, _ = c.h.Write(p) // before: a writer may scramble p once written (vfs.MemFS under -race)
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Backup writes an online, consistent backup of the store to w: a compressed archive
// (internal/backupfmt) of a Pebble checkpoint, the erasure ledger and the key vault sealed
// under the backup's own key. Ingestion goes on meanwhile; erasures and expiry runs wait
// for the checkpoint (a few seconds at most on a large store). The backup's key is recorded
// in the vault first, and the key-ring file (KeyRingPath) is rewritten with it.
//
// Nothing in the archive is plaintext: records and keys are ciphertext, the ledger holds
// pseudonyms, the manifest ids, times and sizes.
func (s *Store) Backup(ctx context.Context, w io.Writer, o *BackupOptions) (*BackupInfo, error) {
	if o == nil {
		o = &BackupOptions{}
	}
	termText := o.Term
	if termText == "" {
		termText = DefaultBackupTerm
	}
	term, err := retention.ParseDuration(termText)
	if err != nil {
		return nil, fmt.Errorf("%w: backup term: %v", ErrInvalid, err)
	}
	if s.closed.Load() {
		return nil, ErrClosed
	}
	now := s.opts.Clock.Now().UTC()
	bk, err := crypto.NewBackupKey(now, term.AddTo(now))
	if err != nil {
		return nil, err
	}
	defer bk.Key.Wipe()
	// 1. The key, in the vault and the key-ring, before anything is written with it.
	if err := s.updateVault(ctx, func(v *crypto.Vault) error {
		v.Backups = append(v.Backups, bk)
		return nil
	}); err != nil {
		return nil, wrapErr("backup: recording the backup's key", err)
	}
	if err := s.writeKeyRing(ctx); err != nil {
		return nil, err
	}
	info := backupInfo(&bk, now)
	if err := s.auditNow(true, audit.Entry{Kind: audit.KindKeys, Detail: fmt.Sprintf("backup %s: key created, term %s ends %s",
		info.ID, term, info.TermEnd.Format(time.RFC3339))}); err != nil {
		return nil, err
	}

	// 2. The checkpoint, and the vault and ledger that go with it.
	tmp := s.fs.PathJoin(s.dir, backupTempPrefix+info.ID)
	defer func() { _ = s.fs.RemoveAll(tmp) }()
	snap, ledgerData, m, err := s.checkpoint(tmp, &bk)
	if err != nil {
		return nil, wrapErr("backup", err)
	}
	defer snap.Wipe()
	snap.Backups = nil // other backups' keys stay out of this backup's copy
	sealed, err := snap.Marshal(ctx, crypto.BackupWrapper(bk.Key))
	if err != nil {
		return nil, wrapErr("backup: sealing the vault copy", err)
	}
	var total int64
	names, err := s.fs.List(s.fs.PathJoin(tmp, PebbleDir))
	if err != nil {
		return nil, wrapErr("backup: listing the checkpoint", err)
	}
	slices.Sort(names)
	for _, n := range names {
		fi, err := s.fs.Stat(s.fs.PathJoin(tmp, PebbleDir, n))
		if err != nil {
			return nil, wrapErr("backup: listing the checkpoint", err)
		}
		if fi.IsDir() {
			continue
		}
		m.Files = append(m.Files, backupfmt.File{Name: backupfmt.PebblePrefix + n, Size: fi.Size()})
		total += fi.Size()
	}
	m.Files = append(m.Files, backupfmt.File{Name: backupfmt.LedgerName, Size: int64(len(ledgerData))},
		backupfmt.File{Name: backupfmt.VaultName, Size: int64(len(sealed))})
	total += int64(len(ledgerData) + len(sealed))

	// 3. The archive.
	cw := &countingWriter{w: w, h: sha256.New()}
	mk := crypto.BackupMACKey(&bk.Key)
	defer mk.Wipe()
	aw, err := backupfmt.NewWriter(cw, m, mk[:])
	if err != nil {
		return nil, wrapErr("backup: writing the archive", err)
	}
	var done int64
	for _, f := range m.Files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var r io.Reader
		var closer io.Closer
		switch f.Name {
		case backupfmt.LedgerName:
			r = bytes.NewReader(ledgerData)
		case backupfmt.VaultName:
			r = bytes.NewReader(sealed)
		default:
			file, err := s.fs.Open(s.fs.PathJoin(tmp, PebbleDir, strings.TrimPrefix(f.Name, backupfmt.PebblePrefix)))
			if err != nil {
				return nil, wrapErr("backup: reading the checkpoint", err)
			}
			r, closer = file, file
		}
		err := aw.Add(f.Name, &progressReader{r: r, done: &done, total: total, fn: o.Progress})
		if closer != nil {
			closer.Close()
		}
		if err != nil {
			return nil, wrapErr("backup: writing the archive", err)
		}
	}
	if err := aw.Close(); err != nil {
		return nil, wrapErr("backup: writing the archive", err)
	}
	info.Bytes, info.Files, info.DataBytes = cw.n, len(m.Files), total
	info.SHA256 = hex.EncodeToString(cw.h.Sum(nil))
	s.log.Info("backup written", "backup", info.ID, "bytes", info.Bytes, "files", info.Files)
	return &info, nil
}

// checkpoint makes a Pebble checkpoint (WAL flushed) in tmp and returns the vault and the
// erasure ledger as they stand with it, and the manifest's header. Erasures and expiry runs,
// the only operations that take keys away, wait meanwhile (the gate, held shared, and the
// expiry lock); Puts go on, and a bucket key they add is in the vault taken after.
func (s *Store) checkpoint(tmp string, bk *crypto.BackupKey) (*crypto.Vault, []byte, *backupfmt.Manifest, error) {
	s.expireMu.Lock()
	defer s.expireMu.Unlock()
	s.gate.RLock()
	defer s.gate.RUnlock()
	if s.closed.Load() {
		return nil, nil, nil, ErrClosed
	}
	_ = s.fs.RemoveAll(tmp)
	if err := s.db.Checkpoint(s.fs.PathJoin(tmp, PebbleDir), pebble.WithFlushedWAL()); err != nil {
		return nil, nil, nil, fmt.Errorf("checkpoint: %w", err)
	}
	v := s.vault.Load().Clone()
	s.ledger.mu.Lock()
	size, head, next := s.ledger.size, s.ledger.head, s.ledger.next
	s.ledger.mu.Unlock()
	data, err := readWhole(s.fs, s.ledger.path)
	if err != nil {
		v.Wipe()
		return nil, nil, nil, fmt.Errorf("reading the erasure ledger: %w", err)
	}
	if int64(len(data)) < size {
		v.Wipe()
		return nil, nil, nil, errors.New("the erasure ledger is shorter than written")
	}
	m := &backupfmt.Manifest{
		StoreID: v.StoreIDString(), BackupID: bk.IDString(), Created: bk.Created, TermEnd: bk.TermEnd,
		VaultGeneration: v.Generation, LedgerSeq: next - 1, LedgerHash: head,
	}
	return v, data[:size], m, nil
}

type progressReader struct {
	r     io.Reader
	done  *int64
	total int64
	fn    func(done, total int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	*p.done += int64(n)
	if p.fn != nil && n > 0 {
		p.fn(*p.done, p.total)
	}
	return n, err
}

// BackupFile writes a backup to the file path: a temporary file beside it (mode 0600),
// fsynced and renamed into place, so that path holds a whole backup or nothing.
func (s *Store) BackupFile(ctx context.Context, path string, o *BackupOptions) (*BackupInfo, error) {
	tmp := path + ".tmp"
	f, err := s.fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, wrapErr("backup: creating "+path, err)
	}
	if vfs.Root(s.fs) == vfs.Default {
		if err := os.Chmod(tmp, 0o600); err != nil {
			f.Close()
			_ = s.fs.Remove(tmp)
			return nil, wrapErr("backup", err)
		}
	}
	info, err := s.Backup(ctx, f, o)
	if err == nil {
		if serr := f.Sync(); serr != nil {
			err = wrapErr("backup: syncing "+path, serr)
		}
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = wrapErr("backup: writing "+path, cerr)
	}
	if err == nil {
		if rerr := s.fs.Rename(tmp, path); rerr != nil {
			err = wrapErr("backup: moving the backup into "+path, rerr)
		}
	}
	if err != nil {
		_ = s.fs.Remove(tmp)
		return nil, err
	}
	if err := syncDir(s.fs, s.fs.PathDir(path)); err != nil {
		// The file is whole and in place; only its directory entry may not survive a crash.
		return nil, wrapErr("backup: syncing the directory of "+path+" (the backup file is whole, but a crash may lose it)", err)
	}
	return info, nil
}

// writeKeyRing rewrites the key-ring file with the vault's live backup keys.
func (s *Store) writeKeyRing(ctx context.Context) error {
	if s.noKeyRing {
		return nil
	}
	// Under the vault's lock: the key-ring follows the vault, one writer at a time.
	s.vaultMu.Lock()
	defer s.vaultMu.Unlock()
	v := s.vault.Load()
	if len(v.Backups) == 0 {
		if _, err := s.fs.Stat(KeyRingPath(s.dir)); err != nil {
			return nil // never backed up: no key-ring to keep current
		}
	}
	return writeKeyRingFile(ctx, s.fs, s.dir, v, s.opts.RootKey)
}

// writeKeyRingFile writes DIR.backupkeys atomically with v's live backup keys, sealed under
// root, mode 0600. A key-ring without keys is written too: it replaces one that had some.
func writeKeyRingFile(ctx context.Context, fs vfs.FS, dir string, v *crypto.Vault, root crypto.KeyWrapper) error {
	data, err := crypto.NewKeyRing(v).Marshal(ctx, root)
	if err != nil {
		return wrapErr("sealing the backup key-ring", err)
	}
	path := KeyRingPath(dir)
	if err := writeFileAtomic(fs, path, data); err != nil {
		return wrapErr("writing the backup key-ring "+filepath.Base(path), err)
	}
	return nil
}

// writeFileAtomic writes path through a temporary file (0600), fsync and rename.
func writeFileAtomic(fs vfs.FS, path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	var merr error
	if vfs.Root(fs) == vfs.Default {
		merr = os.Chmod(tmp, 0o600)
	}
	_, werr := f.Write(slices.Clone(data))
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(merr, werr, serr, cerr); err != nil {
		_ = fs.Remove(tmp)
		return err
	}
	if err := fs.Rename(tmp, path); err != nil {
		_ = fs.Remove(tmp)
		return err
	}
	return syncDir(fs, fs.PathDir(path))
}

// backupsDue reports whether a live backup's term has ended by now.
func (s *Store) backupsDue(now time.Time) bool {
	for _, b := range s.vault.Load().Backups {
		if b.Live() && !b.TermEnd.After(now) {
			return true
		}
	}
	return false
}

// expireBackups destroys the keys of backups whose term has ended by now (one vault write,
// audited) and rewrites the key-ring. It returns how many keys it destroyed.
func (s *Store) expireBackups(ctx context.Context, now time.Time) (int, error) {
	if !s.backupsDue(now) {
		return 0, nil
	}
	var gone []string
	err := s.updateVault(ctx, func(v *crypto.Vault) error {
		gone = expireBackupKeys(v, now)
		if len(gone) == 0 {
			return errNoChange
		}
		return nil
	})
	if err != nil {
		return 0, wrapErr("expire: destroying backup keys", err)
	}
	if len(gone) == 0 {
		return 0, nil
	}
	if err := s.writeKeyRing(ctx); err != nil {
		return len(gone), err
	}
	s.log.Info("expiry: backup keys destroyed", "backups", len(gone))
	return len(gone), s.auditNow(true, audit.Entry{Kind: audit.KindKeys, Count: int64(len(gone)),
		Detail: fmt.Sprintf("backup key(s) destroyed at the end of their term: %s", strings.Join(gone, ", "))})
}

// expireBackupKeys turns v's live backup entries whose term ended by now into tombstones
// and keeps at most maxTombstones of them. It returns the ids destroyed.
func expireBackupKeys(v *crypto.Vault, now time.Time) []string {
	var gone []string
	now = now.UTC().Truncate(time.Second)
	for i := range v.Backups {
		b := &v.Backups[i]
		if b.Live() && !b.TermEnd.After(now) {
			b.Key.Wipe()
			b.Key = crypto.Key{}
			b.Destroyed = now
			if b.Destroyed.IsZero() || b.Destroyed.Unix() == 0 {
				b.Destroyed = time.Unix(1, 0).UTC()
			}
			gone = append(gone, b.IDString())
		}
	}
	tomb := 0
	for _, b := range v.Backups {
		if !b.Live() {
			tomb++
		}
	}
	for i := 0; tomb > maxTombstones && i < len(v.Backups); {
		if !v.Backups[i].Live() {
			v.Backups = slices.Delete(v.Backups, i, i+1)
			tomb--
			continue
		}
		i++
	}
	return gone
}

package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"contactstore/crypto"
	"contactstore/internal/audit"
	"contactstore/internal/backupfmt"
	"contactstore/internal/keys"
	"contactstore/internal/ledger"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// ErrBackupExpired: the backup's term has ended; its key is (or is about to be) destroyed
// and it cannot be restored. The error is a *BackupExpiredError saying when.
var ErrBackupExpired = errors.New("contactstore: backup expired")

// BackupExpiredError tells which backup expired and when.
type BackupExpiredError struct {
	ID string
	On time.Time
}

func (e *BackupExpiredError) Error() string {
	return fmt.Sprintf("contactstore: backup %s expired on %s: its key was destroyed; it cannot be restored", e.ID, e.On.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrBackupExpired) hold.
func (e *BackupExpiredError) Is(target error) bool { return target == ErrBackupExpired }

// ErrNoBackupKey: neither the live store nor a key-ring holds the backup's key.
var ErrNoBackupKey = errors.New("contactstore: no key for this backup")

// RestoreOptions configure Restore.
type RestoreOptions struct {
	// RootKey seals the restored vault, and opens the live store's vault and the key-ring.
	// Required.
	RootKey crypto.KeyWrapper
	// Live is the live store directory whose vault holds the backup's key and whose erasure
	// ledger is replayed; default the target dir, when it holds a store. The live store must
	// be closed.
	Live string
	// KeyRing is a key-ring file (DIR.backupkeys) to take the backup's key from when the live
	// store is lost; default the live store's, if it exists.
	KeyRing string
	// Ledger is an erasure ledger file to replay (a copy of DIR/erasures kept off-site);
	// default the live store's.
	Ledger string
	// FS, Clock and Logger as in Options.
	FS     vfs.FS
	Clock  Clock
	Logger *slog.Logger
	// Progress, if set, is called with the archive bytes of store files read so far.
	Progress func(done int64)
}

// RestoreResult tells what Restore did.
type RestoreResult struct {
	Backup BackupInfo `json:"backup"`
	Dir    string     `json:"dir"`
	// InPlace: the restore replaced the data of the live store in Dir.
	InPlace bool `json:"in_place"`
	// KeyFrom names where the backup's key came from: "live store" or "key-ring".
	KeyFrom string `json:"key_from"`
	// LedgerFrom names the ledger replayed: "live store", "ledger file" or "backup" (none
	// newer was given).
	LedgerFrom string `json:"ledger_from"`
	// KeptErased counts customers erased after the backup was taken whose data the backup
	// held: the replay erased them again.
	KeptErased int `json:"kept_erased"`
	// ExpiredBuckets and ExpiredContacts: expiry days that ended since the backup, dropped.
	ExpiredBuckets  int   `json:"expired_buckets"`
	ExpiredContacts int64 `json:"expired_contacts"`
	Files           int   `json:"files"`
}

// Beside the store dir, an in-place restore uses DIR.restore-tmp (the prepared store),
// DIR.restore-old (the replaced one, removed at the end) and the journal DIR.restoring: once
// the journal exists, the restore is committed and Open finishes it after a crash.
const (
	restoreTempSuffix    = ".restore-tmp"
	restoreOldSuffix     = ".restore-old"
	restoreJournalSuffix = ".restoring"
)

// restoreSide returns the path DIR+suffix beside dir.
func restoreSide(fs vfs.FS, dir, suffix string) string {
	dir = strings.TrimRight(dir, `/\`)
	return fs.PathJoin(fs.PathDir(dir), fs.PathBase(dir)+suffix)
}

// restoreTemp returns the directory Restore prepares beside dir.
func restoreTemp(fs vfs.FS, dir string) string { return restoreSide(fs, dir, restoreTempSuffix) }

// Restore restores the backup read from r into dir: an empty or missing directory, or the
// directory of the (closed) live store, whose data it replaces.
//
// Before anything becomes visible it verifies the whole archive, and it brings the backup up
// to date with what happened since: every customer the erasure ledger (the live store's, or
// RestoreOptions.Ledger) shows erased after the backup was taken is erased again, expiry
// days that have ended are dropped, and backup keys whose term ended stay destroyed. A
// backup past its term is refused (ErrBackupExpired).
//
// In place, the switch is crash-safe: a crash leaves either the old store or, once the
// journal DIR.restoring is written, the restored one, which the next Open or Restore
// finishes moving in.
func Restore(ctx context.Context, r io.Reader, dir string, o *RestoreOptions) (*RestoreResult, error) {
	if o == nil || o.RootKey == nil {
		return nil, wrapErr("restore", errors.New("RestoreOptions.RootKey is required"))
	}
	ro := *o
	so := (&Options{FS: ro.FS, Clock: ro.Clock, Logger: ro.Logger}).withDefaults()
	ro.FS, ro.Clock, ro.Logger = so.FS, so.Clock, so.Logger
	fs := ro.FS
	now := ro.Clock.Now().UTC()
	res := &RestoreResult{Dir: dir}

	ar, err := backupfmt.NewReader(r)
	if err != nil {
		return nil, wrapErr("restore", err)
	}
	defer ar.Close()
	m := ar.Manifest()
	res.Backup = BackupInfo{ID: m.BackupID, Created: m.Created.UTC(), TermEnd: m.TermEnd.UTC(), State: "live"}
	if !m.TermEnd.After(now) {
		return nil, &BackupExpiredError{ID: m.BackupID, On: m.TermEnd}
	}
	id, _ := crypto.ParseBackupID(m.BackupID) // checked by the reader

	// The target: a live store of the same store (in place), or an empty or missing dir.
	if err := finishRestore(fs, dir); err != nil {
		return nil, err
	}
	inPlace, err := targetState(fs, dir, m.StoreID)
	if err != nil {
		return nil, err
	}
	res.InPlace = inPlace
	live := ro.Live
	if live == "" && inPlace {
		live = dir
	}
	var lock io.Closer
	if inPlace {
		if lock, err = fs.Lock(fs.PathJoin(dir, "LOCK")); err != nil {
			return nil, wrapErr("restore: locking the store (close it first)", err)
		}
		defer func() {
			if lock != nil {
				lock.Close()
			}
		}()
	}

	// The backup's key: from the live vault, else the key-ring.
	var lv *crypto.Vault
	if live != "" {
		if lv, err = readLiveVault(ctx, fs, live, ro.RootKey, m.StoreID); err != nil {
			return nil, err
		}
		defer lv.Wipe()
	}
	kb, from, err := findBackupKey(ctx, fs, lv, live, ro.KeyRing, ro.RootKey, id, m)
	if err != nil {
		return nil, err
	}
	defer kb.Wipe()
	res.KeyFrom = from

	// Unpack and verify into a temporary dir beside the target.
	tmp := restoreTemp(fs, dir)
	if err := fs.RemoveAll(tmp); err != nil {
		return nil, wrapErr("restore: removing a stale "+tmp, err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = fs.RemoveAll(tmp)
		}
	}()
	vaultData, backupLedger, n, err := unpack(ctx, fs, ar, tmp, kb, ro.Progress)
	if err != nil {
		return nil, err
	}
	res.Files = n
	bv, err := crypto.OpenVault(ctx, vaultData, crypto.BackupWrapper(kb))
	if err != nil || bv.StoreIDString() != m.StoreID || bv.Generation != m.VaultGeneration {
		return nil, wrapErr("restore", fmt.Errorf("%w: the backup's vault copy does not match its manifest", backupfmt.ErrCorrupt))
	}
	defer bv.Wipe()

	// The ledger to replay, and the customers erased since the backup.
	ledgerData, replay, lfrom, err := chooseLedger(fs, backupLedger, m, ro.Ledger, live)
	if err != nil {
		return nil, err
	}
	res.LedgerFrom = lfrom
	if err := replaceFile(fs, tmp, fs.PathJoin(tmp, LedgerFile), ledgerData); err != nil {
		return nil, wrapErr("restore: writing the ledger", err)
	}

	// The restored vault: the backup's keys, the backup list of the live store (or the
	// key-ring), expired backup keys destroyed; sealed under the root key.
	rv := bv.Clone()
	defer rv.Wipe()
	rv.Backups = nil
	switch {
	case lv != nil:
		rv.Backups = lv.Clone().Backups
	case ro.KeyRing != "":
		if ring, err := readKeyRing(ctx, fs, ro.KeyRing, ro.RootKey); err == nil {
			rv.Backups = ring.Keys
		}
	}
	expireBackupKeys(rv, now)
	if lv != nil && lv.Generation > rv.Generation {
		rv.Generation = lv.Generation
	}
	rv.Generation++
	if err := writeVault(ctx, fs, tmp, rv, ro.RootKey); err != nil {
		return nil, err
	}

	// Bring it up to date before anything can read it: expiry, then the erasure replay.
	s, err := Open(tmp, &Options{RootKey: ro.RootKey, FS: fs, Clock: ro.Clock, Logger: ro.Logger, ExpiryInterval: -1})
	if err != nil {
		return nil, wrapErr("restore: opening the restored data", err)
	}
	s.noKeyRing = true
	er, err := s.Expire(ctx, now)
	if err == nil {
		res.ExpiredBuckets, res.ExpiredContacts = er.Buckets, er.Contacts
		var absent map[string]bool
		res.KeptErased, absent, err = s.replayErasures(replay)
		if err == nil {
			err = s.noteReceiptsElsewhere(ledgerData, m.LedgerSeq, absent)
		}
	}
	if err == nil {
		err = s.auditNow(true, audit.Entry{Kind: audit.KindKeys, Detail: fmt.Sprintf(
			"restored from backup %s of %s; %d customer(s) erased since kept erased; %d expiry day(s) dropped",
			m.BackupID, m.Created.UTC().Format(time.RFC3339), res.KeptErased, res.ExpiredBuckets)})
	}
	final := s.vault.Load().Clone()
	defer final.Wipe()
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, wrapErr("restore: replaying erasures and expiry", err)
	}
	if err := syncTree(fs, tmp); err != nil {
		return nil, wrapErr("restore: syncing the restored files", err)
	}

	// Move it into place.
	if inPlace {
		// From the journal on, the restore is committed: a crash is finished forward.
		if err := writeFileAtomic(fs, restoreSide(fs, dir, restoreJournalSuffix), []byte("restore of backup "+m.BackupID+"\n")); err != nil {
			return nil, wrapErr("restore: writing the journal", err)
		}
		ok = true // the journal owns tmp now
		if err := moveRestored(fs, dir); err != nil {
			return nil, wrapErr("restore: moving the restored store in (the next open finishes it)", err)
		}
	} else {
		if _, err := fs.Stat(dir); err == nil {
			if err := fs.Remove(dir); err != nil { // empty, checked above
				return nil, wrapErr("restore", err)
			}
		}
		if err := fs.Rename(tmp, dir); err != nil {
			return nil, wrapErr("restore: moving the restored store in", err)
		}
		if err := syncDir(fs, fs.PathDir(strings.TrimRight(dir, `/\`))); err != nil {
			return nil, wrapErr("restore", err)
		}
		ok = true
	}
	if len(final.Backups) > 0 {
		if err := writeKeyRingFile(ctx, fs, dir, final, ro.RootKey); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// targetState checks the target dir: a store of storeID (in place), or empty or missing.
func targetState(fs vfs.FS, dir, storeID string) (inPlace bool, err error) {
	data, err := readFile(fs, fs.PathJoin(dir, VaultFile))
	if err == nil {
		h, err := crypto.ReadVaultHeader(data)
		if err != nil {
			return false, wrapErr("restore: the target's key vault", err)
		}
		if fmt.Sprintf("%x", h.StoreID[:]) != storeID {
			return false, wrapErr("restore", fmt.Errorf("%s holds another store (%x) than the backup's (%s)", dir, h.StoreID, storeID))
		}
		return true, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return false, wrapErr("restore: reading the target's key vault", err)
	}
	names, err := fs.List(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, wrapErr("restore: reading the target directory", err)
	}
	if len(names) > 0 {
		return false, wrapErr("restore", fmt.Errorf("%s is not empty and holds no store: restore into an empty directory", dir))
	}
	return false, nil
}

// readLiveVault opens the live store's vault with the root key.
func readLiveVault(ctx context.Context, fs vfs.FS, live string, root crypto.KeyWrapper, storeID string) (*crypto.Vault, error) {
	data, err := readFile(fs, fs.PathJoin(live, VaultFile))
	if err != nil {
		return nil, wrapErr("restore: reading the live store's key vault", err)
	}
	v, err := crypto.OpenVault(ctx, data, root)
	if err != nil {
		return nil, wrapErr("restore: opening the live store's key vault", err)
	}
	if v.StoreIDString() != storeID {
		v.Wipe()
		return nil, wrapErr("restore", fmt.Errorf("%s holds another store than the backup's (%s)", live, storeID))
	}
	return v, nil
}

func readKeyRing(ctx context.Context, fs vfs.FS, path string, root crypto.KeyWrapper) (*crypto.KeyRing, error) {
	data, err := readFile(fs, path)
	if err != nil {
		return nil, wrapErr("restore: reading the key-ring", err)
	}
	ring, err := crypto.OpenKeyRing(ctx, data, root)
	if err != nil {
		return nil, wrapErr("restore: opening the key-ring", err)
	}
	return ring, nil
}

// findBackupKey finds K_b: in the live vault (a tombstone there refuses the restore), else
// in the key-ring file (given, or the live store's).
func findBackupKey(ctx context.Context, fs vfs.FS, lv *crypto.Vault, live, ringPath string, root crypto.KeyWrapper,
	id [crypto.BackupIDSize]byte, m *backupfmt.Manifest) (crypto.Key, string, error) {
	if lv != nil {
		if b := lv.FindBackup(id); b != nil {
			if !b.Live() {
				return crypto.Key{}, "", &BackupExpiredError{ID: m.BackupID, On: b.Destroyed}
			}
			return b.Key, "live store", nil
		}
	}
	if ringPath == "" && live != "" {
		if _, err := fs.Stat(KeyRingPath(live)); err == nil {
			ringPath = KeyRingPath(live)
		}
	}
	if ringPath != "" {
		ring, err := readKeyRing(ctx, fs, ringPath, root)
		if err != nil {
			return crypto.Key{}, "", err
		}
		defer ring.Wipe()
		if fmt.Sprintf("%x", ring.StoreID[:]) != m.StoreID {
			return crypto.Key{}, "", wrapErr("restore", errors.New("the key-ring belongs to another store"))
		}
		if b := ring.Find(id); b != nil {
			return b.Key, "key-ring", nil
		}
	}
	return crypto.Key{}, "", fmt.Errorf("%w %s: give a key-ring (--keyring FILE) or restore next to its live store", ErrNoBackupKey, m.BackupID)
}

// unpack writes the archive's Pebble files into tmp/pebble, verifying every digest and the
// trailer, and returns the sealed vault copy and the ledger copy.
func unpack(ctx context.Context, fs vfs.FS, ar *backupfmt.Reader, tmp string, kb crypto.Key, progress func(int64)) (vaultData, ledgerData []byte, n int, err error) {
	if err := fs.MkdirAll(fs.PathJoin(tmp, PebbleDir), 0o700); err != nil {
		return nil, nil, 0, wrapErr("restore: creating "+tmp, err)
	}
	var done int64
	for {
		if err := ctx.Err(); err != nil {
			return nil, nil, 0, err
		}
		f, r, err := ar.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, 0, wrapErr("restore", err)
		}
		n++
		pr := &progressReader{r: r, done: &done, fn: func(d, _ int64) {
			if progress != nil {
				progress(d)
			}
		}}
		switch f.Name {
		case backupfmt.VaultName, backupfmt.LedgerName:
			if f.Size > maxVaultSize && f.Name == backupfmt.VaultName {
				return nil, nil, 0, wrapErr("restore", fmt.Errorf("%w: the vault copy is too large", backupfmt.ErrCorrupt))
			}
			data, err := io.ReadAll(pr)
			if err != nil {
				return nil, nil, 0, wrapErr("restore", err)
			}
			if f.Name == backupfmt.VaultName {
				vaultData = data
			} else {
				ledgerData = data
			}
		default:
			name := strings.TrimPrefix(f.Name, backupfmt.PebblePrefix)
			out, err := fs.Create(fs.PathJoin(tmp, PebbleDir, name), vfs.WriteCategoryUnspecified)
			if err != nil {
				return nil, nil, 0, wrapErr("restore: writing "+f.Name, err)
			}
			_, werr := io.Copy(out, pr)
			serr := out.Sync()
			cerr := out.Close()
			if err := errors.Join(werr, serr, cerr); err != nil {
				return nil, nil, 0, wrapErr("restore: writing "+f.Name, err)
			}
		}
	}
	mk := crypto.BackupMACKey(&kb)
	defer mk.Wipe()
	if err := ar.Finish(mk[:]); err != nil {
		return nil, nil, 0, wrapErr("restore", err)
	}
	if vaultData == nil {
		return nil, nil, 0, wrapErr("restore", fmt.Errorf("%w: no vault copy", backupfmt.ErrCorrupt))
	}
	return vaultData, ledgerData, n, nil
}

// chooseLedger picks the ledger the restored store keeps: the given or live one when it
// continues the backup's copy (the same chain, maybe longer), else the backup's own. It
// returns the pseudonyms to erase again: those the chosen ledger erased (or began to) after
// the backup's last entry.
func chooseLedger(fs vfs.FS, backupLedger []byte, m *backupfmt.Manifest, given, live string) ([]byte, []string, string, error) {
	bl, err := ledger.Parse(bytes.NewReader(backupLedger))
	if err != nil || bl.Torn || uint64(len(bl.Entries)) != m.LedgerSeq {
		return nil, nil, "", wrapErr("restore", fmt.Errorf("%w: the backup's erasure ledger does not verify", backupfmt.ErrCorrupt))
	}
	path, from := given, "ledger file"
	if path == "" && live != "" {
		path, from = fs.PathJoin(live, LedgerFile), "live store"
	}
	if path == "" {
		return backupLedger, nil, "backup", nil
	}
	data, err := readWhole(fs, path)
	if err != nil {
		return nil, nil, "", wrapErr("restore: reading the erasure ledger", err)
	}
	sl, err := ledger.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, nil, "", wrapErr("restore: the erasure ledger "+path, err)
	}
	data = data[:sl.Size]
	switch {
	case len(sl.Entries) >= len(bl.Entries) && (len(bl.Entries) == 0 || sl.Entries[len(bl.Entries)-1].Hash == m.LedgerHash):
		// It continues the backup's ledger.
	case len(sl.Entries) < len(bl.Entries) && (len(sl.Entries) == 0 || bl.Entries[len(sl.Entries)-1].Hash == sl.Entries[len(sl.Entries)-1].Hash):
		return backupLedger, nil, "backup", nil // older than the backup: nothing to replay
	default:
		return nil, nil, "", wrapErr("restore", fmt.Errorf("the erasure ledger %s does not continue the backup's (another store's, or altered)", path))
	}
	seen := map[string]bool{}
	var replay []string
	add := func(ps string) {
		if !seen[ps] {
			seen[ps] = true
			replay = append(replay, ps)
		}
	}
	pending := map[uint64]bool{}
	for _, e := range sl.Pending() {
		pending[e.Seq] = true
	}
	for _, e := range sl.Entries {
		if e.Seq <= m.LedgerSeq {
			continue
		}
		switch {
		case e.Kind == ledger.KindErased:
			add(e.Customer)
		case e.Kind == ledger.KindIntent && pending[e.Seq]:
			// An erasure the live store has not closed: its vault may have landed. Erasing
			// again errs on the side of the request.
			for _, c := range e.Customers {
				add(c)
			}
		}
	}
	return data, replay, from, nil
}

// replayErasures erases again the customers (pseudonyms, hex) that still have a data key,
// through the store's own erasure (new shard keys, data deleted, ledger entries). It
// returns how many it erased.
func (s *Store) replayErasures(pss []string) (int, map[string]bool, error) {
	s.gate.Lock()
	defer s.gate.Unlock()
	var victims []*victim
	absent := map[string]bool{}
	for _, h := range pss {
		ps, err := parsePS(h)
		if err != nil {
			return 0, nil, err
		}
		cu, err := s.lookupByPS(ps)
		if errors.Is(err, errNoCustomer) {
			absent[h] = true // not in the backup: nothing to erase again
			continue
		}
		if err != nil {
			return 0, nil, err
		}
		victims = append(victims, &victim{cu: cu, reqs: []*eraseReq{{reason: "restore: erased after the backup", done: make(chan eraseRes, 1)}}})
	}
	erased := 0
	for len(victims) > 0 {
		chunk := victims[:min(len(victims), ledger.MaxAppend)]
		victims = victims[len(chunk):]
		_, finish, err := s.erase(chunk)
		if err != nil {
			return erased, absent, err
		}
		if err := finish(); err != nil {
			return erased, absent, err
		}
		erased += len(chunk)
	}
	return erased, absent, nil
}

// receiptsElsewhereKey (Meta) lists the ledger entries of erasures made after the backup a
// store was restored from, of customers the backup did not hold: their signed receipts
// stayed with the store that issued them (the restored ledger keeps their digests). Check
// reports these as warnings, not as missing receipts.
var receiptsElsewhereKey = keys.Meta("receipts-elsewhere")

// noteReceiptsElsewhere records, for the restored store, the ledger entries whose receipts
// it cannot have (see receiptsElsewhereKey).
func (s *Store) noteReceiptsElsewhere(ledgerData []byte, after uint64, absent map[string]bool) error {
	if len(absent) == 0 {
		return nil
	}
	l, err := ledger.Parse(bytes.NewReader(ledgerData))
	if err != nil {
		return wrapErr("restore: reading the erasure ledger", err)
	}
	var seqs []uint64
	for _, e := range l.Entries {
		if e.Seq > after && e.Kind == ledger.KindErased && absent[e.Customer] {
			seqs = append(seqs, e.Seq)
		}
	}
	if len(seqs) == 0 {
		return nil
	}
	old, err := s.receiptsElsewhere()
	if err != nil {
		return err
	}
	for q := range old {
		seqs = append(seqs, q)
	}
	slices.Sort(seqs)
	enc, _ := json.Marshal(slices.Compact(seqs))
	return wrapErr("restore: recording receipts kept elsewhere", s.db.Set(receiptsElsewhereKey, enc, pebble.Sync))
}

// receiptsElsewhere reads the set noteReceiptsElsewhere recorded.
func (s *Store) receiptsElsewhere() (map[uint64]bool, error) {
	v, closer, err := s.db.Get(receiptsElsewhereKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, wrapErr("reading store metadata", err)
	}
	defer closer.Close()
	var seqs []uint64
	if err := json.Unmarshal(v, &seqs); err != nil {
		return nil, fmt.Errorf("%w: the list of receipts kept elsewhere does not parse", ErrCorrupt)
	}
	out := make(map[uint64]bool, len(seqs))
	for _, q := range seqs {
		out[q] = true
	}
	return out, nil
}

// syncTree fsyncs a directory, its subdirectories and their files' entries.
func syncTree(fs vfs.FS, dir string) error {
	names, err := fs.List(dir)
	if err != nil {
		return err
	}
	for _, n := range names {
		p := fs.PathJoin(dir, n)
		if fi, err := fs.Stat(p); err == nil && fi.IsDir() {
			if err := syncTree(fs, p); err != nil {
				return err
			}
		}
	}
	return syncDir(fs, dir)
}

// moveRestored swaps the prepared store in: DIR becomes DIR.restore-old, DIR.restore-tmp
// becomes DIR, then the journal and the old store are removed. Every step is a rename
// within DIR's parent, made durable by syncing that one directory, and each can be redone,
// so a crash anywhere is finished by running it again (finishRestore).
func moveRestored(fs vfs.FS, dir string) error {
	dir = strings.TrimRight(dir, `/\`)
	parent := fs.PathDir(dir)
	tmp, old := restoreTemp(fs, dir), restoreSide(fs, dir, restoreOldSuffix)
	if exists(fs, tmp) {
		if exists(fs, dir) {
			if err := fs.RemoveAll(old); err != nil {
				return err
			}
			if err := fs.Rename(dir, old); err != nil {
				return err
			}
			if err := syncDir(fs, parent); err != nil {
				return err
			}
		}
		if err := fs.Rename(tmp, dir); err != nil {
			return err
		}
		if err := syncDir(fs, parent); err != nil {
			return err
		}
	}
	if err := fs.Remove(restoreSide(fs, dir, restoreJournalSuffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := syncDir(fs, parent); err != nil {
		return err
	}
	return fs.RemoveAll(old)
}

func exists(fs vfs.FS, path string) bool {
	_, err := fs.Stat(path)
	return err == nil
}

// finishRestore completes an in-place restore a crash interrupted (the journal
// DIR.restoring exists), and removes checkpoints a crash left behind during a backup
// (DIR/backup-tmp-*) and the old store a finished restore had not yet removed. Open and
// Restore call it first.
func finishRestore(fs vfs.FS, dir string) error {
	if exists(fs, restoreSide(fs, dir, restoreJournalSuffix)) {
		if exists(fs, fs.PathJoin(dir, "LOCK")) {
			lock, err := fs.Lock(fs.PathJoin(dir, "LOCK"))
			if err != nil {
				return wrapErr("finishing an interrupted restore (is a restore running?)", err)
			}
			lock.Close()
		}
		if err := moveRestored(fs, dir); err != nil {
			return wrapErr("finishing an interrupted restore", err)
		}
	} else if exists(fs, restoreSide(fs, dir, restoreOldSuffix)) {
		if err := fs.RemoveAll(restoreSide(fs, dir, restoreOldSuffix)); err != nil {
			return wrapErr("removing the store a restore replaced", err)
		}
	}
	names, err := fs.List(dir)
	if err != nil {
		return nil // no dir yet (or unreadable: Open reports it)
	}
	stale := false
	for _, n := range names {
		stale = stale || strings.HasPrefix(n, backupTempPrefix)
	}
	if !stale {
		return nil
	}
	lock, err := fs.Lock(fs.PathJoin(dir, "LOCK"))
	if err != nil {
		return nil // the store is open elsewhere: its backup may be running
	}
	defer lock.Close()
	for _, n := range names {
		if strings.HasPrefix(n, backupTempPrefix) {
			if err := fs.RemoveAll(fs.PathJoin(dir, n)); err != nil {
				return wrapErr("removing a checkpoint an interrupted backup left", err)
			}
		}
	}
	return nil
}

package store

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"contactstore/internal/ledger"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// ledgerFile is the open erasure ledger, DIR/erasures: appended with WriteAt and fsync,
// verified whole when the store opens.
type ledgerFile struct {
	mu     sync.Mutex
	fs     vfs.FS
	path   string
	f      vfs.File
	size   int64
	head   string
	next   uint64
	erased map[string]time.Time // pseudonym (hex) → when
	parsed *ledger.Ledger
}

func openLedger(fs vfs.FS, dir string) (*ledgerFile, error) {
	path := fs.PathJoin(dir, LedgerFile)
	l := &ledgerFile{fs: fs, path: path, erased: map[string]time.Time{}}
	data, err := readWhole(fs, path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		data = nil
	case err != nil:
		return nil, wrapErr("reading the erasure ledger", err)
	}
	parsed, err := ledger.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, wrapErr(path, err)
	}
	if parsed.Torn || data == nil {
		// A crash cut the last append short (or there is no ledger yet): keep the verified
		// lines, replacing the file atomically.
		if err := replaceFile(fs, dir, path, data[:parsed.Size]); err != nil {
			return nil, wrapErr("repairing the erasure ledger", err)
		}
	}
	f, err := fs.OpenReadWrite(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, wrapErr("opening the erasure ledger", err)
	}
	l.f, l.size, l.parsed = f, parsed.Size, parsed
	l.head, l.next = parsed.Last()
	for _, e := range parsed.Entries {
		if e.Kind == ledger.KindErased {
			l.erased[e.Customer] = e.Time
		}
	}
	return l, nil
}

// append seals and appends entries and fsyncs the file.
func (l *ledgerFile) append(entries ...*ledger.Entry) error {
	p, err := l.prepare(entries...)
	if err != nil {
		return err
	}
	return l.write(p)
}

// preparedEntries are sealed entries (sequence numbers and hashes assigned) not yet written.
type preparedEntries struct {
	entries    []*ledger.Entry
	buf        []byte
	prevHead   string
	head       string
	next, prev uint64
}

// prepare seals entries as the next ones of the ledger without writing them, so that their
// sequence numbers and hashes are known before the (slow, fsynced) write. Only one prepared
// set may be outstanding: the store's eraser is the only appender.
func (l *ledgerFile) prepare(entries ...*ledger.Entry) (*preparedEntries, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := &preparedEntries{entries: entries, prevHead: l.head, prev: l.next}
	head, next := l.head, l.next
	for _, e := range entries {
		e.Seq = next
		line, err := ledger.Seal(e, head)
		if err != nil {
			return nil, err
		}
		p.buf = append(p.buf, line...)
		head, next = e.Hash, next+1
	}
	p.head, p.next = head, next
	return p, nil
}

// write appends prepared entries and fsyncs; the ledger's state advances only on success.
func (l *ledgerFile) write(p *preparedEntries) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.head != p.prevHead || l.next != p.prev {
		return errors.New("contactstore: erasure ledger changed between prepare and write")
	}
	if _, err := l.f.WriteAt(p.buf, l.size); err != nil {
		return wrapErr("appending to the erasure ledger", err)
	}
	if err := l.f.Sync(); err != nil {
		return wrapErr("syncing the erasure ledger", err)
	}
	l.size += int64(len(p.buf))
	l.head, l.next = p.head, p.next
	for _, e := range p.entries {
		l.parsed.Entries = append(l.parsed.Entries, *e)
		if e.Kind == ledger.KindErased {
			l.erased[e.Customer] = e.Time
		}
	}
	return nil
}

// markErased records in memory that a customer is erased, ahead of the ledger entry that
// follows (an erasure is acknowledged once its vault is durable).
func (l *ledgerFile) markErased(ps string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.erased[ps] = at
}

// has reports whether the ledger holds an entry with sequence number seq.
func (l *ledgerFile) has(seq uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return seq >= 1 && seq < l.next
}

// nextSeq returns the sequence number the next appended entry gets.
func (l *ledgerFile) nextSeq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next
}

func (l *ledgerFile) erasedAt(ps []byte) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.erased[hex.EncodeToString(ps)]
	return t, ok
}

func (l *ledgerFile) close() error {
	if l == nil || l.f == nil {
		return nil
	}
	return l.f.Close()
}

func readWhole(fs vfs.FS, path string) ([]byte, error) {
	f, err := fs.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// replaceFile writes data to path atomically (temporary file, fsync, rename, directory fsync).
func replaceFile(fs vfs.FS, dir, path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	// MemFS may scramble a written buffer (under -race); write a copy.
	_, werr := f.Write(bytes.Clone(data))
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = fs.Remove(tmp)
		return err
	}
	if err := fs.Rename(tmp, path); err != nil {
		return err
	}
	d, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

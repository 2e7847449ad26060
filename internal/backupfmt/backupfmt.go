// Package backupfmt is the format of a contactstore backup archive: a zstd-compressed tar
// stream of
//
//   - MANIFEST: JSON (Manifest) naming the store, the backup, its term, the state of the
//     key vault and the erasure ledger at backup time, and every file with its size;
//   - the files, in the manifest's order: Pebble's checkpoint under "pebble/", the store's
//     erasure ledger "erasures" (pseudonyms only), and "keyvault", the key vault sealed under
//     the backup's own key K_b;
//   - TRAILER: JSON (Trailer) with each file's SHA-256 and an HMAC-SHA256, under a key derived
//     from K_b, over the manifest and every file's name, size and digest.
//
// The zstd stream is followed by a zstd skippable frame (which decompressors skip) holding
// an HMAC-SHA256 over every compressed byte before it, so that a change to any byte of the
// file is detected — also one in the compressed encoding that would decompress to the same
// archive.
//
// Every file is ciphertext or pseudonyms; the manifest holds ids, times and sizes. A reader
// accepts nothing until the trailer and the outer MAC have verified: a truncated archive has
// no trailer, a changed byte fails zstd's checksum, a digest or a MAC.
package backupfmt

import (
	"archive/tar"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Version is the archive format version this package writes and reads.
const Version = 1

// Names of the archive's fixed entries.
const (
	ManifestName = "MANIFEST"
	TrailerName  = "TRAILER"
	VaultName    = "keyvault"
	LedgerName   = "erasures"
	PebblePrefix = "pebble/"
)

// maxJSON bounds the manifest and the trailer.
const maxJSON = 16 << 20

// MaxFiles bounds the files one archive may list.
const MaxFiles = 1 << 20

// ErrCorrupt reports an archive that is malformed, truncated or fails verification.
var ErrCorrupt = errors.New("backup archive is corrupt or incomplete")

// Manifest describes a backup. It holds no personal data and no key.
type Manifest struct {
	Format          int       `json:"format"`
	StoreID         string    `json:"store_id"`
	BackupID        string    `json:"backup_id"`
	Created         time.Time `json:"created"`
	TermEnd         time.Time `json:"term_end"`
	VaultGeneration uint64    `json:"vault_generation"`
	// LedgerSeq and LedgerHash are the last entry of the erasure ledger copied into the
	// backup (0 and "" for an empty ledger).
	LedgerSeq  uint64 `json:"ledger_seq"`
	LedgerHash string `json:"ledger_hash,omitempty"`
	Files      []File `json:"files"`
}

// File is one file of the archive.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"` // in the trailer only
}

// Trailer closes an archive.
type Trailer struct {
	Files []File `json:"files"`
	MAC   string `json:"mac"` // HMAC-SHA256, hex
}

// ValidName reports whether name may be a file of an archive: "keyvault", "erasures" or
// "pebble/" and one plain file name.
func ValidName(name string) bool {
	switch name {
	case VaultName, LedgerName:
		return true
	}
	base, ok := strings.CutPrefix(name, PebblePrefix)
	return ok && base != "" && base != "." && base != ".." && !strings.ContainsAny(base, "/\\\x00") && path.Clean(name) == name
}

// check validates a manifest's fields and file list.
func (m *Manifest) check() error {
	if m.Format != Version {
		return fmt.Errorf("unsupported archive format %d", m.Format)
	}
	if len(m.StoreID) != 32 || len(m.BackupID) != 32 {
		return errors.New("manifest: malformed store or backup id")
	}
	if _, err := hex.DecodeString(m.StoreID + m.BackupID); err != nil {
		return errors.New("manifest: malformed store or backup id")
	}
	if m.Created.IsZero() || !m.TermEnd.After(m.Created) {
		return errors.New("manifest: the term does not end after the backup was made")
	}
	if len(m.Files) > MaxFiles {
		return fmt.Errorf("manifest: %d files", len(m.Files))
	}
	seen := map[string]bool{}
	vault := false
	for i, f := range m.Files {
		if !ValidName(f.Name) || seen[f.Name] {
			return fmt.Errorf("manifest: file %d has a bad or repeated name", i)
		}
		if f.Size < 0 || f.SHA256 != "" {
			return fmt.Errorf("manifest: file %d: bad size or a digest in the manifest", i)
		}
		seen[f.Name] = true
		vault = vault || f.Name == VaultName
	}
	if !vault {
		return errors.New("manifest: no key vault listed")
	}
	return nil
}

// mac is the trailer MAC over the manifest's bytes and each file's name, size and digest.
func mac(key, manifest []byte, files []File) (hash.Hash, error) {
	h := hmac.New(sha256.New, key)
	h.Write([]byte("contactstore backup archive v1\n"))
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(manifest))))
	h.Write(manifest)
	for _, f := range files {
		d, err := hex.DecodeString(f.SHA256)
		if err != nil || len(d) != sha256.Size {
			return nil, errors.New("trailer: malformed digest")
		}
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(f.Name))))
		h.Write([]byte(f.Name))
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(f.Size)))
		h.Write(d)
	}
	return h, nil
}

// Writer writes an archive.
type Writer struct {
	raw      *hashWriter
	zw       *zstd.Encoder
	tw       *tar.Writer
	m        *Manifest
	manifest []byte
	key      []byte
	next     int
	done     []File
	modTime  time.Time
}

// NewWriter starts an archive on w with manifest m (its files in the order they will be
// added); macKey authenticates it. The manifest is written at once.
func NewWriter(w io.Writer, m *Manifest, macKey []byte) (*Writer, error) {
	m.Format = Version
	if err := m.check(); err != nil {
		return nil, err
	}
	mj, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	raw := &hashWriter{w: w, h: sha256.New()}
	zw, err := zstd.NewWriter(raw, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(true))
	if err != nil {
		return nil, err
	}
	aw := &Writer{raw: raw, zw: zw, tw: tar.NewWriter(zw), m: m, manifest: mj, key: bytes.Clone(macKey), modTime: m.Created.UTC()}
	if err := aw.entry(ManifestName, int64(len(mj))); err != nil {
		return nil, err
	}
	if _, err := aw.tw.Write(mj); err != nil {
		return nil, err
	}
	return aw, nil
}

func (w *Writer) entry(name string, size int64) error {
	return w.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o600, ModTime: w.modTime, Format: tar.FormatPAX})
}

// Add writes the next file of the manifest; r must yield exactly its size.
func (w *Writer) Add(name string, r io.Reader) error {
	if w.next >= len(w.m.Files) || w.m.Files[w.next].Name != name {
		return fmt.Errorf("backup archive: %s is not the next file of the manifest", name)
	}
	f := w.m.Files[w.next]
	if err := w.entry(name, f.Size); err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(h, w.tw), io.LimitReader(r, f.Size))
	if err != nil {
		return err
	}
	if n != f.Size {
		return fmt.Errorf("backup archive: %s has %d bytes, the manifest says %d", name, n, f.Size)
	}
	f.SHA256 = hex.EncodeToString(h.Sum(nil))
	w.done = append(w.done, f)
	w.next++
	return nil
}

// Close writes the trailer and ends the archive (it does not close the underlying writer).
func (w *Writer) Close() error {
	if w.next != len(w.m.Files) {
		return fmt.Errorf("backup archive: %d of %d files written", w.next, len(w.m.Files))
	}
	h, err := mac(w.key, w.manifest, w.done)
	if err != nil {
		return err
	}
	tj, err := json.Marshal(&Trailer{Files: w.done, MAC: hex.EncodeToString(h.Sum(nil))})
	if err != nil {
		return err
	}
	if err := w.entry(TrailerName, int64(len(tj))); err != nil {
		return err
	}
	if _, err := w.tw.Write(tj); err != nil {
		return err
	}
	if err := w.tw.Close(); err != nil {
		return err
	}
	if err := w.zw.Close(); err != nil {
		return err
	}
	_, err = w.raw.w.Write(outerFrame(w.key, w.raw.h.Sum(nil)))
	clear(w.key)
	return err
}

// The outer MAC travels in a zstd skippable frame: magic, length 32, the MAC.
const (
	skippableMagic = 0x184D2A50
	outerLen       = 8 + sha256.Size
)

// outerMAC is HMAC-SHA256(key, label ‖ SHA-256 of the compressed bytes).
func outerMAC(key, digest []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte("contactstore backup archive v1 outer\n"))
	h.Write(digest)
	return h.Sum(nil)
}

func outerFrame(key, digest []byte) []byte {
	f := binary.LittleEndian.AppendUint32(nil, skippableMagic)
	f = binary.LittleEndian.AppendUint32(f, sha256.Size)
	return append(f, outerMAC(key, digest)...)
}

type hashWriter struct {
	w io.Writer
	h hash.Hash
}

func (hw *hashWriter) Write(p []byte) (int, error) {
	// Hash first: a writer may scramble p once it has written it (vfs.MemFS does, under
	// the race detector). A short write is an error anyway.
	hw.h.Write(p)
	return hw.w.Write(p)
}

// tailReader hashes what it reads except the last outerLen bytes, which it keeps: at the
// end of the input they are the outer frame.
type tailReader struct {
	r    io.Reader
	h    hash.Hash
	tail []byte
	eof  bool
}

func (t *tailReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		buf := append(t.tail, p[:n]...)
		if cut := len(buf) - outerLen; cut > 0 {
			t.h.Write(buf[:cut])
			buf = buf[cut:]
		}
		t.tail = append(t.tail[:0:0], buf...)
	}
	if errors.Is(err, io.EOF) {
		t.eof = true
	}
	return n, err
}

// Reader reads an archive. Nothing it yields may be trusted before Finish returns nil.
type Reader struct {
	raw      *tailReader
	zr       *zstd.Decoder
	tr       *tar.Reader
	m        Manifest
	manifest []byte
	next     int
	got      []File
	cur      hash.Hash
	curFile  *File
	curRead  int64
}

// NewReader reads an archive's manifest from r.
func NewReader(r io.Reader) (*Reader, error) {
	raw := &tailReader{r: r, h: sha256.New()}
	zr, err := zstd.NewReader(raw, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(256<<20))
	if err != nil {
		return nil, err
	}
	ar := &Reader{raw: raw, zr: zr, tr: tar.NewReader(zr)}
	data, err := ar.entry(ManifestName, -1)
	if err != nil {
		zr.Close()
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ar.m); err != nil {
		zr.Close()
		return nil, fmt.Errorf("%w: the manifest does not parse", ErrCorrupt)
	}
	if err := ar.m.check(); err != nil {
		zr.Close()
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	ar.manifest = data
	return ar, nil
}

// entry reads the next tar entry, which must be name; size -1 reads a JSON entry whole.
func (r *Reader) entry(name string, size int64) ([]byte, error) {
	hdr, err := r.tr.Next()
	if err != nil {
		return nil, fmt.Errorf("%w: expected %s: %v", ErrCorrupt, name, cut(err))
	}
	if hdr.Typeflag != tar.TypeReg || hdr.Name != name {
		return nil, fmt.Errorf("%w: expected %s, found another entry", ErrCorrupt, name)
	}
	if size >= 0 {
		if hdr.Size != size {
			return nil, fmt.Errorf("%w: %s has another size than the manifest says", ErrCorrupt, name)
		}
		return nil, nil
	}
	if hdr.Size > maxJSON {
		return nil, fmt.Errorf("%w: %s is too large", ErrCorrupt, name)
	}
	data, err := io.ReadAll(r.tr)
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %v", ErrCorrupt, name, cut(err))
	}
	return data, nil
}

// cut shortens decoder errors to their kind (they may quote input bytes).
func cut(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "the archive ends early (truncated?)"
	}
	s := err.Error()
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}

// Manifest returns the archive's manifest (not yet authenticated).
func (r *Reader) Manifest() *Manifest { return &r.m }

// Next returns the next file and a reader of its bytes; io.EOF after the last. The
// previous file must have been read to its end.
func (r *Reader) Next() (File, io.Reader, error) {
	if err := r.closeFile(); err != nil {
		return File{}, nil, err
	}
	if r.next >= len(r.m.Files) {
		return File{}, nil, io.EOF
	}
	f := r.m.Files[r.next]
	if _, err := r.entry(f.Name, f.Size); err != nil {
		return File{}, nil, err
	}
	r.next++
	r.cur = sha256.New()
	r.curFile = &f
	r.curRead = 0
	return f, io.TeeReader(&counting{r: r.tr, n: &r.curRead}, r.cur), nil
}

type counting struct {
	r io.Reader
	n *int64
}

func (c *counting) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("%w: %s", ErrCorrupt, cut(err))
	}
	return n, err
}

func (r *Reader) closeFile() error {
	if r.curFile == nil {
		return nil
	}
	if r.curRead != r.curFile.Size {
		return fmt.Errorf("%w: %s was not read to its end", ErrCorrupt, r.curFile.Name)
	}
	f := *r.curFile
	f.SHA256 = hex.EncodeToString(r.cur.Sum(nil))
	r.got = append(r.got, f)
	r.curFile = nil
	return nil
}

// Finish reads the trailer and verifies every file's digest and the MAC under macKey, and
// that nothing follows. Only then is the archive authentic and complete.
func (r *Reader) Finish(macKey []byte) error {
	defer r.zr.Close()
	if err := r.closeFile(); err != nil {
		return err
	}
	if r.next != len(r.m.Files) {
		return fmt.Errorf("%w: %d of %d files read", ErrCorrupt, r.next, len(r.m.Files))
	}
	data, err := r.entry(TrailerName, -1)
	if err != nil {
		return err
	}
	var t Trailer
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return fmt.Errorf("%w: the trailer does not parse", ErrCorrupt)
	}
	if len(t.Files) != len(r.got) {
		return fmt.Errorf("%w: the trailer lists another number of files", ErrCorrupt)
	}
	for i, f := range r.got {
		if t.Files[i] != f {
			return fmt.Errorf("%w: file %s does not match its digest", ErrCorrupt, f.Name)
		}
	}
	h, err := mac(macKey, r.manifest, r.got)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	want, err := hex.DecodeString(t.MAC)
	if err != nil || !hmac.Equal(want, h.Sum(nil)) {
		return fmt.Errorf("%w: the archive does not authenticate under the backup's key", ErrCorrupt)
	}
	if _, err := r.tr.Next(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: data after the trailer", ErrCorrupt)
	}
	if _, err := io.Copy(io.Discard, r.zr); err != nil {
		return fmt.Errorf("%w: %s", ErrCorrupt, cut(err))
	}
	if _, err := io.Copy(io.Discard, r.raw); err != nil { // (the decoder may stop short of EOF)
		return fmt.Errorf("%w: %s", ErrCorrupt, cut(err))
	}
	frame := outerFrame(macKey, r.raw.h.Sum(nil))
	if !hmac.Equal(r.raw.tail, frame) {
		return fmt.Errorf("%w: the compressed stream does not authenticate (changed or cut)", ErrCorrupt)
	}
	return nil
}

// Close releases the reader's decoder (Finish does so too).
func (r *Reader) Close() { r.zr.Close() }

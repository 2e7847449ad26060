package bench

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"contactstore/store"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// The SQLite peers: what a team would build instead of contactstore.
//
//   - "sqlite-aesgcm": modernc.org/sqlite (pure Go) through database/sql, one database file
//     in WAL mode, synchronous=FULL when the run is durable (Config.Sync) and NORMAL
//     otherwise, one table
//
//     contacts(customer BLOB, time INTEGER, id BLOB, value BLOB,
//     PRIMARY KEY(customer, time, id)) WITHOUT ROWID
//
//     where customer and id are HMAC-SHA256 pseudonyms (16 bytes) of the customer id and
//     the contact id under a random key, time is the contact's time in Unix nanoseconds,
//     and value is AES-256-GCM with a random 96-bit nonce (nonce ‖ ciphertext ‖ tag) of
//     json.Marshal(contact), the row's customer and id pseudonyms as additional data. A
//     batch is marshalled and sealed first, then written in one transaction with a
//     prepared INSERT OR REPLACE.
//   - "sqlite-plain": the same without encryption: value is the JSON itself.
//   - "sqlite-aesgcm-rowid": as sqlite-aesgcm in an ordinary (rowid) table, the primary key
//     a separate index. SQLite's documentation advises WITHOUT ROWID only for rows smaller
//     than about a twentieth of a page; the workload's contacts average about 3 KB, more
//     than a 4 KiB page can hold inline in a WITHOUT ROWID B-tree (about 1 KB), so there
//     every insert spills to overflow pages inside the primary-key B-tree. A team that
//     knows SQLite may well choose this layout instead.
//
// The pool holds one connection (SQLite has one writer at a time; concurrent writers wait
// for the connection rather than fail with SQLITE_BUSY), so with several writers the
// sealing overlaps but the inserts do not. Settling runs PRAGMA wal_checkpoint(TRUNCATE)
// and closes the database: the WAL is folded into the database file and emptied.

// SQLite peer names.
const (
	PeerSQLiteAESGCM      = "sqlite-aesgcm"
	PeerSQLitePlain       = "sqlite-plain"
	PeerSQLiteAESGCMRowid = "sqlite-aesgcm-rowid"
)

// SQLitePeers lists the SQLite peers.
var SQLitePeers = []string{PeerSQLiteAESGCM, PeerSQLitePlain, PeerSQLiteAESGCMRowid}

// sqliteFile is the database file in the peer's directory; SQLite adds -wal and -shm.
const sqliteFile = "contacts.db"

const sqliteSchema = `CREATE TABLE IF NOT EXISTS contacts (
	customer BLOB NOT NULL,
	time     INTEGER NOT NULL,
	id       BLOB NOT NULL,
	value    BLOB NOT NULL,
	PRIMARY KEY (customer, time, id)
)`

// sqliteWithoutRowid ends sqliteSchema for every peer but sqlite-aesgcm-rowid.
const sqliteWithoutRowid = ` WITHOUT ROWID`

const sqliteInsert = `INSERT OR REPLACE INTO contacts (customer, time, id, value) VALUES (?, ?, ?, ?)`

// sqliteSettleMethod says how the SQLite peers are settled.
const sqliteSettleMethod = "PRAGMA wal_checkpoint(TRUNCATE) (the WAL folded into the database file and emptied), Close"

// sqlitePseudonymSize is the length of the customer and id pseudonyms (truncated
// HMAC-SHA256).
const sqlitePseudonymSize = 16

type sqlitePeer struct {
	dir     string
	encrypt bool
	sync    bool
	macKey  []byte
	aead    cipher.AEAD // nil for sqlite-plain
	db      *sql.DB
	ins     *sql.Stmt
}

// openSQLitePeer opens a new SQLite peer by name (PeerSQLiteAESGCM or PeerSQLitePlain) in
// dir, which is created. sync makes every commit durable (synchronous=FULL).
func openSQLitePeer(name, dir string, sync bool) (*sqlitePeer, error) {
	var encrypt, rowid bool
	switch name {
	case PeerSQLiteAESGCM:
		encrypt = true
	case PeerSQLiteAESGCMRowid:
		encrypt, rowid = true, true
	case PeerSQLitePlain:
	default:
		return nil, fmt.Errorf("bench: unknown SQLite peer %q", name)
	}
	p := &sqlitePeer{dir: dir, encrypt: encrypt, sync: sync, macKey: make([]byte, 32)}
	rand.Read(p.macKey)
	if encrypt {
		key := make([]byte, 32)
		rand.Read(key)
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		if p.aead, err = cipher.NewGCMWithRandomNonce(block); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if err := p.open(); err != nil {
		return nil, err
	}
	schema := sqliteSchema
	if !rowid {
		schema += sqliteWithoutRowid
	}
	if _, err := p.db.Exec(schema); err != nil {
		p.close()
		return nil, fmt.Errorf("bench: sqlite: %w", err)
	}
	var err error
	if p.ins, err = p.db.Prepare(sqliteInsert); err != nil {
		p.close()
		return nil, fmt.Errorf("bench: sqlite: %w", err)
	}
	return p, nil
}

// dsn returns the data source name: the file, WAL, synchronous, a busy timeout, and
// transactions that take the write lock when they begin.
func (p *sqlitePeer) dsn() string {
	syncMode := "NORMAL"
	if p.sync {
		syncMode = "FULL"
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+syncMode+")")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Set("_txlock", "immediate")
	return "file:" + filepath.Join(p.dir, sqliteFile) + "?" + q.Encode()
}

// SQLiteSynchronous returns the synchronous setting the SQLite peers use for a run.
func SQLiteSynchronous(sync bool) string {
	if sync {
		return "FULL"
	}
	return "NORMAL"
}

func (p *sqlitePeer) open() error {
	db, err := sql.Open("sqlite", p.dsn())
	if err != nil {
		return fmt.Errorf("bench: sqlite: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	if err := db.Ping(); err != nil {
		db.Close()
		return fmt.Errorf("bench: sqlite: %w", err)
	}
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		db.Close()
		return fmt.Errorf("bench: sqlite: journal_mode is %q, not wal (%v)", mode, err)
	}
	p.db = db
	return nil
}

// pseudonym appends the truncated HMAC-SHA256 of s under the peer's key.
func pseudonym(dst []byte, mac hash.Hash, s string) []byte {
	mac.Reset()
	io.WriteString(mac, s)
	var sum [sha256.Size]byte
	return append(dst, mac.Sum(sum[:0])[:sqlitePseudonymSize]...)
}

// sqliteRow is one contact as the SQLite peers store it.
type sqliteRow struct {
	customer, id []byte
	time         int64
	value        []byte
}

// encode marshals and (for sqlite-aesgcm) seals a batch.
func (p *sqlitePeer) encode(batch []store.Contact) ([]sqliteRow, error) {
	mac := hmac.New(sha256.New, p.macKey)
	rows := make([]sqliteRow, len(batch))
	keys := make([]byte, 0, 2*sqlitePseudonymSize*len(batch))
	for i := range batch {
		c := &batch[i]
		js, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		at := len(keys)
		keys = pseudonym(keys, mac, c.Customer)
		keys = pseudonym(keys, mac, c.ID)
		r := &rows[i]
		r.customer = keys[at : at+sqlitePseudonymSize : at+sqlitePseudonymSize]
		r.id = keys[at+sqlitePseudonymSize : at+2*sqlitePseudonymSize : at+2*sqlitePseudonymSize]
		r.time = c.Time.UnixNano()
		if p.aead != nil {
			r.value = p.aead.Seal(nil, nil, js, keys[at:at+2*sqlitePseudonymSize])
		} else {
			r.value = js
		}
	}
	return rows, nil
}

// open decrypts (or, for sqlite-plain, returns) a stored value.
func (p *sqlitePeer) openValue(customer, id, value []byte) ([]byte, error) {
	if p.aead == nil {
		return value, nil
	}
	ad := make([]byte, 0, len(customer)+len(id))
	ad = append(append(ad, customer...), id...)
	return p.aead.Open(value[:0:0], nil, value, ad)
}

func (p *sqlitePeer) put(ctx context.Context, batch []store.Contact) error {
	rows, err := p.encode(batch)
	if err != nil {
		return err
	}
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	st := tx.StmtContext(ctx, p.ins)
	for i := range rows {
		r := &rows[i]
		if _, err := st.ExecContext(ctx, r.customer, r.time, r.id, r.value); err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

func (p *sqlitePeer) stalls() (int64, time.Duration) { return 0, 0 }

func (p *sqlitePeer) settle(ctx context.Context) (string, error) {
	if err := p.checkpoint(ctx); err != nil {
		return "", err
	}
	return sqliteSettleMethod, p.closeDB()
}

// checkpoint runs PRAGMA wal_checkpoint(TRUNCATE) and fails if it could not finish.
func (p *sqlitePeer) checkpoint(ctx context.Context) error {
	var busy, logFrames, checkpointed int
	if err := p.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &checkpointed); err != nil {
		return fmt.Errorf("bench: sqlite: checkpoint: %w", err)
	}
	if busy != 0 {
		return errors.New("bench: sqlite: checkpoint: busy")
	}
	return nil
}

// closeDB closes the statement and the database; harmless when closed.
func (p *sqlitePeer) closeDB() error {
	if p.db == nil {
		return nil
	}
	if p.ins != nil {
		p.ins.Close()
		p.ins = nil
	}
	err := p.db.Close()
	p.db = nil
	return err
}

func (p *sqlitePeer) count(ctx context.Context) (int64, error) {
	if p.db == nil {
		if err := p.open(); err != nil {
			return 0, err
		}
		defer p.closeDB()
	}
	var n int64
	err := p.db.QueryRowContext(ctx, "SELECT count(*) FROM contacts").Scan(&n)
	return n, err
}

func (p *sqlitePeer) close() { p.closeDB() }

// get reads back one contact by customer and id: the row's value opened and unmarshalled.
// It reopens the database if it was settled.
func (p *sqlitePeer) get(ctx context.Context, customer, id string) (store.Contact, error) {
	var c store.Contact
	if p.db == nil {
		if err := p.open(); err != nil {
			return c, err
		}
	}
	mac := hmac.New(sha256.New, p.macKey)
	cust := pseudonym(nil, mac, customer)
	idp := pseudonym(nil, mac, id)
	var v []byte
	if err := p.db.QueryRowContext(ctx, "SELECT value FROM contacts WHERE customer = ? AND id = ?", cust, idp).Scan(&v); err != nil {
		return c, err
	}
	js, err := p.openValue(cust, idp, v)
	if err != nil {
		return c, err
	}
	return c, json.Unmarshal(js, &c)
}

// export is the SQLite peers' export, the same stream as PebbleExport: a header line, one
// line per contact of the customer in time order (one query over the primary key's range:
// each value opened with AES-256-GCM for sqlite-aesgcm, then written as a contact line of
// the export format), and a trailer with the count and the SHA-256 of every line before
// it, each line written to w with its own Write. It returns the number of contacts, the
// bytes written and the digest. The database must be open.
func (p *sqlitePeer) export(ctx context.Context, customer string, w io.Writer) (contacts, written int64, digest string, err error) {
	st, err := newRawStream(w, customer)
	if err != nil {
		return 0, 0, "", err
	}
	cust := pseudonym(nil, hmac.New(sha256.New, p.macKey), customer)
	rows, err := p.db.QueryContext(ctx, "SELECT id, value FROM contacts WHERE customer = ? ORDER BY time, id", cust)
	if err != nil {
		return st.abort(err)
	}
	defer rows.Close()
	var (
		id, v []byte
		ad    = make([]byte, 0, 2*sqlitePseudonymSize)
		plain = make([]byte, 0, 64<<10)
	)
	for rows.Next() {
		if st.n%4096 == 0 && ctx.Err() != nil {
			return st.abort(ctx.Err())
		}
		if err := rows.Scan(&id, &v); err != nil {
			return st.abort(err)
		}
		js := v
		if p.aead != nil {
			ad = append(append(ad[:0], cust...), id...)
			if js, err = p.aead.Open(plain[:0], nil, v, ad); err != nil {
				return st.abort(fmt.Errorf("bench: sqlite: opening a value: %w", err))
			}
			plain = js[:0]
		}
		if err := st.contact(js); err != nil {
			return st.abort(err)
		}
	}
	if err := rows.Err(); err != nil {
		return st.abort(err)
	}
	return st.close()
}

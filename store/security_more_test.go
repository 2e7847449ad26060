package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"contactstore/crypto"
	"contactstore/index"
	"contactstore/internal/keys"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// macName matches identifiers that hold MACs, tags, digests, hashes or signatures.
var macName = regexp.MustCompile(`(?i)(mac|tag|sum|digest|hash|sig)`)

// TestMACsCompareInConstantTime parses every non-test Go file of the module and fails on
// bytes.Equal (or bytes.Compare) calls whose operands are named like a MAC, tag, digest,
// hash or signature: those must be compared with hmac.Equal or subtle.ConstantTimeCompare,
// so that the time a comparison takes tells an attacker nothing about how much matched.
func TestMACsCompareInConstantTime(t *testing.T) {
	root := moduleRoot(t)
	var found []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil // a file another session is editing right now; not this test's business
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Equal" && sel.Sel.Name != "Compare") {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "bytes" {
				return true
			}
			for _, a := range call.Args {
				if macName.MatchString(exprText(a)) {
					rel, _ := filepath.Rel(root, path)
					found = append(found, fmt.Sprintf("%s:%d: bytes.%s(%s)", rel, fset.Position(call.Pos()).Line, sel.Sel.Name, argsText(call.Args)))
					break
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		t.Errorf("a MAC-like value compared in variable time (use hmac.Equal or subtle.ConstantTimeCompare): %s", f)
	}
}

// exprText renders the identifiers of an expression (enough to match names).
func exprText(e ast.Expr) string {
	var b strings.Builder
	ast.Inspect(e, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok {
			b.WriteString(id.Name)
			b.WriteByte('.')
		}
		return true
	})
	return b.String()
}

func argsText(args []ast.Expr) string {
	var s []string
	for _, a := range args {
		s = append(s, strings.TrimSuffix(exprText(a), "."))
	}
	return strings.Join(s, ", ")
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("module root not found: %v", err)
	}
	return dir
}

// TestKeyFileWithLoosePermissionsRefused: a root key file that group or others may read is
// refused, whatever the mode, and the refusal quotes no key material.
func TestKeyFileWithLoosePermissionsRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "root.key")
	if _, err := crypto.CreateKeyFile(path); err != nil {
		t.Fatal(err)
	}
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	keyLine := strings.TrimSpace(string(content[strings.LastIndexByte(strings.TrimSpace(string(content)), '\n')+1:]))
	if _, err := crypto.LoadKeyFile(path); err != nil {
		t.Fatalf("mode 0600: %v", err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o666, 0o610} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := crypto.LoadKeyFile(path)
		if !errors.Is(err, crypto.ErrKeyFilePermissions) {
			t.Errorf("mode %04o: %v, want ErrKeyFilePermissions", mode, err)
			continue
		}
		if strings.Contains(err.Error(), keyLine) || strings.Contains(err.Error(), keyLine[len(keyLine)-20:]) {
			t.Errorf("mode %04o: the error quotes the key: %v", mode, err)
		}
	}
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := crypto.LoadKeyFile(path); err != nil {
		t.Errorf("mode 0400: %v", err)
	}
}

// secretForms returns the textual forms a key could take in a log line or an error.
func secretForms(k []byte) []string {
	h := hex.EncodeToString(k)
	return []string{h, strings.ToUpper(h), base64.StdEncoding.EncodeToString(k), base64.RawStdEncoding.EncodeToString(k),
		base64.URLEncoding.EncodeToString(k), base64.RawURLEncoding.EncodeToString(k), fmt.Sprint(k), fmt.Sprintf("%x", k[:8])}
}

// TestNothingSecretInLogsOrErrors runs a full scenario — ingest, reads, lookups, a policy,
// a hold and its release, an objection, an export, an erasure, expiry, a consistency check —
// and the errors a caller meets (invalid contacts, unknown customers, a wrong root key),
// with the store's logger captured at debug level, and fails if any customer id, e-mail
// address, phone number, name, body text, or any root, vault or customer key (hex or
// base64) appears in a log line, a returned error or the check report.
func TestNothingSecretInLogsOrErrors(t *testing.T) {
	var buf syncBuffer
	dir := t.TempDir()
	ctx := context.Background()
	opts := testOptions(t, vfs.Default)
	opts.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clock := opts.Clock.(*fakeClock)
	personal := []string{"GEHEIM-KLANT-0042", "geheim.persoon@voorbeeld.nl", "+31 20 555 0188", "+31205550188", "205550188",
		"Sanne Geheimzinnig", "Mijn kat heet Minoes", "Onderwerp-Vertrouwelijk", "Dossier-Geheim-77", "Ontvanger Geheim BV",
		"ANDERE-KLANT-0043", "RAPPORTAGE-GEHEIM"}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	var cs []Contact
	for i := range 40 {
		ch := ChannelEmail
		if i%2 == 0 {
			ch = ChannelChat
		}
		cs = append(cs, Contact{ID: fmt.Sprintf("%s-%d", personal[11], i), Customer: personal[0], Channel: ch,
			Time:  time.Date(2025, 12, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour),
			Email: personal[1], Phone: personal[2], Agent: personal[5], Body: personal[6], Subject: personal[7]})
	}
	other := cs[0]
	other.ID, other.Customer = "x1", personal[10]
	var errs []error
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = s.Put(ctx, append(cs, other))
	must(err)
	cu, err := s.lookupCustomer(personal[0], false)
	must(err)
	dataKey := cu.key.DataKey // (a copy: erasure wipes the cached one)
	_, err = collect(t, s, personal[0], TimeRange{})
	must(err)
	_, err = s.Find(ctx, index.Email(personal[1]))
	must(err)
	must(setPolicyErr(s, `{"default":"P2Y","rules":[{"channel":"chat","retention":"P30D"}]}`))
	must(s.Hold(ctx, personal[0], personal[8]))
	must(s.Object(ctx, personal[0], ObjectNonEEA))
	_, err = s.Export(ctx, personal[0], io.Discard, ExportOptions{Recipient: personal[9], Country: "NL"})
	must(err)
	_, err = s.Export(ctx, personal[0], io.Discard, ExportOptions{Recipient: personal[9], Country: "US"})
	errs = append(errs, err) // refused: the customer objects to transfers outside the EEA
	_, err = s.Erase(ctx, personal[0], personal[8])
	errs = append(errs, err) // deferred: held
	clock.t = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	_, err = s.Expire(ctx, time.Time{})
	must(err)
	_, err = s.Release(ctx, personal[0])
	must(err)
	rep, err := s.Check(ctx, nil)
	must(err)
	report := mustJSON(t, rep)

	// The errors a caller meets.
	bad := cs[1]
	bad.Channel = personal[6]
	_, err = s.Put(ctx, []Contact{bad})
	errs = append(errs, err)
	bad = cs[1]
	bad.Direction = personal[7]
	_, err = s.Put(ctx, []Contact{bad})
	errs = append(errs, err)
	bad = cs[1]
	bad.Rating = 11
	_, err = s.Put(ctx, []Contact{bad})
	errs = append(errs, err)
	_, err = collect(t, s, personal[0], TimeRange{})
	errs = append(errs, err) // erased
	_, err = collect(t, s, "ONBEKEND-"+personal[0], TimeRange{})
	errs = append(errs, err)
	_, err = s.Erase(ctx, personal[0], "again")
	errs = append(errs, err)
	errs = append(errs, s.Hold(ctx, "ONBEKEND-"+personal[10], personal[8]))
	_, err = s.Find(ctx, index.Phone("bel "+personal[2]+" na vijven"))
	errs = append(errs, err)

	// Every key the store holds, in every textual form.
	var keyForms []string
	var rk crypto.Key
	for i := range rk {
		rk[i] = byte(i * 7)
	}
	keyForms = append(keyForms, secretForms(rk[:])...)
	v := s.vault.Load()
	for _, k := range []crypto.Key{v.PseudonymKey, v.IndexKey, v.SigningSeed, v.DictKey, v.Shards[0].Key, v.Shards[1].Key} {
		keyForms = append(keyForms, secretForms(k[:])...)
	}
	for _, k := range v.Buckets {
		keyForms = append(keyForms, secretForms(k[:])...)
	}
	keyForms = append(keyForms, secretForms(dataKey[:])...)
	must(s.Close())

	o := *opts
	o.RootKey = otherRootKey()
	_, err = Open(dir, &o)
	errs = append(errs, err)

	log := buf.String()
	if !strings.Contains(log, "store opened") {
		t.Fatalf("the logger was not used:\n%s", log)
	}
	scan := func(what, text string) {
		low := strings.ToLower(text)
		for _, p := range personal {
			if strings.Contains(low, strings.ToLower(p)) {
				t.Errorf("%s contains personal value %q", what, p)
			}
		}
		for _, k := range keyForms {
			if strings.Contains(text, k) {
				t.Errorf("%s contains key material %q", what, k)
			}
		}
	}
	scan("the log", log)
	scan("the check report", report)
	for i, err := range errs {
		if err == nil {
			t.Errorf("error %d: expected an error", i)
			continue
		}
		scan(fmt.Sprintf("error %d (%v)", i, err), err.Error())
	}
}

// TestTamperedLedgerByteDetected flips every byte of the erasure ledger, one at a time, in
// a copy of a store with two erasures: either Open refuses the store, or Check reports an
// error (a flipped final newline makes the last entry a torn tail that Open cuts off; the
// stored receipt then has no ledger entry).
func TestTamperedLedgerByteDetected(t *testing.T) {
	ctx := context.Background()
	mem := vfs.NewCrashableMem()
	s, err := Open("db", testOptions(t, mem))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, []Contact{mkContact("een", 1), mkContact("twee", 2), mkContact("drie", 3)}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"een", "twee"} {
		if _, err := s.Erase(ctx, c, "art 17"); err != nil {
			t.Fatal(err)
		}
	}
	checkConsistent(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	path := mem.PathJoin("db", LedgerFile)
	orig, err := readAll(mem, path)
	if err != nil || len(orig) == 0 {
		t.Fatalf("ledger: %d bytes, %v", len(orig), err)
	}
	// Every byte of the last entry (where a torn tail is tolerated), every fifth before it.
	lastStart := bytes.LastIndexByte(orig[:len(orig)-1], '\n') + 1
	byCheck := 0
	for i := 0; i < len(orig); i++ {
		if i < lastStart && i%5 != 0 {
			continue
		}
		fs := mem.CrashClone(vfs.CrashCloneCfg{})
		data := bytes.Clone(orig)
		data[i] ^= 0x01
		writeAll(t, fs, path, data)
		s, err := Open("db", testOptions(t, fs))
		if err != nil {
			continue // refused: detected
		}
		rep, err := s.Check(ctx, nil)
		s.Close()
		if err != nil {
			t.Fatalf("byte %d: check: %v", i, err)
		}
		if rep.OK() {
			t.Errorf("byte %d of the ledger (%q) flipped: Open and Check both accept the store", i, orig[i])
		}
		byCheck++
	}
	if byCheck == 0 {
		t.Error("Open refused every change: the final newline's torn-tail case did not happen")
	}
}

// TestTamperedRecordByteDetected flips every byte of one sealed record and of one stored
// receipt: Check reports every change.
func TestTamperedRecordByteDetected(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, vfs.NewMem())
	defer s.Close()
	if _, err := s.Put(ctx, []Contact{mkContact("een", 1), mkContact("twee", 2)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Erase(ctx, "twee", "art 17"); err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, s)
	for _, kind := range []byte{keys.KindRecord, keys.KindReceipt} {
		k, v := firstKey(t, s, kind, nil)
		for i := range v {
			set(t, s, k, flip(v, i))
			rep, err := s.Check(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() {
				t.Errorf("%c: byte %d flipped: Check finds nothing", kind, i)
			}
		}
		set(t, s, k, v)
	}
	checkConsistent(t, s)
}

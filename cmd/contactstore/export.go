package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"contactstore/internal/export"
	"contactstore/internal/progress"
	"contactstore/internal/transfer"
	"contactstore/store"

	"filippo.io/age"
)

func init() {
	register(command{name: "export", summary: "send a customer's whole history to a recipient they name, behind the transfer guard (exit 3: refused)", run: cmdExport})
	register(command{name: "verify-export", summary: "check an export stream is whole: its trailer's count and SHA-256 (--age-identity decrypts)", run: cmdVerifyExport})
}

// transferRulesEnv names the environment variable that, without --transfer-rules, names a
// replacement adequacy list.
const transferRulesEnv = "CONTACTSTORE_TRANSFER_RULES"

// addTransferRulesFlag adds --transfer-rules to a command.
func addTransferRulesFlag(fs *flag.FlagSet) *string {
	return fs.String("transfer-rules", "", "decide by the adequacy list in FILE (the form transfer-rules --show --json prints) instead of the built-in one (default $"+transferRulesEnv+")")
}

// transferRules loads the adequacy list named by the flag or the environment; nil (the
// built-in list) when neither names one. source says where the rules came from.
func (e *env) transferRules(path string) (rules *store.TransferRules, source string, err error) {
	from := "--transfer-rules"
	if path == "" {
		path, from = e.getenv(transferRulesEnv), "$"+transferRulesEnv
	}
	if path == "" {
		return nil, "built in", nil
	}
	r, err := store.LoadTransferRules(path)
	if err != nil {
		// The store's error repeats its context ("invalid input: transfer rules: FILE:
		// transfer rules: …"); say it once, with where the file was named.
		msg := strings.TrimPrefix(err.Error(), store.ErrInvalid.Error()+": ")
		msg = strings.ReplaceAll(msg, "transfer rules: ", "")
		return nil, "", fmt.Errorf("%s: not a usable adequacy list: %s", from, msg)
	}
	return r, path, nil
}

// stringList is a flag that may repeat.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// exportProgressAfter is how long an export runs before a terminal shows a progress line:
// a small export ends first and draws nothing.
const exportProgressAfter = 700 * time.Millisecond

func cmdExport(e *env, args []string) int {
	f := e.flags("export", "--dir DIR --customer ID --recipient NAME --country CC [--dpf] [--commercial] "+
		"[--safeguard scc|bcr|consent|legal-claims] [--age-recipient AGE1…] [--out FILE] [--transfer-rules FILE] [--check]")
	sf := addStoreFlags(f)
	customer := f.String("customer", "", "the customer's id (required)")
	recipient := f.String("recipient", "", "the person or organisation the customer named (required; kept sealed in the store's record of disclosures, the audit log keeps its SHA-256)")
	country := f.String("country", "", "the recipient's country, ISO 3166-1 alpha-2 such as NL, US, CH (required)")
	dpf := f.Bool("dpf", false, "the recipient is certified under the EU-US Data Privacy Framework (the scope of the US adequacy decision)")
	commercial := f.Bool("commercial", false, "the recipient is a commercial organisation (the scope of Canada's and Japan's adequacy decisions)")
	safeguard := f.String("safeguard", "", "a declared safeguard (scc, bcr: Art. 46/47) or derogation (consent, legal-claims: Art. 49), for a country without an adequacy decision that covers the recipient")
	var ageRecipients stringList
	f.Var(&ageRecipients, "age-recipient", "encrypt the whole stream to this age X25519 public key (age1…); may repeat")
	out := f.String("out", "", "write to FILE (mode 0600; created only when the export completes) instead of stdout (-)")
	check := f.Bool("check", false, "only ask the transfer guard: print its decision (JSON), export nothing (exit 3 when it refuses)")
	rulesFile := addTransferRulesFlag(f)
	_, code, ok := parseArgs(f, args, func(pos []string) bool {
		bad := false
		if _, err := transfer.ParseSafeguard(*safeguard); err != nil {
			e.errorf("--safeguard: %v", err)
			bad = true
		}
		for _, r := range ageRecipients {
			if _, err := age.ParseX25519Recipient(r); err != nil {
				e.errorf("--age-recipient: not an age X25519 public key (age1…)")
				bad = true
			}
		}
		if *check && (*out != "" || len(ageRecipients) > 0) {
			e.errorf("--check exports nothing: it takes neither --out nor --age-recipient")
			bad = true
		}
		return bad || len(pos) > 0 || *sf.dir == "" || *customer == "" || strings.TrimSpace(*recipient) == "" ||
			strings.TrimSpace(*country) == ""
	})
	if !ok {
		return code
	}
	if *out == "-" {
		*out = ""
	}
	rules, _, err := e.transferRules(*rulesFile)
	if err != nil {
		return e.fail(err)
	}
	opts := store.ExportOptions{Recipient: *recipient, Country: *country, DPF: *dpf, Commercial: *commercial,
		Safeguard: *safeguard, AgeRecipients: ageRecipients}
	s, err := e.openStore(sf, &store.Options{TransferRules: rules})
	if err != nil {
		return e.exitFor(err)
	}
	defer s.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	if *check {
		d, err := s.CheckTransfer(ctx, *customer, opts)
		if err != nil {
			return e.fail(customerErr("export", err))
		}
		printJSON(e.stdout, d)
		if !d.Allowed {
			return e.refused(d)
		}
		e.infof("the transfer guard allows this export (ground %s): %s", d.Ground, d.Reason)
		return exitOK
	}

	// The progress line: only on a terminal, and only once the export has run for a while.
	// (The bar starts now, so that its rate counts from the start; it draws nothing until
	// its first Update.)
	bar := progress.New(e.stderrFile, "export", 0)
	drawn := false
	if bar != nil {
		start := time.Now()
		opts.Progress = func(contacts, bytes int64) {
			if !drawn && (contacts%256 != 0 || time.Since(start) < exportProgressAfter) {
				return
			}
			drawn = true
			bar.Update(bytes, contacts)
		}
	}

	var res store.ExportResult
	if *out == "" {
		w := bufio.NewWriterSize(e.stdout, 1<<16)
		res, err = s.Export(ctx, *customer, w, opts)
		if ferr := w.Flush(); err == nil && ferr != nil {
			err = fmt.Errorf("export: writing to stdout: %w", ferr)
		}
	} else {
		res, err = exportToFile(ctx, s, *customer, *out, opts)
	}
	if drawn {
		bar.Done()
	}
	var refusal *store.TransferRefusedError
	if errors.As(err, &refusal) {
		return e.refused(refusal.Decision)
	}
	if err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			err = errors.New("export: interrupted")
		}
		code := e.fail(customerErr("export", err))
		if res.Bytes == 0 {
			return code // it failed before the first line
		}
		if *out != "" {
			e.errorf("the export did not complete: %s was not written", *out)
		} else {
			e.errorf("the export did not complete: what reached stdout has no trailer, so it is recognisably incomplete")
		}
		return code
	}
	enc := ""
	if n := len(ageRecipients); n > 0 {
		enc = fmt.Sprintf("; age-encrypted to %d recipient(s)", n)
	}
	dest := "stdout"
	if *out != "" {
		dest = *out
	}
	e.infof("exported %d contacts (%d bytes, sha256 %s) to %s: transfer to %s on legal ground %q%s",
		res.Contacts, res.Bytes, res.SHA256, dest, res.Decision.Country, res.Decision.Ground, enc)
	return exitOK
}

// refused reports a refusal of the transfer guard: why, and what would make it lawful.
func (e *env) refused(d store.TransferDecision) int {
	e.errorf("export refused by the transfer guard: %s", d.Reason)
	if d.Remedy != "" {
		e.errorf("lawful with: %s", d.Remedy)
	} else if d.Objection != "" {
		e.errorf("lawful only if the customer withdraws the objection (withdraw-objection --scope %s)", d.Objection)
	}
	return exitRefused
}

// exportToFile writes the export to a temporary file beside path and renames it into place
// only when the export completed (trailer written, file synced). On any error, a refusal
// included, the temporary file is removed: no file, or the file as it was before.
func exportToFile(ctx context.Context, s *store.Store, customer, path string, o store.ExportOptions) (res store.ExportResult, err error) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	if fi, serr := os.Stat(path); serr == nil && fi.IsDir() {
		return res, fmt.Errorf("export: --out %s is a directory", path)
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*") // mode 0600
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return res, fmt.Errorf("export: --out %s: cannot create a file in %s: %w", path, dir, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<16)
	res, err = s.Export(ctx, customer, w, o)
	if err != nil {
		return res, err
	}
	if err := w.Flush(); err != nil {
		return res, fmt.Errorf("export: writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return res, fmt.Errorf("export: syncing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return res, fmt.Errorf("export: closing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		var le *os.LinkError
		if errors.As(err, &le) {
			err = le.Err
		}
		return res, fmt.Errorf("export: --out %s: %w", path, err)
	}
	done = true
	if d, err := os.Open(dir); err == nil { // make the rename durable
		_ = d.Sync()
		d.Close()
	}
	return res, nil
}

// ageHeader starts every age-encrypted file.
const ageHeader = "age-encryption.org/"

// verifyReport is what verify-export prints.
type verifyReport struct {
	Complete  bool          `json:"complete"`
	Encrypted bool          `json:"encrypted"`
	Contacts  int64         `json:"contacts"`
	Bytes     int64         `json:"bytes"`
	SHA256    string        `json:"sha256"`
	Header    export.Header `json:"header"`
}

func cmdVerifyExport(e *env, args []string) int {
	f := e.flags("verify-export", "[--age-identity FILE] FILE|-")
	idFile := f.String("age-identity", "", "decrypt with the age identities (AGE-SECRET-KEY-1…) in FILE")
	pos, code, ok := parseArgs(f, args, func(pos []string) bool { return len(pos) != 1 })
	if !ok {
		return code
	}
	var in io.Reader = e.stdin
	name := "stdin"
	if pos[0] != "-" {
		file, err := os.Open(pos[0])
		if err != nil {
			return e.fail(err)
		}
		defer file.Close()
		in, name = file, pos[0]
	}
	br := bufio.NewReaderSize(in, 64<<10)
	peek, _ := br.Peek(len(ageHeader))
	encrypted := bytes.Equal(peek, []byte(ageHeader))
	var r io.Reader = br
	switch {
	case encrypted && *idFile == "":
		return e.fail(fmt.Errorf("verify-export: %s is age-encrypted: give the recipient's identity file with --age-identity", name))
	case encrypted:
		data, err := readSmallFile(*idFile, 1<<20)
		if err != nil {
			return e.fail(fmt.Errorf("verify-export: --age-identity: %v", err))
		}
		ids, err := age.ParseIdentities(bytes.NewReader(data))
		if err != nil {
			return e.fail(fmt.Errorf("verify-export: --age-identity %s: %v", *idFile, err))
		}
		if r, err = age.Decrypt(br, ids...); err != nil {
			var nm *age.NoIdentityMatchError
			if errors.As(err, &nm) {
				return e.fail(fmt.Errorf("verify-export: %s: cannot decrypt: it is not encrypted to any identity in %s", name, *idFile))
			}
			return e.fail(fmt.Errorf("verify-export: %s: cannot decrypt: %v", name, err))
		}
	case *idFile != "":
		e.infof("%s is not age-encrypted; --age-identity is not needed", name)
	}
	sum, err := export.Verify(r, nil)
	if err != nil {
		return e.fail(fmt.Errorf("verify-export: %s is incomplete or corrupt (%d contacts read): %v", name, sum.Contacts, err))
	}
	printJSON(e.stdout, verifyReport{Complete: true, Encrypted: encrypted, Contacts: sum.Contacts, Bytes: sum.Bytes,
		SHA256: sum.Trailer.SHA256, Header: sum.Header})
	e.infof("%s is a complete export: %d contacts, sha256 %s (matches its trailer)", name, sum.Contacts, sum.Trailer.SHA256)
	return exitOK
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"contactstore/internal/progress"
	"contactstore/store"
)

func init() {
	register(command{name: "backup", summary: "write an online, encrypted backup with a term (--to FILE, or - for stdout)", run: cmdBackup})
	register(command{name: "restore", summary: "restore a backup into an empty dir or over its (closed) store, keeping later erasures", run: cmdRestore})
	register(command{name: "backups", summary: "list a store's backups with their terms (live or expired)", run: cmdBackups})
}

// barFunc returns a progress callback drawing a bar on a terminal (nil elsewhere).
func (e *env) barFunc(label string) (func(done, total int64), func()) {
	var bar *progress.Bar
	started := false
	return func(done, total int64) {
			if !started {
				started = true
				bar = progress.New(e.stderrFile, label, total)
			}
			bar.Update(done, 0)
		}, func() {
			bar.Done()
		}
}

func cmdBackup(e *env, args []string) int {
	f := e.flags("backup", "--dir DIR --to PATH|- [--term P30D]")
	sf := addStoreFlags(f)
	to := f.String("to", "", "the backup file to write, or - for standard output (required)")
	term := f.String("term", store.DefaultBackupTerm, "how long the backup may be restored (ISO 8601 duration); at its end the backup's key is destroyed")
	_, code, ok := parseArgs(f, args, func(pos []string) bool { return len(pos) > 0 || *sf.dir == "" || *to == "" })
	if !ok {
		return code
	}
	if *to == "-" {
		if out, ok := e.stdout.(*os.File); ok && progress.IsTerminal(out) {
			return e.exitFor(errUsage("refusing to write a backup to a terminal: redirect standard output or give --to FILE"))
		}
	}
	s, err := e.openStore(sf, nil)
	if err != nil {
		return e.exitFor(err)
	}
	defer s.Close()
	fn, done := e.barFunc("backup")
	o := &store.BackupOptions{Term: *term, Progress: fn}
	var info *store.BackupInfo
	if *to == "-" {
		info, err = s.Backup(context.Background(), e.stdout, o)
	} else {
		info, err = s.BackupFile(context.Background(), *to, o)
	}
	done()
	if err != nil {
		return e.exitFor(err)
	}
	out := e.stdout
	if *to == "-" {
		out = e.stderr // standard output carries the archive
	}
	printJSON(out, info)
	e.infof("backup %s: %s written (%d files); restorable until %s, when its key is destroyed",
		info.ID, progress.Bytes(uint64(info.Bytes)), info.Files, info.TermEnd.Format(time.RFC3339))
	e.infof("keep %s with the root key off-site (replace older copies) to restore it should the store be lost", store.KeyRingPath(*sf.dir))
	return exitOK
}

func cmdRestore(e *env, args []string) int {
	f := e.flags("restore", "--from PATH|- --dir DIR [--ledger FILE] [--keyring FILE] [--live DIR]")
	sf := addStoreFlags(f)
	from := f.String("from", "", "the backup file, or - for standard input (required)")
	ledgerFile := f.String("ledger", "", "an erasure ledger to replay (a copy of DIR/erasures); default the live store's")
	keyRing := f.String("keyring", "", "the key-ring file (DIR.backupkeys) holding the backup's key, when the live store is lost")
	live := f.String("live", "", "the live store directory (default --dir when it holds the store)")
	_, code, ok := parseArgs(f, args, func(pos []string) bool { return len(pos) > 0 || *sf.dir == "" || *from == "" })
	if !ok {
		return code
	}
	root, err := e.rootKey(sf)
	if err != nil {
		return e.exitFor(err)
	}
	var r io.Reader = e.stdin
	if *from != "-" {
		file, err := os.Open(*from)
		if err != nil {
			return e.fail(fmt.Errorf("opening the backup: %w", err))
		}
		defer file.Close()
		r = file
	}
	fn, done := e.barFunc("restore")
	res, err := store.Restore(context.Background(), r, *sf.dir, &store.RestoreOptions{
		RootKey: root, Live: *live, KeyRing: *keyRing, Ledger: *ledgerFile, Logger: e.logger(),
		Progress: func(n int64) { fn(n, 0) },
	})
	done()
	if err != nil {
		return e.exitFor(err)
	}
	printJSON(e.stdout, res)
	where := "into " + res.Dir
	if res.InPlace {
		where = "over the store in " + res.Dir + " (its data replaced)"
	}
	e.infof("backup %s of %s restored %s; key from the %s, ledger from the %s", res.Backup.ID,
		res.Backup.Created.Format(time.RFC3339), where, res.KeyFrom, res.LedgerFrom)
	e.infof("%d customer(s) erased since the backup kept erased; %d expiry day(s) since the backup dropped (%d contacts)",
		res.KeptErased, res.ExpiredBuckets, res.ExpiredContacts)
	return exitOK
}

func cmdBackups(e *env, args []string) int {
	f := e.flags("backups", "--dir DIR [--json]")
	sf := addStoreFlags(f)
	asJSON := f.Bool("json", false, "print JSON")
	_, code, ok := parseArgs(f, args, func(pos []string) bool { return len(pos) > 0 || *sf.dir == "" })
	if !ok {
		return code
	}
	s, err := e.openStore(sf, &store.Options{ExpiryInterval: -1})
	if err != nil {
		return e.exitFor(err)
	}
	defer s.Close()
	list := s.Backups()
	if *asJSON {
		if list == nil {
			list = []store.BackupInfo{}
		}
		printJSON(e.stdout, list)
		return exitOK
	}
	if len(list) == 0 {
		e.infof("no backups")
		return exitOK
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCREATED\tTERM ENDS\tSTATE")
	for _, b := range list {
		state := b.State
		if b.Destroyed != nil {
			state += " (key destroyed " + b.Destroyed.Format(time.RFC3339) + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", b.ID, b.Created.Format(time.RFC3339), b.TermEnd.Format(time.RFC3339), state)
	}
	if err := tw.Flush(); err != nil {
		return e.fail(errors.Join(errors.New("writing the list"), err))
	}
	return exitOK
}

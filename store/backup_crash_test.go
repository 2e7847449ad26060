package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Crash clones of backups and restores: a clone after every durable step (hookFS), with
// exactly what was synced, and every other one with a random part of what was not.

type backupClone struct {
	what string
	fs   vfs.FS
}

func cloneEveryStep(t *testing.T, mem *vfs.MemFS, seed uint64, match func(string) bool) (*hookFS, *[]backupClone) {
	var clones []backupClone
	r := newLockedRand(seed)
	h := &hookFS{FS: mem, match: match}
	h.after = func(op, path string) {
		pct := 0
		if len(clones)%2 == 1 {
			pct = 50
		}
		clones = append(clones, backupClone{what: fmt.Sprintf("after %s %s (#%d)", op, path, len(clones)),
			fs: mem.CrashClone(crashCfg(pct, uint64(r.IntN(1<<30))))})
	}
	return h, &clones
}

func TestBackupCrash(t *testing.T) {
	mem := vfs.NewCrashableMem()
	h, clones := cloneEveryStep(t, mem, crashSeed(t), nil)
	s, err := Open("db", testOptions(t, h))
	if err != nil {
		t.Fatal(err)
	}
	world := backupWorld(t, s, "cust", 10, 2)
	h.start()
	info, err := s.BackupFile(context.Background(), "db.backup", nil)
	h.stop()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	restored := 0
	for _, c := range *clones {
		cs := openClone(t, c.fs, c.what, nil)
		checkWorld(t, cs, c.what, world)
		names, _ := c.fs.List("db")
		for _, n := range names {
			if strings.HasPrefix(n, backupTempPrefix) {
				t.Errorf("%s: %s left after open", c.what, n)
			}
		}
		cs.Close()
		// A backup file that is there is whole and restores.
		if _, err := c.fs.Stat("db.backup"); err == nil {
			f, _ := c.fs.Open("db.backup")
			o := restoreOpts(t, c.fs, t0)
			o.Live = "db"
			_, err := Restore(context.Background(), f, "r", o)
			f.Close()
			if err != nil {
				t.Errorf("%s: the backup file does not restore: %v", c.what, err)
				continue
			}
			rs := reopen(t, c.fs, "r", t0)
			checkWorld(t, rs, c.what+" restored", world)
			rs.Close()
			restored++
		}
	}
	t.Logf("%d clones, %d with the backup file (%s) restored", len(*clones), restored, info.ID)
	if restored == 0 {
		t.Error("no clone held the backup file")
	}
}

func TestRestoreCrash(t *testing.T) {
	mem := vfs.NewCrashableMem()
	s, err := Open("db", testOptions(t, mem))
	if err != nil {
		t.Fatal(err)
	}
	world := backupWorld(t, s, "cust", 10, 2)
	var buf bytes.Buffer
	if _, err := s.Backup(context.Background(), &buf, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Erase(context.Background(), "cust-3", ""); err != nil {
		t.Fatal(err)
	}
	delete(world, "cust-3")
	late := backupWorld(t, s, "late", 3, 1)
	s.Close()

	h, clones := cloneEveryStep(t, mem, crashSeed(t), nil)
	h.start()
	res, err := Restore(context.Background(), bytes.NewReader(buf.Bytes()), "db", restoreOpts(t, h, t0))
	h.stop()
	if err != nil {
		t.Fatal(err)
	}
	if res.KeptErased != 1 {
		t.Errorf("result %+v", res)
	}
	*clones = append(*clones, backupClone{what: "after the restore", fs: mem.CrashClone(crashCfg(0, 0))})
	oldN, newN := 0, 0
	for _, c := range *clones {
		cs := openClone(t, c.fs, c.what, nil)
		checkWorld(t, cs, c.what, world)
		if _, err := collect(t, cs, "cust-3", TimeRange{}); !isGone(err) {
			t.Errorf("%s: the erased customer is back: %v", c.what, err)
		}
		n := 0
		for cu, want := range late {
			got, err := collect(t, cs, cu, TimeRange{})
			switch {
			case err == nil:
				sameContacts(t, c.what+": "+cu, got, want)
				n++
			case !errors.Is(err, ErrNotFound):
				t.Errorf("%s: %s: %v", c.what, cu, err)
			}
		}
		switch n {
		case len(late):
			oldN++
		case 0:
			newN++
			for _, side := range []string{restoreJournalSuffix, restoreTempSuffix, restoreOldSuffix} {
				if _, err := c.fs.Stat("db" + side); err == nil {
					t.Errorf("%s: db%s left after open", c.what, side)
				}
			}
		default:
			t.Errorf("%s: %d of %d later customers: a mix of old and restored", c.what, n, len(late))
		}
		checkUsable(t, cs, c.what)
		cs.Close()
	}
	t.Logf("%d clones: %d old store, %d restored", len(*clones), oldN, newN)
	if oldN == 0 || newN < 2 {
		t.Errorf("clones did not cover both sides (%d old, %d restored)", oldN, newN)
	}
}

package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/rogpeppe/go-internal/testscript"
)

// The CLI's end-to-end tests are testscript files in testdata/script: each runs the real
// contactstore binary (this test binary, re-executed) in a fresh work directory and checks
// its output, files and exit codes.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"contactstore": func() {
			e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
			os.Exit(run(e, os.Args[1:]))
		},
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// grepdir DIR TEXT: some file under DIR contains TEXT (use with ! for "none does").
			"grepdir": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: grepdir DIR TEXT")
				}
				found := ""
				err := filepath.WalkDir(ts.MkAbs(args[0]), func(p string, d fs.DirEntry, err error) error {
					if err != nil || d.IsDir() {
						return err
					}
					data, err := os.ReadFile(p)
					if err == nil && bytes.Contains(data, []byte(args[1])) {
						found = p
					}
					return err
				})
				ts.Check(err)
				if (found != "") != !neg {
					ts.Fatalf("grepdir %s %q: found in %q", args[0], args[1], found)
				}
			},
			// age-keygen FILE [VAR]: write a new age X25519 identity to FILE (as age-keygen
			// does), print its recipient (age1…) and, with VAR, set $VAR to it.
			"age-keygen": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 1 || len(args) > 2 {
					ts.Fatalf("usage: age-keygen FILE [VAR]")
				}
				id, err := age.GenerateX25519Identity()
				ts.Check(err)
				r := id.Recipient().String()
				ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte("# public key: "+r+"\n"+id.String()+"\n"), 0o600))
				fmt.Fprintln(ts.Stdout(), r)
				if len(args) == 2 {
					ts.Setenv(args[1], r)
				}
			},
			// perm FILE MODE: the file's permission bits are MODE (octal).
			"perm": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: perm FILE MODE")
				}
				fi, err := os.Stat(ts.MkAbs(args[0]))
				ts.Check(err)
				got := fmt.Sprintf("%o", fi.Mode().Perm())
				if (got == args[1]) == neg {
					ts.Fatalf("%s has mode %s", args[0], got)
				}
			},
		},
		Setup: func(env *testscript.Env) error {
			env.Setenv("CONTACTSTORE_KEY_FILE", "")
			// Under -race every exit of the binary would sleep a second for the detector.
			env.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
			return nil
		},
	})
}

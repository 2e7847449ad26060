// Command contactstore is the command-line interface of the contact store: it creates
// stores, ingests contacts, reads a customer's history, shows statistics and runs a narrated
// demo of the whole lifecycle. Run `contactstore help` for the commands.
//
// Exit status: 0 success, 1 failure, 2 usage error, 3 an export the transfer guard refused.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"contactstore/crypto"
	"contactstore/store"
)

const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
	// exitRefused: the transfer guard refused an export (export, export --check).
	exitRefused = 3
)

// env carries a command's streams, so that tests run commands in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	stderrFile     *os.File // for progress bars; nil when not a terminal-capable file
	getenv         func(string) string
}

type command struct {
	name    string
	summary string
	run     func(e *env, args []string) int
}

var commands = map[string]command{}

func register(c command) { commands[c.name] = c }

func main() {
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, stderrFile: os.Stderr, getenv: os.Getenv}
	os.Exit(run(e, os.Args[1:]))
}

func run(e *env, args []string) int {
	if len(args) == 0 {
		usage(e.stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		usage(e.stdout)
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		e.errorf("unknown command %q (see contactstore help)", args[0])
		return exitUsage
	}
	return c.run(e, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "contactstore: a GDPR-compliant, encrypted store for customer contacts")
	fmt.Fprintln(w, "\nUsage: contactstore COMMAND [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	for _, n := range names {
		fmt.Fprintf(w, "  %-*s  %s\n", width, n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun contactstore COMMAND --help for a command's flags.")
	fmt.Fprintln(w, "The root key is read from --key-file, else Argon2id of $CONTACTSTORE_PASSPHRASE if set,")
	fmt.Fprintln(w, "else $CONTACTSTORE_KEY_FILE, else DIR.key beside the store.")
}

// errorf prints one message with the command's single prefix.
func (e *env) errorf(format string, args ...any) {
	fmt.Fprintf(e.stderr, "contactstore: "+format+"\n", args...)
}

// infof prints a progress or summary message on stderr.
func (e *env) infof(format string, args ...any) {
	fmt.Fprintf(e.stderr, "contactstore: "+format+"\n", args...)
}

// fail reports err and returns the failure exit code.
func (e *env) fail(err error) int {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "contactstore: ")
	e.errorf("%s", msg)
	return exitFail
}

// flags returns a FlagSet for a command whose usage goes to the command's stderr.
func (e *env) flags(name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: contactstore %s %s\n\nFlags:\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags that may stand before or after positional arguments. It returns the
// positional arguments, or an exit code for -h or a usage error.
func parse(fs *flag.FlagSet, args []string) ([]string, int, bool) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK, false
			}
			return nil, exitUsage, false
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, 0, true
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// parseArgs parses like parse, then prints the usage and returns exitUsage when invalid
// says the positional arguments or flag values are not acceptable.
func parseArgs(fs *flag.FlagSet, args []string, invalid func(pos []string) bool) ([]string, int, bool) {
	pos, code, ok := parse(fs, args)
	if !ok {
		return nil, code, false
	}
	if invalid(pos) {
		fs.Usage()
		return nil, exitUsage, false
	}
	return pos, 0, true
}

// storeFlags are the flags every command that opens a store has.
type storeFlags struct {
	dir     *string
	keyFile *string
}

func addStoreFlags(fs *flag.FlagSet) storeFlags {
	return storeFlags{
		dir:     fs.String("dir", "", "the store directory (required)"),
		keyFile: fs.String("key-file", "", "the root key file (default $CONTACTSTORE_KEY_FILE, else DIR.key)"),
	}
}

// keyPath resolves the root key file: the flag, the environment, or DIR.key.
func (e *env) keyPath(sf storeFlags) string {
	if *sf.keyFile != "" {
		return *sf.keyFile
	}
	if p := e.getenv("CONTACTSTORE_KEY_FILE"); p != "" {
		return p
	}
	return filepath.Clean(*sf.dir) + ".key"
}

func (e *env) logger() *slog.Logger {
	lvl := e.getenv("CONTACTSTORE_LOG")
	if lvl == "" {
		return nil
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(lvl)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: l}))
}

// openStore opens the store named by the flags with its root key.
func (e *env) openStore(sf storeFlags, o *store.Options) (*store.Store, error) {
	if *sf.dir == "" {
		return nil, errUsage("--dir is required")
	}
	root, err := e.rootKey(sf)
	if err != nil {
		return nil, err
	}
	if o == nil {
		o = &store.Options{}
	}
	o.RootKey = root
	o.Logger = e.logger()
	return store.Open(*sf.dir, o)
}

// passphraseEnv names the environment variable that, when set and no --key-file is given,
// makes the root key Argon2id(passphrase) instead of a key file.
const passphraseEnv = "CONTACTSTORE_PASSPHRASE"

// usePassphrase reports whether the root key comes from the passphrase.
func (e *env) usePassphrase(sf storeFlags) bool {
	return *sf.keyFile == "" && e.getenv(passphraseEnv) != ""
}

// rootKey loads the root key: the passphrase from $CONTACTSTORE_PASSPHRASE, or the key file.
func (e *env) rootKey(sf storeFlags) (crypto.KeyWrapper, error) {
	if e.usePassphrase(sf) {
		return crypto.NewPassphraseKey([]byte(e.getenv(passphraseEnv)), crypto.DefaultArgon2Params)
	}
	kp := e.keyPath(sf)
	root, err := crypto.LoadKeyFile(kp)
	if err != nil {
		if crypto.IsNotExist(err) {
			return nil, fmt.Errorf("root key file %s not found (give --key-file, set %s, or run init)", kp, passphraseEnv)
		}
		return nil, err
	}
	return root, nil
}

type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func errUsage(msg string) error { return usageError{msg} }

// exitFor maps an error to a message and an exit code.
func (e *env) exitFor(err error) int {
	var u usageError
	if errors.As(err, &u) {
		e.errorf("%s", u.msg)
		return exitUsage
	}
	return e.fail(err)
}

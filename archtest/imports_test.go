package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const module = "contactstore"

// pkg is what `go list -json` says of one package.
type pkg struct {
	ImportPath   string
	Imports      []string
	Deps         []string
	TestImports  []string
	XTestImports []string
	Error        *struct{ Err string }
}

// moduleRoot walks up from the test's directory to the go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// listPackages runs `go list -e -json ./...` in the module root. -e keeps going past
// packages that do not build: their imports are still listed.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	if testing.Short() {
		t.Skip("runs go list")
	}
	gobin := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	cmd := exec.Command(gobin, "list", "-e", "-json", "./...")
	cmd.Dir = moduleRoot(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	return pkgs
}

// under reports whether path is dir or inside it (both module-relative, e.g. "internal").
func under(path, dir string) bool {
	full := module + "/" + dir
	return path == full || strings.HasPrefix(path, full+"/")
}

func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".") && first != module
}

func isPebble(path string) bool {
	return path == "github.com/cockroachdb/pebble/v2" || strings.HasPrefix(path, "github.com/cockroachdb/pebble/")
}

// pebbleUsers may import Pebble; every other package of the module must not, directly or
// through its dependencies. Extend it deliberately, with the reason, if DESIGN.md changes.
var pebbleUsers = []string{"store", "bench", "cmd"}

// internalMayImport lists deliberate exceptions to "internal/... never imports store, cmd
// or bench", each with its reason. Empty: DESIGN.md §7 allows none.
var internalMayImport = map[string]string{
	// "contactstore/internal/example -> contactstore/store": "why",
}

// violation: from imports (or, with indirect, depends on) to, against rule.
type violation struct {
	from, to, rule string
	indirect       bool
}

func (v violation) String() string {
	verb := "imports"
	if v.indirect {
		verb = "depends on"
	}
	return v.from + " " + verb + " " + v.to + ": " + v.rule + " (DESIGN.md §7)"
}

func check(pkgs []pkg) []violation {
	var out []violation
	seen := map[violation]bool{}
	add := func(from, to, rule string) {
		v := violation{from: from, to: to, rule: rule}
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	addDep := func(from, to, rule string) {
		v := violation{from: from, to: to, rule: rule, indirect: true}
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	for _, p := range pkgs {
		path := p.ImportPath
		direct := p.Imports
		withTests := append(append(append([]string{}, p.Imports...), p.TestImports...), p.XTestImports...)

		// crypto: the standard library, x/crypto and internal/wire, nothing else.
		if under(path, "crypto") {
			for _, imp := range direct {
				if !isStd(imp) && !strings.HasPrefix(imp, "golang.org/x/crypto/") && imp != module+"/internal/wire" {
					add(path, imp, "crypto may import only the standard library, golang.org/x/crypto and internal/wire")
				}
			}
		}
		// Nobody imports the CLI, not even tests.
		for _, imp := range withTests {
			if under(imp, "cmd") && !under(path, "cmd") {
				add(path, imp, "nothing imports cmd/...")
			}
		}
		// internal/... is below store, cmd and bench.
		if under(path, "internal") {
			for _, imp := range append(append([]string{}, p.Imports...), p.TestImports...) {
				if (under(imp, "store") || under(imp, "cmd") || under(imp, "bench")) && internalMayImport[path+" -> "+imp] == "" {
					add(path, imp, "internal/... never imports store, cmd or bench")
				}
			}
		}
		// store is below cmd and bench; index is below store.
		if under(path, "store") {
			for _, imp := range direct {
				if under(imp, "cmd") || under(imp, "bench") {
					add(path, imp, "store never imports cmd or bench")
				}
			}
		}
		if under(path, "index") {
			for _, imp := range direct {
				if under(imp, "store") || under(imp, "cmd") || under(imp, "bench") {
					add(path, imp, "index never imports store, cmd or bench")
				}
			}
		}
		// Only store, bench and cmd touch Pebble (their tests may too).
		mayUsePebble := false
		for _, u := range pebbleUsers {
			mayUsePebble = mayUsePebble || under(path, u)
		}
		if !mayUsePebble {
			rule := "only store, bench and cmd may depend on Pebble"
			direct := false
			for _, imp := range p.Imports {
				if isPebble(imp) {
					add(path, imp, rule)
					direct = true
				}
			}
			for _, dep := range p.Deps {
				if !direct && isPebble(dep) {
					addDep(path, dep, rule)
					break
				}
			}
		}
		// Neither crypto nor index depends on store, even indirectly.
		if under(path, "crypto") || under(path, "index") {
			for _, dep := range p.Deps {
				if under(dep, "store") {
					addDep(path, dep, "crypto and index never depend on store")
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].from != out[j].from {
			return out[i].from < out[j].from
		}
		return out[i].to < out[j].to
	})
	return out
}

func TestImportDirection(t *testing.T) {
	pkgs := listPackages(t)
	seen := map[string]bool{}
	for _, p := range pkgs {
		seen[p.ImportPath] = true
	}
	for _, must := range []string{"crypto", "store", "internal/wire", "internal/record", "internal/keys"} {
		if !seen[module+"/"+must] {
			t.Fatalf("go list did not report %s/%s: is the test run inside the module?", module, must)
		}
	}
	for _, v := range check(pkgs) {
		t.Error(v)
	}
}

// TestRulesCatchViolations feeds made-up packages to the checker: each rule must fire.
func TestRulesCatchViolations(t *testing.T) {
	m := func(p string) string { return module + "/" + p }
	bad := []pkg{
		{ImportPath: m("crypto"), Imports: []string{"fmt", "golang.org/x/crypto/hkdf", m("internal/wire"), m("internal/keys"), "github.com/klauspost/compress/s2"}},
		{ImportPath: m("store"), Imports: []string{m("bench")}, TestImports: []string{m("cmd/contactstore")}},
		{ImportPath: m("internal/record"), Imports: []string{m("store"), "github.com/cockroachdb/pebble/v2"}},
		{ImportPath: m("internal/wire"), Deps: []string{"github.com/cockroachdb/pebble/v2/vfs"}},
		{ImportPath: m("index"), Imports: []string{m("store")}, Deps: []string{m("store")}},
		{ImportPath: m("bench"), Imports: []string{"github.com/cockroachdb/pebble/v2", m("cmd/contactstore")}},
	}
	want := map[string]bool{
		m("crypto") + " -> " + m("internal/keys"):                       true,
		m("crypto") + " -> github.com/klauspost/compress/s2":            true,
		m("store") + " -> " + m("bench"):                                true,
		m("store") + " -> " + m("cmd/contactstore"):                     true,
		m("internal/record") + " -> " + m("store"):                      true,
		m("internal/record") + " -> github.com/cockroachdb/pebble/v2":   true,
		m("internal/wire") + " -> github.com/cockroachdb/pebble/v2/vfs": true,
		m("index") + " -> " + m("store"):                                true,
		m("bench") + " -> " + m("cmd/contactstore"):                     true,
	}
	got := map[string]bool{}
	for _, v := range check(bad) {
		got[v.from+" -> "+v.to] = true
	}
	for w := range want {
		if !got[w] {
			t.Errorf("not caught: %s", w)
		}
	}
	for g := range got {
		if !want[g] {
			t.Errorf("flagged wrongly: %s", g)
		}
	}
}

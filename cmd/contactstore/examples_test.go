package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"contactstore/store"
)

// runCLI runs one command in-process, as the binary would, and returns its exit code and
// output streams.
func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	code := run(e, args)
	return code, out.String(), errb.String()
}

// Every example policy in examples/policies parses and is accepted by policy --set, and
// policy --show then prints the same policy.
func TestExamplePolicies(t *testing.T) {
	files, err := filepath.Glob("../../examples/policies/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("found %d example policies in examples/policies, want the documented ones", len(files))
	}
	dir := filepath.Join(t.TempDir(), "db")
	if code, _, stderr := runCLI(t, "", "init", "--dir", dir); code != exitOK {
		t.Fatalf("init: exit %d: %s", code, stderr)
	}
	version := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want, err := store.ParsePolicy(data)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		code, stdout, stderr := runCLI(t, "", "policy", "--dir", dir, "--set", f)
		if code != exitOK {
			t.Errorf("policy --set %s: exit %d: %s", f, code, stderr)
			continue
		}
		version++
		if v := `"version": ` + strconv.Itoa(version); !strings.Contains(stdout, v) {
			t.Errorf("policy --set %s printed %q, want %s", f, stdout, v)
		}
		code, stdout, stderr = runCLI(t, "", "policy", "--dir", dir, "--show")
		if code != exitOK {
			t.Fatalf("policy --show: exit %d: %s", code, stderr)
		}
		got, err := store.ParsePolicy([]byte(stdout))
		if err != nil {
			t.Fatalf("policy --show after %s printed what does not parse: %v\n%s", f, err, stdout)
		}
		if policySummary(got) != policySummary(want) {
			t.Errorf("policy --show after %s: %s, want %s", f, policySummary(got), policySummary(want))
		}
	}
}

// The policies quoted in docs/retention.md parse, and every example file is linked there.
func TestRetentionDocPolicies(t *testing.T) {
	doc, err := os.ReadFile("../../docs/retention.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```json\n(.*?)```").FindAllSubmatch(doc, -1)
	quoted := map[string]bool{}
	for _, b := range blocks {
		if !bytes.Contains(b[1], []byte(`"default"`)) {
			continue // not a policy (an ExpireResult, say)
		}
		p, err := store.ParsePolicy(b[1])
		if err != nil {
			t.Errorf("docs/retention.md: a policy does not parse: %v\n%s", err, b[1])
			continue
		}
		quoted[policySummary(p)] = true
	}
	if len(quoted) < 4 {
		t.Errorf("docs/retention.md quotes %d policies, want at least 4", len(quoted))
	}
	// Each example file is linked, and what the doc quotes of it is what the file says.
	files, _ := filepath.Glob("../../examples/policies/*.json")
	for _, f := range files {
		name := filepath.Base(f)
		if !bytes.Contains(doc, []byte("examples/policies/"+name)) {
			t.Errorf("docs/retention.md does not link %s", name)
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := store.ParsePolicy(data)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if name != "minimal.json" && !quoted[policySummary(p)] {
			t.Errorf("docs/retention.md does not quote %s as it is (%s)", name, policySummary(p))
		}
	}
}

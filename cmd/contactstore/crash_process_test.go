package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"contactstore/crypto"
	"contactstore/store"
)

// Process-level crash tests: the real CLI, killed with SIGKILL at random moments during an
// erasure and an expiry. After each kill the store must open, pass Check, and show either
// the whole effect or none of it — and the whole effect whenever the CLI had reported it.

// cliBinary returns a path that runs this test binary as the contactstore command
// (testscript.Main in TestMain dispatches on the program's name).
func cliBinary(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "contactstore")
	if err := os.Symlink(exe, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// killAfter runs the CLI and kills it with SIGKILL after delay (if it has not finished).
// It returns stdout and whether the process finished by itself.
func killAfter(t *testing.T, bin string, delay time.Duration, args ...string) (stdout []byte, finished bool) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, errb.String())
		}
		return out.Bytes(), true
	case <-time.After(delay):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return out.Bytes(), false
	}
}

// calibrate runs the command once on a fresh store to the end and returns how long it took,
// so that the kills fall anywhere in its run (process start and Open included).
func calibrate(t *testing.T, bin string, setup func(dir string), args func(dir string) []string) time.Duration {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "db")
	setup(dir)
	t0 := time.Now()
	if _, finished := killAfter(t, bin, 5*time.Minute, args(dir)...); !finished {
		t.Fatal("calibration run did not finish")
	}
	return time.Since(t0)
}

func crashStore(t *testing.T, dir string, contacts []store.Contact, policy string) {
	t.Helper()
	root, err := crypto.CreateKeyFile(dir + ".key")
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(dir, &store.Options{RootKey: root, CreateIfMissing: true, ExpiryInterval: -1, Shards: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if policy != "" {
		p, err := store.ParsePolicy([]byte(policy))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetPolicy(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Put(ctx, contacts); err != nil {
		t.Fatal(err)
	}
}

func openCrashed(t *testing.T, dir string) *store.Store {
	t.Helper()
	root, err := crypto.LoadKeyFile(dir + ".key")
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(dir, &store.Options{RootKey: root, ExpiryInterval: -1})
	if err != nil {
		t.Fatalf("open after SIGKILL: %v", err)
	}
	return s
}

func countContacts(t *testing.T, s *store.Store, customer string) (int, error) {
	t.Helper()
	n := 0
	for _, err := range s.Contacts(context.Background(), customer, store.TimeRange{}) {
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func crashRounds(t *testing.T) int {
	if testing.Short() || runtime.GOOS != "linux" {
		return 3
	}
	return 12
}

func TestSIGKILLDuringErasure(t *testing.T) {
	bin := cliBinary(t)
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	var cs []store.Contact
	for i := range 300 {
		for _, c := range []string{"weg", "blijft"} {
			cs = append(cs, store.Contact{ID: strconv.Itoa(i), Customer: c, Channel: "email",
				Time: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour), Body: "tekst " + c})
		}
	}
	args := func(dir string) []string {
		return []string{"erase", "--dir", dir, "--customer", "weg", "--reason", "verzoek"}
	}
	full := calibrate(t, bin, func(dir string) { crashStore(t, dir, cs, "") }, args)
	for round := range crashRounds(t) {
		dir := filepath.Join(t.TempDir(), "db")
		crashStore(t, dir, cs, "")
		delay := time.Duration(r.Int64N(int64(full) * 11 / 10))
		out, finished := killAfter(t, bin, delay, args(dir)...)
		reported := bytes.Contains(out, []byte(`"signature"`))
		s := openCrashed(t, dir)
		n, err := countContacts(t, s, "weg")
		switch {
		case errors.Is(err, store.ErrErased):
		case err == nil && n == 300:
			if reported {
				t.Errorf("round %d (killed after %v): the CLI printed a receipt, yet the customer is whole", round, delay)
			}
		default:
			t.Errorf("round %d (killed after %v): half an erasure: %d contacts, %v", round, delay, n, err)
		}
		if reported {
			var rc crypto.Receipt
			if err := json.Unmarshal(out, &rc); err != nil {
				t.Errorf("round %d: the printed receipt does not parse: %v", round, err)
			} else if err := s.VerifyErasure(context.Background(), &rc); err != nil {
				t.Errorf("round %d: the printed receipt does not verify after the kill: %v", round, err)
			}
		}
		if n, err := countContacts(t, s, "blijft"); err != nil || n != 300 {
			t.Errorf("round %d: the other customer: %d, %v", round, n, err)
		}
		checkStore(t, s, fmt.Sprintf("round %d", round))
		t.Logf("round %d: killed after %v, finished by itself %v, receipt printed %v, erased %v", round, delay, finished, reported, errors.Is(err, store.ErrErased))
		s.Close()
	}
}

func TestSIGKILLDuringExpiry(t *testing.T) {
	bin := cliBinary(t)
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	t0 := time.Date(2090, 1, 10, 9, 0, 0, 0, time.UTC) // no term has ended by the real clock
	var cs []store.Contact
	for i := range 400 {
		cs = append(cs, store.Contact{ID: "k" + strconv.Itoa(i), Customer: "kort-" + strconv.Itoa(i%40), Channel: "chat",
			Category: "chat", Time: t0.Add(time.Duration(i) * time.Minute), Body: "chat"})
		cs = append(cs, store.Contact{ID: "l" + strconv.Itoa(i), Customer: "lang-" + strconv.Itoa(i%40), Channel: "email",
			Time: t0.Add(time.Duration(i) * time.Minute), Body: "mail"})
	}
	const policy = `{"default":"P2Y","rules":[{"category":"chat","retention":"P30D"}]}`
	args := func(dir string) []string { return []string{"expire", "--dir", dir, "--now", "2090-03-01"} }
	full := calibrate(t, bin, func(dir string) { crashStore(t, dir, cs, policy) }, args)
	for round := range crashRounds(t) {
		dir := filepath.Join(t.TempDir(), "db")
		crashStore(t, dir, cs, policy)
		delay := time.Duration(r.Int64N(int64(full) * 11 / 10))
		_, finished := killAfter(t, bin, delay, args(dir)...)
		s := openCrashed(t, dir)
		for c := range 40 {
			if n, err := countContacts(t, s, "lang-"+strconv.Itoa(c)); err != nil || n != 10 {
				t.Errorf("round %d: lang-%d: %d contacts, %v", round, c, n, err)
			}
		}
		// Finish what the kill interrupted (Open may have done it already), then nothing of
		// the short-lived customers is left.
		if _, err := s.Expire(context.Background(), time.Date(2090, 3, 1, 0, 0, 0, 0, time.UTC)); err != nil {
			t.Errorf("round %d: expire after the kill: %v", round, err)
		}
		for c := range 40 {
			if n, err := countContacts(t, s, "kort-"+strconv.Itoa(c)); err == nil || n != 0 {
				t.Errorf("round %d: kort-%d: %d contacts after expiry, %v", round, c, n, err)
			}
		}
		checkStore(t, s, fmt.Sprintf("round %d", round))
		t.Logf("round %d: killed after %v, finished by itself %v", round, delay, finished)
		s.Close()
	}
}

// checkStore runs the full consistency check and fails the test on any error it reports.
func checkStore(t *testing.T, s *store.Store, what string) {
	t.Helper()
	rep, err := s.Check(context.Background(), &store.CheckOptions{Records: true})
	if err != nil {
		t.Errorf("%s: check: %v", what, err)
		return
	}
	if !rep.OK() {
		t.Errorf("%s: check found problems: %+v", what, rep.Problems)
	}
}

// TestSIGKILLDuringIngest kills `contactstore ingest` midway. Every contact the CLI had
// reported as committed (its debug log's "committed" count) must be there, every contact
// there must be whole and equal to its input line, and Check must pass.
func TestSIGKILLDuringIngest(t *testing.T) {
	bin := cliBinary(t)
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	const n = 6000
	in := filepath.Join(t.TempDir(), "contacts.jsonl")
	var buf bytes.Buffer
	want := map[string]store.Contact{}
	for i := range n {
		c := store.Contact{ID: "i" + strconv.Itoa(i), Customer: "klant-" + strconv.Itoa(i%97), Channel: "email",
			Time:    time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute),
			Subject: "onderwerp " + strconv.Itoa(i), Body: strings.Repeat("tekst ", 40+i%50)}
		want[c.ID] = c
		b, _ := json.Marshal(c)
		buf.Write(append(b, '\n'))
	}
	if err := os.WriteFile(in, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	setup := func(dir string) { crashStore(t, dir, nil, "") }
	args := func(dir string) []string { return []string{"ingest", "--dir", dir, "--batch", "250", in} }
	full := calibrate(t, bin, setup, args)
	for round := range crashRounds(t) {
		dir := filepath.Join(t.TempDir(), "db")
		setup(dir)
		delay := time.Duration(r.Int64N(int64(full) * 11 / 10))
		cmd := exec.Command(bin, args(dir)...)
		cmd.Env = append(os.Environ(), "CONTACTSTORE_LOG=debug")
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		finished := false
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("ingest: %v\n%s", err, errb.String())
			}
			finished = true
		case <-time.After(delay):
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
		}
		reported := 0
		for _, line := range strings.Split(errb.String(), "\n") {
			if i := strings.Index(line, " committed="); i >= 0 && strings.Contains(line, "ingest progress") {
				f := strings.Fields(line[i+len(" committed="):])
				if v, err := strconv.Atoi(f[0]); err == nil && v > reported {
					reported = v
				}
			}
		}
		if finished {
			reported = n
		}
		s := openCrashed(t, dir)
		got := 0
		for c := range 97 {
			for ct, err := range s.Contacts(context.Background(), "klant-"+strconv.Itoa(c), store.TimeRange{}) {
				if errors.Is(err, store.ErrNotFound) {
					break
				}
				if err != nil {
					t.Fatalf("round %d: read after the kill: %v", round, err)
				}
				w, ok := want[ct.ID]
				if !ok || ct.Body != w.Body || ct.Subject != w.Subject || !ct.Time.Equal(w.Time) || ct.Customer != w.Customer {
					t.Errorf("round %d: contact %s is not what was ingested", round, ct.ID)
				}
				got++
			}
		}
		if got < reported {
			t.Errorf("round %d (killed after %v): %d contacts reported committed, %d there", round, delay, reported, got)
		}
		checkStore(t, s, fmt.Sprintf("round %d", round))
		t.Logf("round %d: killed after %v, finished %v, reported committed %d, present %d", round, delay, finished, reported, got)
		s.Close()
	}
}

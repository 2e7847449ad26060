package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"contactstore/bench/workload"
	"contactstore/crypto"
	"contactstore/index"
	"contactstore/internal/export"
	"contactstore/store"

	"filippo.io/age"
)

func init() {
	register(command{name: "demo", summary: "run the whole lifecycle on generated contacts, narrated", run: cmdDemo})
}

func cmdDemo(e *env, args []string) int {
	f := e.flags("demo", "[--dir DIR] [--n N] [--seed S]")
	dir := f.String("dir", "", "where to create the demo store (default: a temporary directory, removed afterwards)")
	n := f.Int("n", 50000, "how many contacts to generate")
	customers := f.Int("customers", 2000, "how many customers")
	seed := f.Int64("seed", 1, "workload seed")
	_, code, ok := parseArgs(f, args, func(pos []string) bool { return len(pos) > 0 || *n < 1 || *customers < 1 })
	if !ok {
		return code
	}
	d := &demo{e: e, out: e.stdout}
	if err := d.run(*dir, *n, *customers, *seed); err != nil {
		return e.fail(err)
	}
	return exitOK
}

type demo struct {
	e    *env
	out  io.Writer
	step int
}

func (d *demo) say(format string, args ...any) { fmt.Fprintf(d.out, "   "+format+"\n", args...) }

func (d *demo) section(title string) {
	d.step++
	fmt.Fprintf(d.out, "\n%d. %s\n", d.step, title)
}

func (d *demo) run(dir string, n, customers int, seed int64) error {
	ctx := context.Background()
	if dir == "" {
		tmp, err := os.MkdirTemp("", "contactstore-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = filepath.Join(tmp, "store")
	} else if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("demo: %s exists; give a new directory", dir)
	}
	keyFile := filepath.Clean(dir) + ".key"
	if dir != "" {
		defer func() {
			if _, err := os.Stat(filepath.Dir(keyFile)); err == nil && strings.Contains(keyFile, "contactstore-demo-") {
				os.Remove(keyFile)
			}
		}()
	}

	fmt.Fprintln(d.out, "contactstore demo: a helpdesk's contacts, encrypted per customer, on an embedded Pebble store")

	d.section("Create a store and its root key")
	root, err := crypto.CreateKeyFile(keyFile)
	if err != nil {
		return err
	}
	s, err := store.Open(dir, &store.Options{RootKey: root, CreateIfMissing: true, ErrorIfExists: true, PhoneRegion: "NL"})
	if err != nil {
		return err
	}
	defer func() {
		if s != nil {
			s.Close()
		}
	}()
	d.say("store %s in %s", s.StoreID(), dir)
	d.say("root key in %s (mode 0600), outside the store directory: without it nothing in the store can be read", keyFile)
	d.say("key vault: %s/keyvault holds 4096 shard keys and the service keys, sealed under the root key", dir)

	d.section(fmt.Sprintf("Ingest %d generated contacts of %d customers (Dutch and English e-mails, chats, calls, letters)", n, customers))
	gen := workload.New(workload.Config{Seed: seed, Customers: customers, Count: n, WithIDs: true})
	contacts := gen.Batch(n)
	var inBytes int64
	for i := range contacts {
		inBytes += int64(len(contacts[i].Body) + len(contacts[i].Subject))
	}
	start := time.Now()
	added, _, err := putAll(ctx, s, contacts, 1000)
	if err != nil {
		return err
	}
	el := time.Since(start)
	d.say("stored %d contacts in %s: %.0f contacts/s, each batch of 1,000 fsynced before it was acknowledged",
		added, el.Round(time.Millisecond), float64(added)/el.Seconds())
	d.say("every record: compressed (S2), sealed with AES-256-GCM under a key of its customer and expiry bucket")

	d.section("Re-ingest the first 1,000 contacts: their ids make it idempotent")
	res, err := s.Put(ctx, contacts[:1000])
	if err != nil {
		return err
	}
	st, err := s.Stats(ctx)
	if err != nil {
		return err
	}
	d.say("%d replaced, %d added; the store still holds %d contacts of %d customers", res.Replaced, res.Added, st.Contacts, st.Customers)

	// The busiest customer of the workload is the one with rank 0 in the skewed draw; find
	// the one with the most contacts in the generated set.
	counts := map[string]int{}
	busiest := ""
	for _, c := range contacts {
		counts[c.Customer]++
		if counts[c.Customer] > counts[busiest] {
			busiest = c.Customer
		}
	}
	idx := gen.CustomerIndex(busiest)
	_, name, email, phone := gen.Customer(idx)

	d.section(fmt.Sprintf("Read one customer's history in time order: %s (%d contacts)", busiest, counts[busiest]))
	shown := 0
	var sample store.Contact
	for c, err := range s.Contacts(ctx, busiest, store.TimeRange{}) {
		if err != nil {
			return err
		}
		if shown < 4 {
			subj := c.Subject
			if subj == "" {
				subj = firstLine(c.Body)
			}
			d.say("%s  %-6s %-8s %s", c.Time.Format("2006-01-02 15:04"), c.Channel, c.Direction, clip(subj, 60))
		}
		if shown == 0 {
			sample = c
		}
		shown++
	}
	d.say("… %d contacts decrypted with the customer's own key", shown)

	d.section("A call comes in: find the customer behind the number, without the number in the clear")
	written := strings.NewReplacer(" ", "", "-", "").Replace(phone)
	found, err := s.Find(ctx, index.Phone(written))
	if err != nil {
		return err
	}
	d.say("find --phone %s → %s (the number in another writing, normalised to E.164 for region NL)", written, strings.Join(found, ", "))
	byMail, err := s.Find(ctx, index.Email(email))
	if err != nil {
		return err
	}
	d.say("find --email %s → %s", email, strings.Join(byMail, ", "))
	d.say("the index keeps only HMAC tokens of the normalised values, pointing to pseudonyms; the ids shown come from each customer's sealed key")

	d.section("Service ratings, counted at ingest without decrypting anything")
	rows := st.Ratings
	if len(rows) > 6 {
		rows = rows[len(rows)-6:]
	}
	for _, r := range rows {
		if r.Rated > 0 {
			d.say("%s %-7s %5d contacts, %4d rated, average %.1f / 10", r.Month, r.Channel, r.Contacts, r.Rated, r.Average)
		}
	}

	exported, err := d.transfers(ctx, s, busiest)
	if err != nil {
		return err
	}

	d.section(fmt.Sprintf("The customer asks to be forgotten: erase %s", busiest))
	t0 := time.Now()
	rc, err := s.Erase(ctx, busiest, "Art. 17 request (demo)")
	if err != nil {
		return err
	}
	d.say("erased in %s: %d records made unreadable by destroying the data key (shard %d, key generation %d → %d)",
		time.Since(t0).Round(time.Microsecond), rc.Destroyed.Records, rc.Destroyed.Shard, rc.Destroyed.ShardGenFrom, rc.Destroyed.ShardGenTo)
	d.say("receipt for pseudonym %s, vault generation %d → %d, ledger entry %d, signed with key %s", rc.Customer, rc.VaultBefore, rc.VaultAfter, rc.LedgerSeq, rc.KeyID)
	pub, err := crypto.ParsePublicKey(crypto.MarshalPublicKey(s.PublicKey()))
	if err != nil {
		return err
	}
	if err := rc.Verify(pub); err != nil {
		return err
	}
	d.say("receipt verified offline with the store's public key; online check: %v", errOK(s.VerifyErasure(ctx, rc)))
	for _, err := range s.Contacts(ctx, busiest, store.TimeRange{}) {
		d.say("reading the customer now: %s", strings.TrimPrefix(fmt.Sprint(err), "contactstore: "))
		break
	}
	if found, err := s.Find(ctx, index.Phone(written)); err == nil {
		d.say("find --phone %s now: %d customers (the index entries went with the erasure)", written, len(found))
	}
	if rep, err := s.VerifyAudit(ctx); err == nil {
		d.say("audit log: %d entries, hash chain intact (pseudonyms only)", rep.Entries)
	} else {
		return err
	}

	rt, err := d.retention(ctx, s, n, customers, seed, busiest)
	if err != nil {
		return err
	}

	d.section("Proof: no personal data in any file of the store")
	// Close first: a closed store's files hold everything (WAL and tables) and stay put.
	if err := s.Close(); err != nil {
		return err
	}
	s = nil
	needles := []string{busiest, name, email, phone, sample.Subject, "Art. 17"}
	needles = append(needles, rt.needles...)
	needles = append(needles, exported...)
	if sentence := firstLine(sample.Body); len(sentence) > 12 {
		needles = append(needles, sentence)
	}
	files, total, hits, err := scanDir(dir, needles)
	if err != nil {
		return err
	}
	d.say("searched %d files (%s, WAL and tables included) for %d values: the erased customers' ids, names, e-mail, phone, text, the hold's reason, and the names of the export recipients",
		files, bytesStr(uint64(total)), len(needles))
	d.say("(the erased customer's records are gone from the live files too, once the background clean-up has run;")
	d.say(" copies made before the erasure hold them only under a data key that no longer exists)")
	if hits != 0 {
		return fmt.Errorf("demo: found %d plaintext values on disk", hits)
	}
	d.say("found: 0")

	d.section("A wrong root key is refused, and changes nothing")
	other := crypto.NewRootKey(crypto.MustNewKey(), "another key")
	_, err = store.Open(dir, &store.Options{RootKey: other})
	if !errors.Is(err, store.ErrWrongKey) {
		return fmt.Errorf("demo: a wrong key was not refused: %v", err)
	}
	d.say("refused: %s", strings.TrimPrefix(err.Error(), "contactstore: "))

	s, err = store.Open(dir, &store.Options{RootKey: root})
	if err != nil {
		return err
	}
	d.section("Reopen with the right key")
	st, err = s.Stats(ctx)
	if err != nil {
		return err
	}
	d.say("%d contacts of %d customers, %s on disk", st.Contacts, st.Customers, bytesStr(st.Disk.Total))

	if s, err = d.backupRestore(ctx, s, dir, root, counts, needles); err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintln(d.out, "\nDone.")
	return nil
}

// backupRestore shows a backup with a term, an erasure after it, and a restore over the
// store that keeps the customer erased. It closes s and returns the reopened store.
func (d *demo) backupRestore(ctx context.Context, s *store.Store, dir string, root crypto.KeyWrapper, counts map[string]int, needles []string) (*store.Store, error) {
	// A customer who still has contacts.
	var who string
	ids := make([]string, 0, len(counts))
	for c := range counts {
		ids = append(ids, c)
	}
	sort.Strings(ids)
	for _, c := range ids {
		n := 0
		for _, err := range s.Contacts(ctx, c, store.TimeRange{}) {
			if err == nil {
				n++
			}
		}
		if n > 0 {
			who = c
			break
		}
	}
	if who == "" {
		return s, nil
	}
	d.section("Backups with a term: back up, erase a customer, restore — the erasure holds")
	bdir := filepath.Clean(dir) + ".backups"
	if err := os.MkdirAll(bdir, 0o700); err != nil {
		return s, err
	}
	file := filepath.Join(bdir, "demo.csb")
	info, err := s.BackupFile(ctx, file, &store.BackupOptions{Term: "P30D"})
	if err != nil {
		return s, err
	}
	d.say("backup %s: %s in %d files, its own key in the vault and in %s; restorable until %s",
		info.ID, bytesStr(uint64(info.Bytes)), info.Files, filepath.Base(store.KeyRingPath(dir)), info.TermEnd.Format(time.DateOnly))
	_, _, hits, err := scanDir(bdir, append(needles, who))
	if err != nil {
		return s, err
	}
	d.say("plaintext values found in the backup file: %d", hits)
	if _, err := s.Erase(ctx, who, "Art. 17 request (demo, after the backup)"); err != nil {
		return s, err
	}
	d.say("%s erased after the backup was taken", who)
	if err := s.Close(); err != nil {
		return nil, err
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	res, err := store.Restore(ctx, f, dir, &store.RestoreOptions{RootKey: root})
	f.Close()
	if err != nil {
		return nil, err
	}
	d.say("restored over the store: the erasure ledger replayed first, %d customer(s) kept erased", res.KeptErased)
	if s, err = store.Open(dir, &store.Options{RootKey: root}); err != nil {
		return nil, err
	}
	for _, err := range s.Contacts(ctx, who, store.TimeRange{}) {
		d.say("reading %s after the restore: %s", who, strings.TrimPrefix(fmt.Sprint(err), "contactstore: "))
		break
	}
	f, err = os.Open(file)
	if err != nil {
		return s, err
	}
	later := fixedClock(info.TermEnd.Add(time.Hour))
	_, err = store.Restore(ctx, f, filepath.Join(filepath.Dir(dir), "too-late"), &store.RestoreOptions{RootKey: root, Live: dir, Clock: later})
	f.Close()
	if !errors.Is(err, store.ErrBackupExpired) {
		return s, fmt.Errorf("demo: a backup past its term was not refused: %v", err)
	}
	d.say("the same backup a day after its term: %s", strings.TrimPrefix(err.Error(), "contactstore: "))
	d.say("(the expirer destroys its key then: every copy of the backup becomes noise, wherever it went)")
	return s, nil
}

// fixedClock is a store.Clock stopped at one instant.
type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// putAll stores contacts in batches, two batches in flight. It returns how many were stored
// and how many were not because the retention policy puts them past their term already.
func putAll(ctx context.Context, s *store.Store, cs []store.Contact, batch int) (stored, expired int, err error) {
	type res struct {
		n, expired int
		err        error
	}
	sem := make(chan struct{}, 2)
	results := make(chan res, len(cs)/batch+1)
	jobs := 0
	for lo := 0; lo < len(cs); lo += batch {
		hi := min(lo+batch, len(cs))
		sem <- struct{}{}
		jobs++
		go func(b []store.Contact) {
			defer func() { <-sem }()
			r, err := s.Put(ctx, b)
			results <- res{r.Added + r.Replaced, r.Expired, err}
		}(cs[lo:hi])
	}
	for range jobs {
		r := <-results
		stored += r.n
		expired += r.expired
		if r.err != nil && err == nil {
			err = r.err
		}
	}
	return stored, expired, err
}

// scanDir reads every file under dir and counts occurrences of the needles.
func scanDir(dir string, needles []string) (files int, bytesRead int64, hits int, err error) {
	err = filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		bytesRead += int64(len(data))
		for _, n := range needles {
			if n != "" {
				hits += bytes.Count(data, []byte(n))
			}
		}
		return nil
	})
	return
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func errOK(err error) string {
	if err == nil {
		return "valid"
	}
	return err.Error()
}

// demoPolicy is the retention policy the demo sets: chats 30 days, orders 7 years (the
// Dutch fiscal retention duty), everything else 2 years.
const demoPolicy = `{"default":"P2Y","rules":[{"category":"chat","retention":"P30D"},{"category":"order","retention":"P7Y"}]}`

// demoRetention is what the retention steps leave for the scan of the files.
type demoRetention struct {
	needles []string // the held-then-erased customer's values and the hold's reason
}

// retention shows a policy, an expiry and a legal hold: the policy applies to the contacts
// already stored, recent contacts are scheduled by their term, a held customer's erasure is
// deferred, expiry as of 45 days from now removes what is due but keeps the held customer's
// contacts, and releasing the hold carries out the erasure.
func (d *demo) retention(ctx context.Context, s *store.Store, n, customers int, seed int64, erased string) (demoRetention, error) {
	var rt demoRetention
	d.section("Set a retention policy: chats 30 days, orders 7 years, everything else 2 years")
	p, err := store.ParsePolicy([]byte(demoPolicy))
	if err != nil {
		return rt, err
	}
	t0 := time.Now()
	ch, err := s.SetPolicy(ctx, p)
	if err != nil {
		return rt, err
	}
	d.say("%s", demoPolicy)
	d.say("policy version %d applied to the %d contacts already stored in %s: %d filed under the day their term ends, %d already past it deleted at once",
		ch.Version, ch.Scanned, time.Since(t0).Round(time.Millisecond), ch.Moved, ch.Expired)
	d.say("a term runs from the contact's time (UTC calendar); the most specific rule wins: category and channel, category, channel, default")

	now := time.Now().UTC().Truncate(time.Second)
	const recentDays = 60
	m := max(200, min(n/10, 5000))
	d.section(fmt.Sprintf("Ingest %d contacts of the last %d days under the policy", m, recentDays))
	gen := workload.New(workload.Config{Seed: seed + 1, Customers: max(customers/10, 20), Count: m,
		Start: now.Add(-recentDays * day), Span: recentDays * day})
	recent := make([]store.Contact, 0, m)
	for _, c := range gen.Batch(m) {
		if c.Customer != erased { // that customer was erased above; keep them out of this part
			recent = append(recent, c)
		}
	}
	stored, expired, err := putAll(ctx, s, recent, 1000)
	if err != nil {
		return rt, err
	}
	d.say("stored %d; %d not stored at all: chats older than 30 days, already past their term", stored, expired)

	st, err := s.Stats(ctx)
	if err != nil {
		return rt, err
	}
	rs := st.Retention
	var scheduled int64
	for _, e := range rs.Schedule {
		scheduled += e.Contacts
	}
	d.say("the expiry schedule: %d contacts on %d days (each day's contacts share one bucket key); by month, the first months:", scheduled, len(rs.Schedule))
	lines := scheduleLines(rs.Schedule)
	for i, l := range lines {
		if i == 4 {
			d.say("  … %d more lines (contactstore stats shows them all)", len(lines)-i)
			break
		}
		d.say("  %s", strings.ReplaceAll(strings.TrimSuffix(l, "\t"), "\t", "  "))
	}

	// The customer under a hold, and a witness without one: the two with the most chats that
	// expire within the next 30 days.
	horizon := now.Add(30 * day)
	chats := map[string]int{}
	for _, c := range recent {
		if c.Category == "chat" && c.Time.AddDate(0, 0, 30).After(now) && c.Time.AddDate(0, 0, 30).Before(horizon) {
			chats[c.Customer]++
		}
	}
	held, witness := "", ""
	for cu, k := range chats {
		switch {
		case held == "" || k > chats[held] || (k == chats[held] && cu < held):
			held, witness = cu, held
		case witness == "" || k > chats[witness] || (k == chats[witness] && cu < witness):
			witness = cu
		}
	}
	if held == "" || witness == "" {
		return rt, errors.New("demo: the recent contacts hold too few chats; use a larger --n")
	}
	count := func(cu string) (int, error) {
		k := 0
		for _, err := range s.Contacts(ctx, cu, store.TimeRange{}) {
			if err != nil {
				return k, err
			}
			k++
		}
		return k, nil
	}

	const reason = "matter 2026-0417 (demo)"
	d.section(fmt.Sprintf("A legal hold: %s is party to a dispute", held))
	if err := s.Hold(ctx, held, reason); err != nil {
		return rt, err
	}
	heldBefore, err := count(held)
	if err != nil {
		return rt, err
	}
	d.say("hold placed: the customer's %d contacts (%d chats due within 30 days) neither expire nor can be erased until it is released",
		heldBefore, chats[held])
	d.say("the reason is sealed under the customer's key; the audit log keeps only its SHA-256")

	d.section(fmt.Sprintf("%s asks to be forgotten while the hold is in force", held))
	_, err = s.Erase(ctx, held, "Art. 17 request (demo, during a hold)")
	var he *store.HeldError
	if !errors.As(err, &he) {
		return rt, fmt.Errorf("demo: an erasure during a hold was not deferred: %v", err)
	}
	d.say("deferred: %s", strings.TrimPrefix(err.Error(), "contactstore: "))
	if hs, err := s.HoldStatus(held); err == nil {
		d.say("the hold records the request (at %s); release carries it out", hs.ErasureRequested.UTC().Format(time.RFC3339))
	}

	later := now.Add(45 * day)
	d.section(fmt.Sprintf("Expiry as of 45 days from now (%s), as the background expirer would run it then", later.Format(time.DateOnly)))
	witnessBefore, err := count(witness)
	if err != nil {
		return rt, err
	}
	t0 = time.Now()
	res, err := s.Expire(ctx, later)
	if err != nil {
		return rt, err
	}
	d.say("%d days' bucket keys destroyed in one vault write (days through %s), in %s: every record in them is noise, in every copy of the files",
		res.Buckets, res.Through, time.Since(t0).Round(time.Millisecond))
	d.say("%d contacts removed from the live files (range deletions per day), %d customers with nothing left removed entirely", res.Contacts, res.Customers)
	d.say("%d contacts of the held customer resealed into the hold bucket before their day's key went", res.Held)
	witnessAfter, err := count(witness)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return rt, err
	}
	heldAfter, err := count(held)
	if err != nil {
		return rt, err
	}
	d.say("%s (no hold): %d contacts before, %d after — those whose term had ended by then are gone", witness, witnessBefore, witnessAfter)
	d.say("%s (held):    %d contacts before, %d after — kept", held, heldBefore, heldAfter)
	if heldAfter != heldBefore || witnessAfter >= witnessBefore {
		return rt, fmt.Errorf("demo: expiry did not keep the held customer's contacts (%d → %d) or did not remove the others' (%d → %d)",
			heldBefore, heldAfter, witnessBefore, witnessAfter)
	}

	d.section("Release the hold: the deferred erasure is carried out")
	rr, err := s.Release(ctx, held)
	if err != nil {
		return rt, err
	}
	d.say("released: %d contacts back on their expiry days, %d that only the hold had kept past their term deleted", rr.Resealed, rr.Expired)
	rc := rr.Receipt
	if rc == nil {
		return rt, errors.New("demo: releasing the hold gave no erasure receipt")
	}
	pub, err := crypto.ParsePublicKey(crypto.MarshalPublicKey(s.PublicKey()))
	if err != nil {
		return rt, err
	}
	if err := rc.Verify(pub); err != nil {
		return rt, err
	}
	d.say("erased: %d records, data key destroyed (shard %d, generation %d → %d); receipt for pseudonym %s",
		rc.Destroyed.Records, rc.Destroyed.Shard, rc.Destroyed.ShardGenFrom, rc.Destroyed.ShardGenTo, rc.Customer)
	d.say("receipt verified offline with the store's public key; online check: %v", errOK(s.VerifyErasure(ctx, rc)))
	if _, err := count(held); err != nil {
		d.say("reading the held customer now: %s", strings.TrimPrefix(err.Error(), "contactstore: "))
	}
	if st, err = s.Stats(ctx); err != nil {
		return rt, err
	}
	d.say("retention now: expired through %s, %d contacts scheduled, %d held, %d due", st.Retention.ExpiredThrough,
		func() (k int64) {
			for _, e := range st.Retention.Schedule {
				k += e.Contacts
			}
			return
		}(), st.Retention.Held, st.Retention.Due)

	_, name, email, phone := gen.Customer(gen.CustomerIndex(held))
	rt.needles = []string{held, name, email, phone, reason}
	return rt, nil
}

const day = 24 * time.Hour

// The recipients the demo's exports name (they go into the scan for plaintext on disk: the
// store keeps them sealed, the audit log only their SHA-256).
const (
	demoLawyer  = "mr. Bram de Vries, advocaat, Utrecht"
	demoUSFirm  = "Acme Legal Review LLC, Boston"
	demoSwissDR = "Zürich Mediation AG"
)

// transfers shows data portability behind the transfer guard: an export to a lawyer in the
// EEA, encrypted to the lawyer's age key and verified as the lawyer would; a refused
// transfer to the United States and the same transfer once the recipient is certified under
// the Data Privacy Framework; and an objection that refuses even an adequate country.
func (d *demo) transfers(ctx context.Context, s *store.Store, customer string) ([]string, error) {
	needles := []string{demoLawyer, demoUSFirm, demoSwissDR}
	d.section(fmt.Sprintf("Data portability: %s has their history sent to their lawyer in the Netherlands, encrypted to the lawyer's age key", customer))
	lawyer, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, err
	}
	o := store.ExportOptions{Recipient: demoLawyer, Country: "NL", AgeRecipients: []string{lawyer.Recipient().String()}}
	res, _, size, err := d.exportVerified(ctx, s, customer, o, lawyer)
	if err != nil {
		return nil, err
	}
	d.say("the transfer guard, before the first byte: allowed on ground %q: %s", res.Decision.Ground, res.Decision.Reason)
	d.say("stream: a header (recipient, legal ground, retention terms, earlier disclosures), %d contacts, a trailer with the count and SHA-256 %s…",
		res.Contacts, res.SHA256[:16])
	d.say("%s of JSON Lines, %s age-encrypted (X25519) to %s…; the lawyer decrypts it with their identity and checks it: complete, digest matches",
		bytesStr(uint64(res.Bytes)), bytesStr(uint64(size)), o.AgeRecipients[0][:16])

	d.section("A transfer outside the EEA: a US firm, first as it is, then certified under the EU-US Data Privacy Framework")
	o = store.ExportOptions{Recipient: demoUSFirm, Country: "US"}
	var sink countingWriter
	_, err = s.Export(ctx, customer, &sink, o)
	var refused *store.TransferRefusedError
	if !errors.As(err, &refused) {
		return nil, fmt.Errorf("demo: an export to the US without the Data Privacy Framework was not refused: %v", err)
	}
	d.say("refused (contactstore export exits 3), %d bytes written: %s", sink.n, refused.Decision.Reason)
	d.say("lawful with: %s", refused.Decision.Remedy)
	o.DPF = true
	firm, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, err
	}
	o.AgeRecipients = []string{firm.Recipient().String()}
	res, sum, _, err := d.exportVerified(ctx, s, customer, o, firm)
	if err != nil {
		return nil, err
	}
	d.say("with --dpf: allowed on ground %q (%s); %d contacts, age-encrypted to the firm's key, decrypted and verified",
		res.Decision.Ground, res.Decision.Decision.Decision, res.Contacts)
	if n := len(sum.Header.Disclosures); n > 0 {
		p := sum.Header.Disclosures[n-1]
		d.say("its header lists the earlier disclosure (Art. 15(1)(c)): %s, %s, %d contacts, ground %q", p.Time.Format(time.DateOnly), p.Country, p.Contacts, p.Ground)
	}

	d.section(fmt.Sprintf("%s objects to any transfer outside the EEA (Art. 21): the objection wins over every ground", customer))
	if err := s.Object(ctx, customer, store.ObjectNonEEA); err != nil {
		return nil, err
	}
	_, err = s.Export(ctx, customer, &sink, store.ExportOptions{Recipient: demoSwissDR, Country: "CH"})
	if !errors.As(err, &refused) {
		return nil, fmt.Errorf("demo: an objection did not refuse a transfer to Switzerland: %v", err)
	}
	d.say("to Switzerland, which has an adequacy decision: refused: %s", refused.Decision.Reason)
	dec, err := s.CheckTransfer(ctx, customer, store.ExportOptions{Recipient: demoLawyer, Country: "NL"})
	if err != nil {
		return nil, err
	}
	d.say("to the lawyer in the Netherlands: still allowed (%s): an EEA member state is no transfer outside the EEA", dec.Ground)
	transfers, exports := 0, 0
	for en, err := range s.Audit(ctx, customer) {
		if err != nil {
			return nil, err
		}
		switch en.Kind {
		case "transfer":
			transfers++
		case "export":
			exports++
		}
	}
	d.say("audit log: %d transfer decisions (allowed and refused, with their reasons), %d completed exports with count and digest;", transfers, exports)
	d.say("recipients appear there only as SHA-256; their names are kept sealed under the customer's key for the next Art. 15 answer")
	return needles, nil
}

// exportVerified exports to memory, encrypted to id's recipient, then decrypts and verifies
// the stream as its recipient would. It returns the export's result and the ciphertext's size.
func (d *demo) exportVerified(ctx context.Context, s *store.Store, customer string, o store.ExportOptions, id *age.X25519Identity) (store.ExportResult, export.Summary, int, error) {
	var buf bytes.Buffer
	res, err := s.Export(ctx, customer, &buf, o)
	if err != nil {
		return res, export.Summary{}, 0, err
	}
	size := buf.Len()
	r, err := age.Decrypt(&buf, id)
	if err != nil {
		return res, export.Summary{}, size, fmt.Errorf("demo: decrypting the export: %w", err)
	}
	sum, err := export.Verify(r, nil)
	if err != nil {
		return res, sum, size, fmt.Errorf("demo: the export does not verify: %w", err)
	}
	if sum.Contacts != res.Contacts || sum.Trailer.SHA256 != res.SHA256 {
		return res, sum, size, fmt.Errorf("demo: the decrypted export has %d contacts (sha256 %s), the export wrote %d (%s)",
			sum.Contacts, sum.Trailer.SHA256, res.Contacts, res.SHA256)
	}
	return res, sum, size, nil
}

// countingWriter counts what is written to it.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

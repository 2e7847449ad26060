package store

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"contactstore/index"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// The model-based random test (in the spirit of Pebble's metamorphic tests): random sequences
// of ingest, read, erase, hold, release, expiry on a fake clock, lookups, export, reopen and
// crash-clone-reopen run against the real store and against a plain in-memory model of what
// the store promises; every answer is compared. The seed is printed on failure; rerun one
// with -model.seed. Short in CI; -model.long (or CONTACTSTORE_LONG=1) runs many more steps.

var (
	modelSeed  = flag.Uint64("model.seed", 0, "model test: run only this seed")
	modelLong  = flag.Bool("model.long", false, "model test: long run (many seeds and steps)")
	modelTrace = flag.Bool("model.trace", false, "model test: log every operation")
	modelEvery = flag.Bool("model.checkall", false, "model test: run the consistency checker after every operation")
)

const modelPolicy = `{"default":"P1Y","rules":[{"category":"chat","retention":"P20D"},{"channel":"phone","retention":"P60D"}]}`

type modelContact struct {
	c   Contact
	exp time.Time
}

type modelCustomer struct {
	contacts map[string]modelContact
	held     bool
	since    time.Time // hold placed
	pending  bool      // erasure requested during the hold
	erased   bool      // erased and nothing stored since
	// everErased: erased at some time. A customer who came back after an erasure and whose
	// contacts have all expired since reads as erased again (the ledger remembers the
	// erasure; nothing newer is there).
	everErased bool
	erasedAt   int // the step of the latest erasure
	values     map[string]bool
}

type model struct {
	pol       *Policy
	now       time.Time
	customers map[string]*modelCustomer
}

func (m *model) cust(id string) *modelCustomer {
	mc := m.customers[id]
	if mc == nil {
		mc = &modelCustomer{contacts: map[string]modelContact{}, values: map[string]bool{}}
		m.customers[id] = mc
	}
	return mc
}

// visible reports whether the store shows a contact now.
func (m *model) visible(mc *modelCustomer, x modelContact) bool {
	return x.exp.After(m.now) || (mc.held && x.exp.After(mc.since))
}

func (m *model) visibleIDs(id string) []string {
	mc := m.customers[id]
	if mc == nil {
		return nil
	}
	var ids []string
	for cid, x := range mc.contacts {
		if m.visible(mc, x) {
			ids = append(ids, cid)
		}
	}
	slices.Sort(ids)
	return ids
}

type modelRun struct {
	t     *testing.T
	r     *rand.Rand
	seed  uint64
	mem   *vfs.MemFS
	clock *fakeClock
	s     *Store
	m     *model
	step  int
	ops   map[string]int

	// The latest backup: its archive, the model as it was then, and when.
	backup     []byte
	backupAt   int
	backupEnd  time.Time
	backupSnap *model
}

func (mr *modelRun) fatalf(format string, args ...any) {
	mr.t.Helper()
	mr.t.Fatalf("seed %d, step %d: %s", mr.seed, mr.step, fmt.Sprintf(format, args...))
}

func (mr *modelRun) open() {
	o := testOptions(mr.t, mr.mem)
	o.Clock = mr.clock
	o.PhoneRegion = "NL"
	s, err := Open("db", o)
	if err != nil {
		mr.fatalf("open: %v", err)
	}
	mr.s = s
}

var modelCustomers = []string{"anna", "bram", "cees", "dirk", "eva", "fleur"}

func (mr *modelRun) email(cust string, alt int) string {
	return fmt.Sprintf("%s.%d@voorbeeld.nl", cust, alt)
}

func (mr *modelRun) phone(cust string, alt int) string {
	return fmt.Sprintf("06-%08d", 10000000+slices.Index(modelCustomers, cust)*10+alt)
}

func (mr *modelRun) put() {
	ctx := context.Background()
	n := 1 + mr.r.IntN(6)
	var cs []Contact
	for range n {
		cust := modelCustomers[mr.r.IntN(len(modelCustomers))]
		c := Contact{
			// Ids repeat: replacing is part of the game.
			ID:       "c" + strconv.Itoa(mr.r.IntN(40)),
			Customer: cust,
			// From 90 days back to now: some contacts arrive past their term.
			Time:    mr.m.now.Add(-time.Duration(mr.r.Int64N(int64(90 * 24 * time.Hour)))).Truncate(time.Microsecond),
			Channel: []string{ChannelEmail, ChannelChat, ChannelPhone}[mr.r.IntN(3)],
			Body:    "tekst " + strconv.Itoa(mr.r.IntN(1000)),
		}
		if c.Channel == ChannelChat {
			c.Category = "chat"
		}
		if mr.r.IntN(3) > 0 {
			c.Email = mr.email(cust, mr.r.IntN(2))
		}
		if mr.r.IntN(3) == 0 {
			c.Phone = mr.phone(cust, mr.r.IntN(2))
		}
		cs = append(cs, c)
	}
	// Within one Put, the last contact with an id wins; the model applies them in order.
	res, err := mr.s.Put(ctx, cs)
	if err != nil {
		mr.fatalf("put: %v", err)
	}
	expired := 0
	for _, c := range cs {
		mc := mr.m.cust(c.Customer)
		x := modelContact{c: c, exp: expiryOf(mr.m.pol, c.Category, c.Channel, c.Time)}
		if !mr.m.visible(mc, x) {
			expired++
			continue
		}
		mc.contacts[c.ID] = x
		mc.erased = false
		for _, v := range []string{c.Email, c.Phone} {
			if v != "" {
				mc.values[v] = true
			}
		}
	}
	if res.Expired != expired {
		mr.fatalf("put: %d contacts not stored as past their term, the model says %d", res.Expired, expired)
	}
}

func (mr *modelRun) get(cust string) {
	var ids []string
	var gerr error
	for c, err := range mr.s.Contacts(context.Background(), cust, TimeRange{}) {
		if err != nil {
			gerr = err
			break
		}
		ids = append(ids, c.ID)
	}
	slices.Sort(ids)
	want := mr.m.visibleIDs(cust)
	mc := mr.m.customers[cust]
	switch {
	case gerr != nil && len(want) > 0:
		mr.fatalf("get %s: %v, the model has %v", cust, gerr, want)
	case gerr != nil && !errors.Is(gerr, ErrNotFound) && !errors.Is(gerr, ErrErased):
		mr.fatalf("get %s: %v", cust, gerr)
	case errors.Is(gerr, ErrErased) && (mc == nil || !mc.erased && !mc.everErased):
		mr.fatalf("get %s: erased, the model says not", cust)
	case mc != nil && mc.erased && !errors.Is(gerr, ErrErased):
		mr.fatalf("get %s: %v %v, the model says erased", cust, ids, gerr)
	case gerr == nil && !slices.Equal(ids, want):
		mr.fatalf("get %s: %v, the model has %v", cust, ids, want)
	}
}

func (mr *modelRun) erase(cust string) {
	mc := mr.m.customers[cust]
	rc, err := mr.s.Erase(context.Background(), cust, "verzoek")
	var held *HeldError
	switch {
	case mc == nil || len(mc.contacts) == 0 && !mc.held:
		// Nothing stored (or all of it already removed by expiry): not found, or erased
		// already, or — contacts past their term not yet cleaned up — erased now.
		if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrErased) {
			mr.fatalf("erase %s with nothing stored: %v", cust, err)
		}
		if err == nil && mc != nil {
			mc.erased, mc.everErased, mc.erasedAt = true, true, mr.step
		}
	case mc.erased:
		if !errors.Is(err, ErrErased) {
			mr.fatalf("erase erased %s: %v", cust, err)
		}
	case mc.held:
		if !errors.As(err, &held) {
			mr.fatalf("erase held %s: %v, want a HeldError", cust, err)
		}
		mc.pending = true
	default:
		if err != nil {
			mr.fatalf("erase %s: %v", cust, err)
		}
		if err := rc.Verify(mr.s.PublicKey()); err != nil {
			mr.fatalf("erase %s: receipt: %v", cust, err)
		}
		mc.contacts, mc.values, mc.erased, mc.everErased, mc.erasedAt = map[string]modelContact{}, map[string]bool{}, true, true, mr.step
	}
}

func (mr *modelRun) hold(cust string) {
	mc := mr.m.customers[cust]
	err := mr.s.Hold(context.Background(), cust, "zaak")
	switch {
	case mc != nil && mc.held:
		// Holding again replaces the reason and keeps the date.
		if err != nil {
			mr.fatalf("hold %s again: %v", cust, err)
		}
	case mc != nil && len(mr.m.visibleIDs(cust)) > 0:
		if err != nil {
			mr.fatalf("hold %s: %v", cust, err)
		}
		mc.held, mc.since = true, mr.m.now
	case err == nil:
		// Nothing visible: contacts past their term the expirer has not removed yet keep
		// the customer in the store, and a hold on them keeps nothing (it keeps only what is
		// within its term when placed).
		if mc == nil || mc.erased {
			mr.fatalf("hold %s: no error, the model has nothing stored", cust)
		}
		mc.held, mc.since = true, mr.m.now
	case !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrErased):
		mr.fatalf("hold %s with nothing visible: %v", cust, err)
	}
}

func (mr *modelRun) release(cust string) {
	mc := mr.m.customers[cust]
	res, err := mr.s.Release(context.Background(), cust)
	if mc == nil || !mc.held {
		if err == nil {
			mr.fatalf("release of %s without a hold: no error", cust)
		}
		return
	}
	if err != nil {
		mr.fatalf("release %s: %v", cust, err)
	}
	mc.held = false
	if mc.pending != (res.Receipt != nil) {
		mr.fatalf("release %s: receipt %v, the model's pending erasure %v", cust, res.Receipt != nil, mc.pending)
	}
	if mc.pending {
		mc.pending, mc.erased, mc.everErased, mc.erasedAt = false, true, true, mr.step
		mc.contacts, mc.values = map[string]modelContact{}, map[string]bool{}
		return
	}
	for id, x := range mc.contacts {
		if !x.exp.After(mr.m.now) {
			delete(mc.contacts, id)
		}
	}
}

func (mr *modelRun) expire() {
	mr.clock.t = mr.clock.t.Add(time.Duration(mr.r.Int64N(int64(15 * 24 * time.Hour))))
	mr.m.now = mr.clock.t
	if _, err := mr.s.Expire(context.Background(), mr.m.now); err != nil {
		mr.fatalf("expire: %v", err)
	}
	// Expiry changes nothing a reader sees: contacts past their term were hidden already.
	// The model forgets them (a customer under a hold keeps what the hold keeps).
	for _, mc := range mr.m.customers {
		for id, x := range mc.contacts {
			if !mr.m.visible(mc, x) {
				delete(mc.contacts, id)
			}
		}
	}
}

func (mr *modelRun) find(cust string) {
	mc := mr.m.customers[cust]
	alt := mr.r.IntN(2)
	var term index.Term
	var raw string
	if mr.r.IntN(2) == 0 {
		raw = mr.email(cust, alt)
		term = index.Email(raw)
	} else {
		raw = mr.phone(cust, alt)
		term = index.Phone(raw)
	}
	ids, err := mr.s.Find(context.Background(), term)
	if err != nil {
		mr.fatalf("find: %v", err)
	}
	found := slices.Contains(ids, cust)
	carried, stored := false, false
	if mc != nil {
		for _, x := range mc.contacts {
			if x.c.Email == raw || x.c.Phone == raw {
				stored = true
				if mr.m.visible(mc, x) {
					carried = true
				}
			}
		}
	}
	// No false negative for a visible contact; nothing found for a value the customer never
	// used since they were last erased. Between, either answer is allowed: Find works by the
	// day (past term, not yet at the day's end), and a value that a replaced contact carried
	// keeps finding the customer until the old contact's day has passed (documented in
	// docs/index.md).
	if carried && !found {
		mr.fatalf("find %s value: the customer has a visible contact with it, Find says %v", cust, ids)
	}
	if !stored && found && (mc == nil || !mc.values[raw]) {
		mr.fatalf("find %s value: the customer never used it since their erasure, Find says %v", cust, ids)
	}
	if len(ids) > 1 {
		mr.fatalf("find: one customer's value found %v", ids)
	}
}

func (mr *modelRun) export(cust string) {
	want := len(mr.m.visibleIDs(cust))
	res, err := mr.s.Export(context.Background(), cust, io.Discard, ExportOptions{Recipient: "advocaat", Country: "NL"})
	if want == 0 {
		return // not found, erased, or an empty history: each has its own error
	}
	if err != nil {
		mr.fatalf("export %s: %v", cust, err)
	}
	if int(res.Contacts) != want {
		mr.fatalf("export %s: %d contacts, the model has %d", cust, res.Contacts, want)
	}
}

// clone deep-copies the model.
func (m *model) clone() *model {
	c := &model{pol: m.pol, now: m.now, customers: map[string]*modelCustomer{}}
	for id, mc := range m.customers {
		x := *mc
		x.contacts, x.values = maps.Clone(mc.contacts), maps.Clone(mc.values)
		c.customers[id] = &x
	}
	return c
}

// backupNow takes a backup (term 30 days) into memory and remembers the model.
func (mr *modelRun) backupNow() {
	var buf bytes.Buffer
	info, err := mr.s.Backup(context.Background(), &buf, &BackupOptions{Term: "P30D"})
	if err != nil {
		mr.fatalf("backup: %v", err)
	}
	mr.backup, mr.backupAt, mr.backupEnd, mr.backupSnap = buf.Bytes(), mr.step, info.TermEnd, mr.m.clone()
}

// restore restores the latest backup in place: the model goes back to the backup's, with
// every customer erased since erased again and what expired since gone. Past the backup's
// term the restore is refused and nothing changes.
func (mr *modelRun) restore() {
	if mr.backup == nil {
		return
	}
	if err := mr.s.Close(); err != nil {
		mr.fatalf("close before restore: %v", err)
	}
	_, err := Restore(context.Background(), bytes.NewReader(mr.backup), "db",
		&RestoreOptions{RootKey: testKey(mr.t), FS: mr.mem, Clock: mr.clock})
	expired := !mr.m.now.Before(mr.backupEnd)
	switch {
	case expired && !errors.Is(err, ErrBackupExpired):
		mr.fatalf("restore of a backup past its term (%v, now %v): %v", mr.backupEnd, mr.m.now, err)
	case !expired && err != nil:
		mr.fatalf("restore: %v", err)
	case !expired:
		m := mr.backupSnap.clone()
		m.now = mr.m.now
		// The restored store keeps the live ledger: customers erased since the backup read
		// as erased, also those the backup did not hold.
		for id, live := range mr.m.customers {
			if live.everErased && live.erasedAt > mr.backupAt && m.customers[id] == nil {
				mc := m.cust(id)
				mc.erased, mc.everErased, mc.erasedAt = true, true, live.erasedAt
			}
		}
		for id, mc := range m.customers {
			if live := mr.m.customers[id]; live != nil && live.everErased && live.erasedAt > mr.backupAt {
				mc.contacts, mc.values, mc.erased, mc.everErased, mc.erasedAt = map[string]modelContact{}, map[string]bool{}, true, true, live.erasedAt
				mc.held, mc.pending = false, false
			}
			for cid, x := range mc.contacts {
				if !m.visible(mc, x) {
					delete(mc.contacts, cid)
				}
			}
		}
		mr.m = m
	}
	mr.open()
	mr.check()
}

// check runs the store's consistency checker; any error it reports fails the run.
func (mr *modelRun) check() {
	mr.t.Helper()
	rep, err := mr.s.Check(context.Background(), nil)
	if err != nil {
		mr.fatalf("check: %v", err)
	}
	if !rep.OK() {
		mr.fatalf("check: %+v", rep.Problems)
	}
}

func (mr *modelRun) reopen(crash bool) {
	if crash {
		// Everything acknowledged was synced: a crash that loses all unsynced data must
		// keep it.
		clone := mr.mem.CrashClone(crashCfg(0, mr.r.Uint64()))
		mr.s.Close()
		mr.mem = clone
	} else if err := mr.s.Close(); err != nil {
		mr.fatalf("close: %v", err)
	}
	mr.open()
	mr.check()
}

func runModel(t *testing.T, seed uint64, steps int) {
	mr := &modelRun{t: t, seed: seed, r: rand.New(rand.NewPCG(seed, 0x6d6f64656c)), mem: vfs.NewCrashableMem(),
		clock: &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}, ops: map[string]int{}}
	mr.open()
	pol, err := ParsePolicy([]byte(modelPolicy))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mr.s.SetPolicy(context.Background(), pol); err != nil {
		t.Fatal(err)
	}
	mr.m = &model{pol: pol, now: mr.clock.t, customers: map[string]*modelCustomer{}}
	defer func() { mr.s.Close() }()
	for mr.step = 0; mr.step < steps; mr.step++ {
		cust := modelCustomers[mr.r.IntN(len(modelCustomers))]
		p := mr.r.IntN(100)
		if *modelTrace {
			t.Logf("step %d: op %d customer %s, now %v", mr.step, p, cust, mr.m.now.Format(time.DateTime))
		}
		switch {
		case p < 35:
			mr.ops["put"]++
			mr.put()
		case p < 50:
			mr.ops["get"]++
			mr.get(cust)
		case p < 58:
			mr.ops["find"]++
			mr.find(cust)
		case p < 63:
			mr.ops["erase"]++
			mr.erase(cust)
		case p < 69:
			mr.ops["hold"]++
			mr.hold(cust)
		case p < 75:
			mr.ops["release"]++
			mr.release(cust)
		case p < 84:
			mr.ops["expire"]++
			mr.expire()
		case p < 90:
			mr.ops["export"]++
			mr.export(cust)
		case p < 93:
			mr.ops["reopen"]++
			mr.reopen(false)
		case p < 96:
			mr.ops["crash"]++
			mr.reopen(true)
		case p < 98:
			mr.ops["backup"]++
			mr.backupNow()
		default:
			mr.ops["restore"]++
			mr.restore()
		}
		if *modelEvery {
			mr.check()
		}
	}
	for _, c := range modelCustomers { // a final full comparison
		mr.get(c)
	}
	mr.check()
	t.Logf("seed %d: %d steps %v", seed, steps, mr.ops)
}

func TestModel(t *testing.T) {
	seeds, steps := 4, 150
	if *modelLong || os.Getenv("CONTACTSTORE_LONG") != "" {
		seeds, steps = 200, 1000
	}
	if testing.Short() {
		seeds, steps = 1, 60
	}
	if *modelSeed != 0 {
		runModel(t, *modelSeed, steps)
		return
	}
	base := uint64(time.Now().UnixNano())
	for i := range seeds {
		seed := base + uint64(i)
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) { runModel(t, seed, steps) })
	}
}

package importers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"contactstore/internal/importfmt"
	"contactstore/store"
)

// progressEvery is the least time between two calls of Options.Progress.
const progressEvery = 100 * time.Millisecond

// Import reads inputs in opts.Format and stores their contacts in s, in batches of
// opts.BatchSize committed one after another (each atomically, by store.Put). It returns
// what it did, and a *ProblemError when it stopped at a problem, an *InputError when an
// input could not be read, or another error when storing failed or ctx ended; in every
// case each contact read before the failure is committed, except those of the batch being
// filled when ctx ends.
func Import(ctx context.Context, s *store.Store, inputs []Input, opts Options) (Result, error) {
	start := time.Now()
	if err := checkOptions(inputs, &opts); err != nil {
		return Result{}, err
	}
	var total int64
	for _, in := range inputs {
		if in.Size < 0 {
			total = 0
			break
		}
		total += in.Size
	}
	if opts.Format.twoPass() {
		total *= 2
	}
	var cnt counter
	src, err := newSource(inputs, &opts, &cnt)
	if err != nil {
		return Result{}, err
	}
	im := &importer{
		opts:   &opts,
		cats:   newCategoryMap(opts.Categories),
		src:    src,
		cnt:    &cnt,
		total:  total,
		start:  start,
		w:      newWriter(ctx, s),
		maxPbs: opts.MaxProblems,
	}
	err = im.run(ctx)
	if cerr := src.close(); err == nil && cerr != nil {
		err = cerr
	}
	im.res.Elapsed = time.Since(start)
	return im.res, err
}

func checkOptions(inputs []Input, opts *Options) error {
	if opts.Format == "" {
		opts.Format = JSONL
	}
	if _, err := ParseFormat(string(opts.Format)); err != nil {
		return err
	}
	if len(inputs) == 0 {
		return errors.New("importers: no inputs")
	}
	if opts.Format == MBox && len(opts.Mailboxes) == 0 {
		return errors.New("importers: mbox: the company's mailboxes are required (Options.Mailboxes, --mailbox): they tell the customer from the company")
	}
	if opts.Format.twoPass() {
		for _, in := range inputs {
			if in.once {
				return &singlePassError{name: in.Name, format: opts.Format}
			}
		}
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.MaxProblems == 0 {
		opts.MaxProblems = DefaultMaxProblems
	}
	return nil
}

// singlePassError refuses a stream to a format that reads its inputs twice.
type singlePassError struct {
	name   string
	format Format
}

func (e *singlePassError) Error() string {
	return fmt.Sprintf("importers: %s: the %s format reads its inputs twice (to join tickets with their comments) and cannot read a stream: give files", e.name, e.format)
}

func (e *singlePassError) Is(target error) bool { return target == ErrSinglePass }

// importer is the state of one Import on the caller's goroutine.
type importer struct {
	opts   *Options
	cats   *categoryMap
	src    source
	cnt    *counter
	total  int64
	start  time.Time
	w      *writer
	maxPbs int

	res      Result
	records  int
	cur      *batch
	lastProg time.Time
}

func (im *importer) run(ctx context.Context) error {
	err := im.read(ctx)
	if err == nil || isStop(err) {
		im.flush()
	}
	if werr := im.w.wait(); werr != nil {
		err = werr
	}
	im.collect()
	im.report(true)
	return err
}

// isStop reports whether err ends the reading but lets what was read be committed.
func isStop(err error) bool {
	var pe *ProblemError
	var ie *InputError
	return errors.As(err, &pe) || errors.As(err, &ie)
}

// read reads every record, batching contacts, until the end, a stop or a failure.
func (im *importer) read(ctx context.Context) error {
	for {
		if im.records&63 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := im.w.failed(); err != nil {
				return err
			}
		}
		c, pos, err := im.src.next()
		if err == io.EOF {
			return nil
		}
		im.records++
		var re *importfmt.RecordError
		switch {
		case errors.As(err, &re):
			if stop := im.problem(re.Pos, re.Reason); stop != nil {
				return stop
			}
			continue
		case err != nil:
			var ie *InputError
			if !errors.As(err, &ie) {
				err = &InputError{Err: err}
			}
			return err
		}
		c.Category = im.cats.apply(c.Category)
		if verr := c.Validate(); verr != nil {
			if stop := im.problem(pos, verr.Error()); stop != nil {
				return stop
			}
			continue
		}
		im.res.Read++
		im.add(c)
		im.report(false)
	}
}

// problem records a problem; it returns the error to stop with, or nil to go on.
func (im *importer) problem(pos importfmt.Position, reason string) error {
	p := Problem{File: pos.File, Line: pos.Line, Record: pos.Record, Reason: reason}
	im.res.ProblemCount++
	if im.maxPbs > 0 && len(im.res.Problems) < im.maxPbs {
		im.res.Problems = append(im.res.Problems, p)
	}
	if !im.opts.SkipInvalid {
		return &ProblemError{Problem: p}
	}
	im.res.Skipped++
	im.report(false)
	return nil
}

// add appends c to the batch being filled and hands the batch on when it is full.
func (im *importer) add(c store.Contact) {
	if im.cur == nil {
		im.cur = &batch{contacts: make([]store.Contact, 0, im.opts.BatchSize), ids: make(map[string]struct{})}
	}
	b := im.cur
	b.contacts = append(b.contacts, c)
	b.bytes += contactSize(&c)
	if c.ID != "" {
		b.ids[c.ID] = struct{}{}
	}
	if len(b.contacts) >= im.opts.BatchSize || b.bytes >= batchBytes {
		im.flush()
	}
}

// flush hands the batch being filled to the writer.
func (im *importer) flush() {
	if im.cur == nil || len(im.cur.contacts) == 0 {
		return
	}
	im.w.submit(im.cur)
	im.cur = nil
	im.report(false)
}

// collect copies the writer's counts into the result.
func (im *importer) collect() {
	im.res.Added = int(im.w.added.Load())
	im.res.Replaced = int(im.w.replaced.Load())
	im.res.Expired = int(im.w.expired.Load())
	im.res.Unindexed = int(im.w.unindexed.Load())
	im.res.Bytes = im.cnt.n
}

// report calls Options.Progress, at most every progressEvery unless final.
func (im *importer) report(final bool) {
	if im.opts.Progress == nil {
		return
	}
	now := time.Now()
	if !final && now.Sub(im.lastProg) < progressEvery {
		return
	}
	im.lastProg = now
	im.opts.Progress(Progress{
		Bytes:   im.cnt.n,
		Total:   im.total,
		Records: im.records,
		Stored:  int(im.w.added.Load() + im.w.replaced.Load()),
		Skipped: im.res.Skipped,
		Elapsed: now.Sub(im.start),
	})
}

// contactSize approximates the memory a contact holds.
func contactSize(c *store.Contact) int {
	n := 256 + len(c.ID) + len(c.Customer) + len(c.Channel) + len(c.Direction) + len(c.Category) +
		len(c.Agent) + len(c.Subject) + len(c.Body) + len(c.Email) + len(c.Phone) + len(c.Meta)
	for _, t := range c.Tags {
		n += len(t) + 16
	}
	for _, a := range c.Attachments {
		n += len(a.Name) + len(a.Type) + len(a.Data) + 64
	}
	return n
}

// batch is a group of contacts stored by one Put.
type batch struct {
	contacts []store.Contact
	bytes    int
	ids      map[string]struct{} // the contacts' ids, to order batches that share one
	done     chan struct{}
}

// writerConcurrency is the number of Puts in flight: one seals while the other commits.
const writerConcurrency = 2

// writer stores batches with up to writerConcurrency Puts in flight. Two batches that
// share a contact id are never stored at the same time, so that the later copy wins.
type writer struct {
	ctx      context.Context
	s        *store.Store
	jobs     chan *batch
	wg       sync.WaitGroup
	inflight []*batch // submitted, perhaps not done; only the submitting goroutine uses it

	mu  sync.Mutex
	err error

	added, replaced, expired, unindexed atomic.Int64
}

func newWriter(ctx context.Context, s *store.Store) *writer {
	w := &writer{ctx: ctx, s: s, jobs: make(chan *batch)}
	for range writerConcurrency {
		w.wg.Add(1)
		go w.work()
	}
	return w
}

func (w *writer) work() {
	defer w.wg.Done()
	for b := range w.jobs {
		w.put(b)
		close(b.done)
	}
}

func (w *writer) put(b *batch) {
	if w.failed() != nil {
		return
	}
	pr, err := w.s.Put(w.ctx, b.contacts)
	if err != nil {
		w.mu.Lock()
		if w.err == nil {
			w.err = fmt.Errorf("importers: storing: %w", err)
		}
		w.mu.Unlock()
		return
	}
	w.added.Add(int64(pr.Added))
	w.replaced.Add(int64(pr.Replaced))
	w.expired.Add(int64(pr.Expired))
	w.unindexed.Add(int64(pr.Unindexed))
}

// failed returns the first error of a Put, or nil.
func (w *writer) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// submit hands b to a worker once no batch in flight shares an id with it.
func (w *writer) submit(b *batch) {
	b.done = make(chan struct{})
	live := w.inflight[:0]
	for _, p := range w.inflight {
		select {
		case <-p.done:
			continue
		default:
		}
		if sharesID(p, b) {
			<-p.done
			continue
		}
		live = append(live, p)
	}
	w.inflight = append(live, b)
	w.jobs <- b
}

func sharesID(a, b *batch) bool {
	small, large := a.ids, b.ids
	if len(small) > len(large) {
		small, large = large, small
	}
	for id := range small {
		if _, ok := large[id]; ok {
			return true
		}
	}
	return false
}

// wait stores the batches submitted and returns the first error of a Put.
func (w *writer) wait() error {
	close(w.jobs)
	w.wg.Wait()
	w.inflight = nil
	return w.failed()
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"contactstore/internal/jsonl"
	"contactstore/internal/progress"
	"contactstore/store"
)

func init() {
	register(command{name: "ingest", summary: "store contacts from JSON Lines (a file or stdin)", run: cmdIngest})
}

func cmdIngest(e *env, args []string) int {
	f := e.flags("ingest", "--dir DIR [FILE|-]")
	sf := addStoreFlags(f)
	batch := f.Int("batch", 1000, "contacts per committed batch")
	noSync := f.Bool("no-sync", false, "do not fsync each batch (faster; a crash may lose the last batches, never part of one)")
	pos, code, ok := parseArgs(f, args, func(pos []string) bool { return len(pos) > 1 || *sf.dir == "" || *batch < 1 })
	if !ok {
		return code
	}
	in, total := e.stdin, int64(0)
	name := "stdin"
	if len(pos) == 1 && pos[0] != "-" {
		file, err := os.Open(pos[0])
		if err != nil {
			return e.fail(err)
		}
		defer file.Close()
		if fi, err := file.Stat(); err == nil && fi.Mode().IsRegular() {
			total = fi.Size()
		}
		in, name = file, pos[0]
	}
	s, err := e.openStore(sf, &store.Options{NoSync: *noSync})
	if err != nil {
		return e.exitFor(err)
	}
	res, ierr := ingestJSONL(context.Background(), s, in, *batch, progress.New(e.stderrFile, "ingest", total))
	cerr := s.Close()
	rate := float64(res.stored) / max(res.elapsed.Seconds(), 1e-9)
	summary := fmt.Sprintf("stored %d contacts (%d new, %d replaced) from %s in %s (%.0f contacts/s)",
		res.stored, res.added, res.replaced, name, res.elapsed.Round(time.Millisecond), rate)
	if res.expired > 0 {
		summary += fmt.Sprintf("; %d not stored: already past their retention term", res.expired)
	}
	if ierr != nil {
		e.errorf("%s: %v", name, ierr)
		e.infof("%s; every contact before the failing line is committed", summary)
		return exitFail
	}
	if cerr != nil {
		return e.fail(cerr)
	}
	e.infof("%s", summary)
	return exitOK
}

type ingestResult struct {
	stored, added, replaced int64
	// expired counts contacts not stored because the retention policy puts them past their
	// term already (store.PutResult.Expired).
	expired int64
	elapsed time.Duration
}

// ingestJSONL reads contacts and stores them in batches, parsing, sealing and committing in
// a pipeline. On a malformed line it stops reading, waits until every batch before the line
// is committed, and returns the line's error.
func ingestJSONL(ctx context.Context, s *store.Store, r io.Reader, batchSize int, bar *progress.Bar) (ingestResult, error) {
	start := time.Now()
	var res ingestResult
	var added, replaced, stored, expired atomic.Int64
	rd := jsonl.NewReader(r, 0)
	batches := make(chan []store.Contact, 2)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var putErr error
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				pr, err := s.Put(ctx, b)
				if err != nil {
					mu.Lock()
					if putErr == nil {
						putErr = err
					}
					mu.Unlock()
					continue
				}
				added.Add(int64(pr.Added))
				replaced.Add(int64(pr.Replaced))
				expired.Add(int64(pr.Expired))
				stored.Add(int64(len(b) - pr.Expired))
			}
		}()
	}
	var readErr error
	cur := make([]store.Contact, 0, batchSize)
	for {
		mu.Lock()
		failed := putErr != nil
		mu.Unlock()
		if failed {
			break
		}
		var c store.Contact
		err := rd.Next(&c)
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil {
			if verr := c.Validate(); verr != nil {
				err = &jsonl.LineError{Line: rd.Line(), Err: verr}
			}
		}
		if err != nil {
			readErr = err
			break
		}
		cur = append(cur, c)
		if len(cur) == batchSize {
			batches <- cur
			cur = make([]store.Contact, 0, batchSize)
			bar.Update(rd.BytesRead(), stored.Load())
		}
	}
	if len(cur) > 0 && putErr == nil {
		batches <- cur
	}
	close(batches)
	wg.Wait()
	bar.Update(rd.BytesRead(), stored.Load())
	bar.Done()
	res.stored, res.added, res.replaced, res.expired = stored.Load(), added.Load(), replaced.Load(), expired.Load()
	res.elapsed = time.Since(start)
	if putErr != nil {
		return res, putErr
	}
	return res, readErr
}

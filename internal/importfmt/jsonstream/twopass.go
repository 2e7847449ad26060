package jsonstream

import "contactstore/internal/importfmt"

// TwoPass drives a reader that reads its inputs twice: a first pass (collect) gathers what
// joins the records (compact summaries of tickets, users), the second streams the inputs
// again and turns each element into items and problems (emit, which calls Item and
// Problem), handed out in order by Next.
type TwoPass struct {
	inputs  []Input
	keys    []string
	closed  error
	collect func() error
	emit    func(Element)

	err     error
	started bool
	pass    *Multi
	queue   []twoPassResult
}

type twoPassResult struct {
	item importfmt.Item
	err  error
}

// NewTwoPass returns a driver over inputs; the second pass reads wrapper keys keys. closed
// is the error Next returns after Close.
func NewTwoPass(inputs []Input, keys []string, closed error, collect func() error, emit func(Element)) *TwoPass {
	return &TwoPass{inputs: inputs, keys: keys, closed: closed, collect: collect, emit: emit}
}

// Item queues an item of the element being emitted.
func (t *TwoPass) Item(it importfmt.Item) { t.queue = append(t.queue, twoPassResult{item: it}) }

// Problem queues a problem with one record (a *importfmt.RecordError).
func (t *TwoPass) Problem(pos importfmt.Position, reason string) {
	t.queue = append(t.queue, twoPassResult{err: &importfmt.RecordError{Pos: pos, Reason: reason}})
}

// Next returns the next item, io.EOF after the last, a *importfmt.RecordError for a record
// that cannot be used (call Next again to go on), or a fatal error (returned again by every
// later call). The first call runs the first pass.
func (t *TwoPass) Next() (importfmt.Item, error) {
	if t.err != nil {
		return importfmt.Item{}, t.err
	}
	if !t.started {
		t.started = true
		if err := t.collect(); err != nil {
			t.err = err
			return importfmt.Item{}, err
		}
		t.pass = NewMulti(t.inputs, t.keys...)
	}
	for len(t.queue) == 0 {
		el, err := t.pass.Next()
		if err != nil {
			t.err = err
			return importfmt.Item{}, err
		}
		t.emit(el)
	}
	res := t.queue[0]
	t.queue[0] = twoPassResult{}
	t.queue = t.queue[1:]
	return res.item, res.err
}

// Close releases the input being read; Next returns the closed error afterwards.
func (t *TwoPass) Close() error {
	t.err = t.closed
	if t.pass == nil {
		return nil
	}
	return t.pass.Close()
}

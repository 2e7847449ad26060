// Package progress draws a one-line progress display on a terminal: bytes, records, rate and,
// when the total is known, percentage and ETA. On anything but a terminal it draws nothing.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Bar is a progress line. Its methods are safe for concurrent use; a nil *Bar does nothing.
type Bar struct {
	mu      sync.Mutex
	w       io.Writer
	label   string
	total   int64 // bytes; 0 = unknown
	bytes   int64
	records int64
	start   time.Time
	last    time.Time
	drawn   bool
}

// IsTerminal reports whether f is a character device (a terminal).
func IsTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// New returns a Bar drawing to w, or nil when w is not a terminal (or force is false and
// w is not one).
func New(w *os.File, label string, totalBytes int64) *Bar {
	if w == nil || !IsTerminal(w) {
		return nil
	}
	return &Bar{w: w, label: label, total: totalBytes, start: time.Now()}
}

// Update sets the bytes and records done so far and redraws at most five times a second.
func (b *Bar) Update(bytes, records int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bytes, b.records = bytes, records
	if now := time.Now(); now.Sub(b.last) >= 200*time.Millisecond {
		b.last = now
		b.draw(now)
	}
}

func (b *Bar) draw(now time.Time) {
	el := now.Sub(b.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(b.records) / el
	}
	line := fmt.Sprintf("%s %s, %d records, %.0f/s", b.label, Bytes(uint64(b.bytes)), b.records, rate)
	if b.total > 0 {
		pct := 100 * float64(b.bytes) / float64(b.total)
		line = fmt.Sprintf("%s %5.1f%% %s/%s, %d records, %.0f/s", b.label, pct, Bytes(uint64(b.bytes)), Bytes(uint64(b.total)), b.records, rate)
		if b.bytes > 0 && b.bytes < b.total {
			eta := time.Duration(el * float64(b.total-b.bytes) / float64(b.bytes) * float64(time.Second))
			line += ", ETA " + eta.Round(time.Second).String()
		}
	}
	fmt.Fprintf(b.w, "\r\033[K%s", line)
	b.drawn = true
}

// Done draws the final state and ends the line.
func (b *Bar) Done() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.draw(time.Now())
	fmt.Fprintln(b.w)
}

// Bytes formats a byte count for people: 512 B, 3.2 KiB, 14.0 MiB, 1.2 GiB.
func Bytes(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

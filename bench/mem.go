package bench

import (
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync"
	"time"
)

// memSampler records the peak live Go heap and the peak resident set size every 50 ms,
// relative to a baseline taken (after a GC) when it starts.
//
// The live heap is what the last GC found reachable (/gc/heap/live:bytes). The heap in use
// (MemStats.HeapInuse) would say little here: with the benchmark's contacts held in memory
// the GC lets garbage grow to about the size of that baseline before it collects (GOGC),
// whatever the peer does.
type memSampler struct {
	baseHeap, baseRSS uint64
	peakHeap, peakRSS uint64
	quit              chan struct{}
	done              chan struct{}
	once              sync.Once
	samples           []metrics.Sample
}

const sampleEvery = 50 * time.Millisecond

func startMemSampler() *memSampler {
	runtime.GC()
	debug.FreeOSMemory()
	m := &memSampler{
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		samples: []metrics.Sample{{Name: "/gc/heap/live:bytes"}},
	}
	m.baseHeap, m.baseRSS = m.read()
	m.peakHeap, m.peakRSS = m.baseHeap, m.baseRSS
	go m.loop()
	return m
}

// read returns the live heap and the RSS.
func (m *memSampler) read() (heap, rss uint64) {
	metrics.Read(m.samples)
	for _, s := range m.samples {
		if s.Value.Kind() == metrics.KindUint64 {
			heap += s.Value.Uint64()
		}
	}
	return heap, residentBytes()
}

func (m *memSampler) loop() {
	defer close(m.done)
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		m.sample()
		select {
		case <-m.quit:
			return
		case <-t.C:
		}
	}
}

func (m *memSampler) sample() {
	h, r := m.read()
	m.peakHeap = max(m.peakHeap, h)
	m.peakRSS = max(m.peakRSS, r)
}

// stop ends sampling (once; later calls return the same figures) and returns the peaks
// above the baseline.
func (m *memSampler) stop() (heap, rss uint64) {
	m.once.Do(func() {
		close(m.quit)
		<-m.done
		m.sample()
	})
	return m.peakHeap - m.baseHeap, m.peakRSS - m.baseRSS
}

// residentBytes returns the process's resident set size from /proc/self/statm, or 0.
func residentBytes() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(string(f[1]), 10, 64)
	if err != nil {
		return 0
	}
	return pages * uint64(os.Getpagesize())
}

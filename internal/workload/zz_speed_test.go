package workload

import (
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestZZSpeed(t *testing.T) {
	if os.Getenv("SPEED") == "" {
		t.Skip()
	}
	g := New(Config{Seed: 1})
	c0, w0 := cpuTime(), time.Now()
	n := 1000000
	var bytes int
	for i := 0; i < n; i++ {
		c := g.Next()
		bytes += len(c.Body)
	}
	fmt.Printf("1M contacts: wall %v cpu %v avg body %d\n", time.Since(w0), cpuTime()-c0, bytes/n)
}

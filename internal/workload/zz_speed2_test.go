package workload

import (
	"fmt"
	"os"
	"testing"
	"time"
)

func TestZZSpeed2(t *testing.T) {
	if os.Getenv("SPEED") == "" {
		t.Skip()
	}
	for _, cfg := range []Config{{Seed: 1}, {Seed: 1, LargeRate: None}, {Seed: 1, AttachmentRate: None}, {Seed: 1, LargeRate: None, AttachmentRate: None}} {
		g := New(cfg)
		c0, w0 := cpuTime(), time.Now()
		n := 300000
		for i := 0; i < n; i++ {
			g.Next()
		}
		fmt.Printf("%+v: wall %v cpu/contact %v\n", cfg.LargeRate+cfg.AttachmentRate*10, time.Since(w0)/time.Duration(n), (cpuTime()-c0)/time.Duration(n))
	}
}

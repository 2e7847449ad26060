package workload

import (
	"os"
	"testing"
)

func TestZZSpeed3(t *testing.T) {
	if os.Getenv("SPEED") == "" {
		t.Skip()
	}
	g := New(Config{Seed: 1, LargeRate: None, AttachmentRate: None})
	for i := 0; i < 1000000; i++ {
		g.Next()
	}
}

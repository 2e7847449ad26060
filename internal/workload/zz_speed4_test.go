package workload

import (
	"os"
	"testing"
)

func TestZZSpeed4(t *testing.T) {
	if os.Getenv("SPEED") == "" {
		t.Skip()
	}
	g := New(Config{Seed: 1, LargeRate: 1, AttachmentRate: None})
	for i := 0; i < 20000; i++ {
		g.Next()
	}
}

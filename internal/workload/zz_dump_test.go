package workload

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"testing"
	"time"
)

func TestZZDump(t *testing.T) {
	if os.Getenv("DUMP") == "" {
		t.Skip()
	}
	g := New(Config{Seed: 1, WithIDs: true})
	f, _ := os.Create("/tmp/wl/sample.txt")
	defer f.Close()
	var sizes []int
	bych := map[string][]int{}
	start := time.Now()
	cs := g.Batch(200000)
	fmt.Println("gen", time.Since(start))
	for i, c := range cs {
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(c.Body))
		bych[c.Channel] = append(bych[c.Channel], len(c.Body))
		if i < 300 {
			c2 := c
			for j := range c2.Attachments {
				c2.Attachments[j].Data = c2.Attachments[j].Data[:16]
			}
			b, _ := json.MarshalIndent(c2, "", " ")
			fmt.Fprintf(f, "==== %d\n%s\n--- body:\n%s\n\n", i, b, c.Body)
		}
	}
	sort.Ints(sizes)
	fmt.Println("median", sizes[len(sizes)/2], "p10", sizes[len(sizes)/10], "p90", sizes[len(sizes)*9/10], "max", sizes[len(sizes)-1])
	for ch, s := range bych {
		sort.Ints(s)
		fmt.Println(ch, len(s), "median", s[len(s)/2], "p10", s[len(s)/10], "p90", s[len(s)*9/10], "max", s[len(s)-1])
	}
}

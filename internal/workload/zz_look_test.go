package workload

import (
	"fmt"
	"os"
	"testing"
)

func TestZZLook(t *testing.T) {
	if os.Getenv("LOOK") == "" {
		t.Skip()
	}
	g := New(Config{Seed: 2, AttachmentRate: 0.5})
	large, chat, att := 0, 0, 0
	for i := 0; i < 5000; i++ {
		c := g.Next()
		if len(c.Body) > 8192 && large < 1 {
			large++
			fmt.Printf("LARGE %d bytes subj %q\n%s\n...\n%s\n\n", len(c.Body), c.Subject, c.Body[:3000], c.Body[len(c.Body)-1500:])
		}
		if c.Channel == "chat" && g.Language(g.CustomerIndex(c.Customer)) == "en" && chat < 1 {
			chat++
			fmt.Printf("CHAT %q\n%s\n\n", c.Subject, c.Body)
		}
		for _, a := range c.Attachments {
			if att < 25 {
				att++
				fmt.Printf("ATT %-50q %-30s %d %q\n", a.Name, a.Type, len(a.Data), a.Data[:8])
			}
		}
	}
}

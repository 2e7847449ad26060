package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"contactstore/internal/export"

	"filippo.io/age"
	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestExportSmoke(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, vfs.NewMem())
	defer s.Close()
	var cs []Contact
	for i := range 50 {
		cs = append(cs, mkContact("dora", i))
	}
	if _, err := s.Put(ctx, cs); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	res, err := s.Export(ctx, "dora", &buf, ExportOptions{Recipient: "Advocatenkantoor Jansen", Country: "NL"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Contacts != 50 || res.Decision.Ground != "eea" || int64(buf.Len()) != res.Bytes {
		t.Fatalf("result %+v (%d bytes written)", res, buf.Len())
	}
	var ids []string
	sum, err := export.Verify(bytes.NewReader(buf.Bytes()), func(line []byte) error {
		var c struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		}
		if err := json.Unmarshal(line, &c); err != nil {
			return err
		}
		ids = append(ids, c.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Contacts != 50 || sum.Trailer.SHA256 != res.SHA256 || sum.Header.Customer != "dora" || len(ids) != 50 {
		t.Fatalf("summary %+v", sum)
	}

	// Refused: the USA without DPF certification or a safeguard. Nothing is written.
	buf.Reset()
	_, err = s.Export(ctx, "dora", &buf, ExportOptions{Recipient: "Second Opinion LLC", Country: "US"})
	var re *TransferRefusedError
	if !errors.As(err, &re) || !errors.Is(err, ErrTransferRefused) || buf.Len() != 0 || re.Decision.Remedy == "" {
		t.Fatalf("US without DPF: %v, %d bytes", err, buf.Len())
	}
	// With DPF: allowed, and the header lists the earlier disclosure.
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	res, err = s.Export(ctx, "dora", &buf, ExportOptions{Recipient: "Second Opinion LLC", Country: "US", DPF: true,
		AgeRecipients: []string{id.Recipient().String()}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := age.Decrypt(&buf, id)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	sum, err = export.Verify(bytes.NewReader(plain), nil)
	if err != nil || sum.Contacts != 50 || len(sum.Header.Disclosures) != 1 || sum.Header.Disclosures[0].Recipient != "Advocatenkantoor Jansen" {
		t.Fatalf("age export: %+v %v", sum.Header.Disclosures, err)
	}
	// An objection wins.
	if err := s.Object(ctx, "dora", ObjectNonEEA); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Export(ctx, "dora", io.Discard, ExportOptions{Recipient: "x", Country: "CH"}); !errors.Is(err, ErrTransferRefused) {
		t.Fatalf("objection non-eea, CH: %v", err)
	}
	if _, err := s.Export(ctx, "dora", io.Discard, ExportOptions{Recipient: "x", Country: "BE"}); err != nil {
		t.Fatalf("objection non-eea, BE: %v", err)
	}
	if err := s.Withdraw(ctx, "dora", ObjectNonEEA); err != nil {
		t.Fatal(err)
	}
	if err := s.Withdraw(ctx, "dora", ObjectNonEEA); !errors.Is(err, ErrNoObjection) {
		t.Fatalf("withdraw twice: %v", err)
	}
	var kinds []string
	for e, err := range s.Audit(ctx, "dora") {
		if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, e.Kind)
		if strings.Contains(e.Detail, "Jansen") || strings.Contains(e.Detail, "Opinion") {
			t.Fatalf("audit entry names the recipient: %+v", e)
		}
	}
	if !strings.Contains(strings.Join(kinds, " "), "transfer") || !strings.Contains(strings.Join(kinds, " "), "export") {
		t.Fatalf("audit kinds %v", kinds)
	}
	checkConsistent(t, s)
}

package chain

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func TestHash(t *testing.T) {
	got, err := Hash(ZeroHash, []byte(`{"seq":1}`))
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(append(make([]byte, 32), `{"seq":1}`...))
	if got != hex.EncodeToString(want[:]) {
		t.Fatalf("got %s", got)
	}
	next, _ := Hash(got, []byte(`{"seq":2}`))
	if next == got {
		t.Fatal("chained hash equals its predecessor")
	}
	for _, bad := range []string{"", "zz", ZeroHash[:62], ZeroHash + "00"} {
		if _, err := Hash(bad, nil); err == nil {
			t.Fatalf("accepted previous hash %q", bad)
		}
	}
}

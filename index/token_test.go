package index

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"sync"
	"testing"
)

// refToken computes a token with crypto/hmac, as documented on Token.
func refToken(key []byte, kind Kind, v string) Token {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("contactstore/v1/index"))
	m.Write([]byte{byte(kind)})
	m.Write(binary.BigEndian.AppendUint32(nil, uint32(len(v))))
	m.Write([]byte(v))
	var tok Token
	copy(tok[:], m.Sum(nil))
	return tok
}

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func TestTokenMatchesHMAC(t *testing.T) {
	key := make([]byte, KeySize)
	for i := range key {
		key[i] = byte(i*7 + 1)
	}
	tz, err := NewTokenizer(key)
	if err != nil {
		t.Fatal(err)
	}
	defer tz.Close()
	values := []string{"", "+31612345678", "jan@example.nl", strings.Repeat("x", maxStackValue),
		strings.Repeat("y", maxStackValue+1), strings.Repeat("z", 5000)}
	for _, v := range values {
		for _, k := range []Kind{KindEmail, KindPhone, KindCustomer} {
			if got, want := tz.Token(k, v), refToken(key, k, v); got != want {
				t.Errorf("Token(%v, %d bytes) = %x, crypto/hmac gives %x", k, len(v), got, want)
			}
		}
	}
}

func TestTokenSeparates(t *testing.T) {
	tz, _ := NewTokenizer(testKey(1))
	other, _ := NewTokenizer(testKey(2))
	seen := map[Token]string{}
	for _, k := range []Kind{KindEmail, KindPhone, KindCustomer} {
		for _, v := range []string{"42", "+31612345678", "jan@example.nl", "jan@example.n"} {
			tok := tz.Token(k, v)
			if prev, dup := seen[tok]; dup {
				t.Errorf("%v %q has the token of %s", k, v, prev)
			}
			seen[tok] = k.String() + " " + v
			if other.Token(k, v) == tok {
				t.Errorf("two keys give one token for %v %q", k, v)
			}
			if tz.Token(k, v) != tok {
				t.Errorf("Token is not deterministic")
			}
		}
	}
}

func TestNewTokenizerKey(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := NewTokenizer(make([]byte, n)); err == nil {
			t.Errorf("NewTokenizer with a %d-byte key: no error", n)
		}
	}
	key := testKey(3)
	tz, err := NewTokenizer(key)
	if err != nil {
		t.Fatal(err)
	}
	want := tz.Token(KindEmail, "jan@example.nl")
	clear(key) // the Tokenizer holds its own copy
	if tz.Token(KindEmail, "jan@example.nl") != want {
		t.Error("changing the caller's key changed the tokens")
	}
}

func TestTokenizerClose(t *testing.T) {
	tz, _ := NewTokenizer(testKey(4))
	tz.Close()
	if tz.ipad != [sha256.BlockSize]byte{} || tz.opad != [sha256.BlockSize]byte{} {
		t.Error("Close left key material")
	}
	defer func() {
		if recover() == nil {
			t.Error("Token after Close did not panic")
		}
	}()
	tz.Token(KindEmail, "jan@example.nl")
}

func TestTokenConcurrent(t *testing.T) {
	tz, _ := NewTokenizer(testKey(5))
	defer tz.Close()
	want := tz.Token(KindPhone, "+31612345678")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if tz.Token(KindPhone, "+31612345678") != want {
					t.Error("concurrent Token differs")
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestTokenAllocs(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocation counts differ under -cover and -race")
	}
	tz, _ := NewTokenizer(testKey(6))
	defer tz.Close()
	v := strings.Repeat("a", maxStackValue)
	if n := testing.AllocsPerRun(100, func() { tz.Token(KindEmail, v) }); n != 0 {
		t.Errorf("Token allocates %v times", n)
	}
}

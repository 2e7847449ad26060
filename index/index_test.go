package index

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindEmail: "email", KindPhone: "phone", KindCustomer: "customer", 0: "kind(0)", 9: "kind(9)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
}

func TestCustomer(t *testing.T) {
	ok := []string{"42", "C-000123", " spaced ", "Ünïcode", strings.Repeat("x", MaxCustomerLen)}
	for _, s := range ok {
		if got, err := (Normalizer{}).Normalize(KindCustomer, s); err != nil || got != s {
			t.Errorf("Customer(%q) = %q, %v; want it unchanged", s, got, err)
		}
	}
	bad := []string{"", strings.Repeat("x", MaxCustomerLen+1), "id\xff"}
	for _, s := range bad {
		_, err := (Normalizer{}).Normalize(KindCustomer, s)
		if err == nil {
			t.Errorf("Customer(%q): no error", s)
		}
		checkError(t, err, KindCustomer, s)
	}
}

func TestNormalizeUnknownKind(t *testing.T) {
	_, err := (Normalizer{}).Normalize(0, "jan@example.nl")
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Normalize(kind 0) = %v, want ErrInvalid", err)
	}
	if _, err := (Term{}).Normalize(Normalizer{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("zero Term: %v, want ErrInvalid", err)
	}
}

func TestTerm(t *testing.T) {
	n := Normalizer{Region: "NL", FoldProviders: true}
	tests := []struct {
		term  Term
		kind  Kind
		value string
		str   string
		norm  string
	}{
		{Email("Jan.Smit+x@GMail.com"), KindEmail, "Jan.Smit+x@GMail.com", "email term", "jansmit@gmail.com"},
		{Phone("06-12345678"), KindPhone, "06-12345678", "phone term", "+31612345678"},
		{Customer("C-12345"), KindCustomer, "C-12345", "customer term", "C-12345"},
	}
	for _, tt := range tests {
		if tt.term.Kind() != tt.kind || tt.term.Value() != tt.value {
			t.Errorf("term %v: kind %v value %q", tt.term, tt.term.Kind(), tt.term.Value())
		}
		got, err := tt.term.Normalize(n)
		if err != nil || got != tt.norm {
			t.Errorf("%v.Normalize = %q, %v; want %q", tt.term, got, err, tt.norm)
		}
		// However it is printed, the value does not show.
		var logged bytes.Buffer
		slog.New(slog.NewTextHandler(&logged, nil)).Info("find", "term", tt.term)
		slog.New(slog.NewJSONHandler(&logged, nil)).Info("find", "term", tt.term)
		for _, s := range []string{tt.term.String(), fmt.Sprint(tt.term), fmt.Sprintf("%v %+v %#v %s %q", tt.term, tt.term, tt.term, tt.term, tt.term), logged.String()} {
			if strings.Contains(s, tt.value) {
				t.Errorf("printed term %q shows its value", s)
			}
		}
		if !strings.Contains(logged.String(), tt.str) {
			t.Errorf("log %q does not name the %s", logged.String(), tt.str)
		}
		if tt.term.String() != tt.str {
			t.Errorf("String() = %q, want %q", tt.term.String(), tt.str)
		}
	}
}

func TestErrorText(t *testing.T) {
	err := error(&Error{Kind: KindPhone, Reason: "too short"})
	if got := err.Error(); got != "index: invalid phone: too short" {
		t.Errorf("Error() = %q", got)
	}
	wrapped := fmt.Errorf("store: find: %w", err)
	if !errors.Is(wrapped, ErrInvalid) || errors.Is(wrapped, ErrRegion) {
		t.Errorf("errors.Is on %v is wrong", wrapped)
	}
}

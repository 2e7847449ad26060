package index

import (
	"errors"
	"strings"
	"testing"
)

func TestPhone(t *testing.T) {
	tests := []struct {
		region, in, want string // want "" means an error
	}{
		// Dutch mobiles in every common writing.
		{"NL", "06-12345678", "+31612345678"},
		{"NL", "06 1234 5678", "+31612345678"},
		{"NL", "06 12 34 56 78", "+31612345678"},
		{"NL", "0612345678", "+31612345678"},
		{"NL", "(06) 12345678", "+31612345678"},
		{"NL", "06.12.34.56.78", "+31612345678"},
		{"NL", "+31 6 12345678", "+31612345678"},
		{"NL", "+31612345678", "+31612345678"},
		{"NL", "+31 (0)6 12345678", "+31612345678"},
		{"NL", "+31 (0) 6-12345678", "+31612345678"},
		{"NL", "+31-(0)6-1234-5678", "+31612345678"},
		{"NL", "0031612345678", "+31612345678"},
		{"NL", "0031 6 12345678", "+31612345678"},
		{"NL", "tel:+31-6-1234-5678", "+31612345678"},
		{"NL", "TEL:+31612345678", "+31612345678"},
		{"NL", "tel:06-12345678;phone-context=+31", "+31612345678"},
		{"NL", "０６－１２３４５６７８", "+31612345678"},
		{"nl", "06-12345678", "+31612345678"},
		// Dutch landlines and service numbers.
		{"NL", "020-1234567", "+31201234567"},
		{"NL", "020 123 4567", "+31201234567"},
		{"NL", "+31 (0)20 123 4567", "+31201234567"},
		{"", "+31 (0)20 123 4567", "+31201234567"},
		{"NL", "070-3456789", "+31703456789"},
		{"NL", "010 - 234 56 78", "+31102345678"},
		{"NL", "0800 1234", "+318001234"},
		{"NL", "0800-0123456", "+318000123456"},
		{"NL", "085 123 4567", "+31851234567"},
		{"NL", "088-1234567", "+31881234567"},
		// Extensions are dropped.
		{"NL", "020-1234567 ext. 12", "+31201234567"},
		{"NL", "020-1234567 x12", "+31201234567"},
		{"", "tel:+31201234567;ext=12", "+31201234567"},
		// Without a region: a country code is needed, "00" is read as "+".
		{"", "+31 6 12345678", "+31612345678"},
		{"", "0031 6 12345678", "+31612345678"},
		{"", "06-12345678", ""},
		{"", "612345678", ""},
		// Belgian, German, UK.
		{"BE", "02 123 45 67", "+3221234567"},
		{"BE", "0470 12 34 56", "+32470123456"},
		{"NL", "+32 470 12 34 56", "+32470123456"},
		{"NL", "0032 2 123 45 67", "+3221234567"},
		{"DE", "030 123456", "+4930123456"},
		{"DE", "0151 23456789", "+4915123456789"},
		{"NL", "+49 (0)30 123456", "+4930123456"},
		{"NL", "+49 151 23456789", "+4915123456789"},
		{"GB", "020 7946 0958", "+442079460958"},
		{"GB", "07700 900123", "+447700900123"},
		{"NL", "+44 (0)20 7946 0958", "+442079460958"},
		{"", "+44 7700 900123", "+447700900123"},
		// US, with region US and with +1.
		{"US", "(212) 555-0123", "+12125550123"},
		{"US", "212.555.0123", "+12125550123"},
		{"US", "1 212 555 0123", "+12125550123"},
		{"US", "1-800-FLOWERS", "+18003569377"},
		{"US", "011 31 6 12345678", "+31612345678"},
		{"NL", "+1 212 555 0123", "+12125550123"},
		{"", "+1 (212) 555-0123", "+12125550123"},
		{"NL", "001 212 555 0123", "+12125550123"},
		// Possible but not (yet) valid: accepted, new ranges must not be refused.
		{"NL", "+31 6 1234567", "+3161234567"},
		{"BE", "+32 2 123 45 67", "+3221234567"},
		// Refused.
		{"NL", "", ""},
		{"NL", "   ", ""},
		{"NL", "abc", ""},
		{"NL", "06", ""},
		{"NL", "+31 6 12345678 12345", ""},
		{"NL", "+999 12345678", ""},
		{"NL", "+31612345678#", ""},
		{"NL", "06-1234\x005678", ""},
		{"NL", "06-1234\n5678", ""},
		{"NL", "06-1234\xff5678", ""},
		{"NL", "06-" + strings.Repeat("1", 300), ""},
		{"US", "0031612345678", ""},
		{"NL", "+31 (0)0 0000 0000", ""}, // E.164 "+3100000000000" would read as "+310000000000"
	}
	for _, tt := range tests {
		got, err := Normalizer{Region: tt.region}.Phone(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("Phone(%q) in %q = %q, want an error", tt.in, tt.region, got)
			}
			checkError(t, err, KindPhone, tt.in)
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Phone(%q) in %q = %q, %v; want %q", tt.in, tt.region, got, err, tt.want)
		}
	}
}

func TestPhoneNeedsRegion(t *testing.T) {
	_, err := Normalizer{}.Phone("06-12345678")
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(e.Reason, "region") {
		t.Fatalf("Phone without a region and a country code: %v, want an error naming the region", err)
	}
}

func TestRegion(t *testing.T) {
	for _, r := range []string{"", "NL", "nl", "US", "GB", "BE", "DE"} {
		if err := (Normalizer{Region: r}).Validate(); err != nil {
			t.Errorf("Validate(%q) = %v", r, err)
		}
	}
	for _, r := range []string{"XX", "ZZ", "001", "N", "NLD", "UK"} {
		n := Normalizer{Region: r}
		if err := n.Validate(); !errors.Is(err, ErrRegion) {
			t.Errorf("Validate(%q) = %v, want ErrRegion", r, err)
		}
		if _, err := n.Phone("+31612345678"); !errors.Is(err, ErrRegion) {
			t.Errorf("Phone with region %q = %v, want ErrRegion", r, err)
		}
		if _, err := n.Email("jan@example.nl"); err != nil {
			t.Errorf("Email with region %q = %v, want no error", r, err)
		}
	}
}

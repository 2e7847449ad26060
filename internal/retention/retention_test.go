package retention

import (
	"strings"
	"testing"
	"time"
)

var channels = []string{"email", "phone", "chat", "social", "letter", "web", "other"}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want Duration
		err  string
	}{
		{"P30D", Duration{Days: 30}, ""},
		{"P6M", Duration{Months: 6}, ""},
		{"P7Y", Duration{Years: 7}, ""},
		{"P2W", Duration{Weeks: 2}, ""},
		{"P1Y2M10DT2H30M15S", Duration{Years: 1, Months: 2, Days: 10, Hours: 2, Minutes: 30, Seconds: 15}, ""},
		{"PT12H", Duration{Hours: 12}, ""},
		{"PT1M", Duration{Minutes: 1}, ""},
		{"", Duration{}, "must start with P"},
		{"30D", Duration{}, "must start with P"},
		{"P", Duration{}, "no components"},
		{"PT", Duration{}, "nothing after T"},
		{"P0D", Duration{}, "zero"},
		{"P1M1Y", Duration{}, "out of place"},
		{"P1H", Duration{}, "out of place"},
		{"PT1D", Duration{}, "out of place"},
		{"P1.5Y", Duration{}, "fractions are not supported"},
		{"P-1Y", Duration{}, "followed by a unit"},
		{"P1Y1Y", Duration{}, "out of place"},
		{"P99999999Y", Duration{}, "too large"},
		{"P1YT", Duration{}, "nothing after T"},
		{"P1Y ", Duration{}, "followed by a unit"},
	}
	for _, tc := range tests {
		got, err := ParseDuration(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %+v, %v", tc.in, got, err)
		}
		if got.String() != tc.in {
			t.Errorf("%q: String() = %q", tc.in, got.String())
		}
	}
}

func TestAddTo(t *testing.T) {
	base := time.Date(2024, 1, 31, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		d    string
		want time.Time
	}{
		{"P1M", time.Date(2024, 3, 2, 10, 0, 0, 0, time.UTC)}, // 31 Feb 2024 normalises to 2 March
		{"P7Y", time.Date(2031, 1, 31, 10, 0, 0, 0, time.UTC)},
		{"P30D", time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)},
		{"P1DT2H", time.Date(2024, 2, 1, 12, 0, 0, 0, time.UTC)},
	} {
		d, err := ParseDuration(tc.d)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.AddTo(base); !got.Equal(tc.want) {
			t.Errorf("%s: %v, want %v", tc.d, got, tc.want)
		}
	}
}

func TestPolicy(t *testing.T) {
	p, err := Parse([]byte(`{"default":"P2Y","rules":[
		{"category":"chat","retention":"P30D"},
		{"category":"order","retention":"P7Y"},
		{"channel":"phone","retention":"P6M"},
		{"category":"order","channel":"phone","retention":"P1Y"}]}`), channels)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ cat, ch, want string }{
		{"general", "email", "P2Y"},
		{"chat", "chat", "P30D"},
		{"order", "email", "P7Y"},
		{"order", "phone", "P1Y"},
		{"general", "phone", "P6M"},
		{"chat", "phone", "P30D"},
	} {
		if got := p.Term(tc.cat, tc.ch).String(); got != tc.want {
			t.Errorf("%s/%s: %s, want %s", tc.cat, tc.ch, got, tc.want)
		}
	}
}

func TestPolicyRefused(t *testing.T) {
	for in, want := range map[string]string{
		`{}`:                             `"default" is required`,
		`{"default":"2 years"}`:          "must start with P",
		`{"default":"P2Y","rules":[{}]}`: "neither a category nor a channel",
		`{"default":"P2Y","rules":[{"channel":"fax","retention":"P1Y"}]}`:                                   `unknown channel "fax"`,
		`{"default":"P2Y","rules":[{"category":"a"}]}`:                                                      `"retention" is required`,
		`{"default":"P2Y","rules":[{"category":"a","retention":"P1Y"},{"category":"a","retention":"P2Y"}]}`: "repeats",
		`{"default":"P2Y","extra":1}`:                                                                       "unknown field",
		`{"default":"P2Y"} {}`:                                                                              "data after",
		`[`:                                                                                                 "invalid retention policy",
	} {
		if _, err := Parse([]byte(in), channels); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", in, err, want)
		}
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"P30D", "P1Y2M10DT2H30M15S", "PT", "P1M1Y", "P0D", "P9999999Y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		// Whatever parses has one canonical form that parses back to the same value.
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Fatalf("%q → %q → %+v, %v", s, d.String(), back, err)
		}
		_ = d.AddTo(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	})
}

func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(`{"default":"P2Y","rules":[{"category":"chat","retention":"P30D"}]}`))
	f.Add([]byte(`{"default":"P2Y","rules":[{"channel":"phone","retention":"P6M"}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := Parse(in, channels)
		if err != nil {
			return
		}
		_ = p.Term("general", "email")
	})
}

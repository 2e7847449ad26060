// Package retention parses retention policies: a default term plus rules by contact category
// and/or channel, with terms as ISO 8601 durations (P30D, P6M, P7Y, P1Y6M, PT12H). The most
// specific rule wins: category and channel, then category, then channel, then the default.
// A term runs from the contact's time, in calendar units (a month is a calendar month).
package retention

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Duration is an ISO 8601 duration in calendar units. Fractions are not supported.
type Duration struct {
	Years, Months, Weeks, Days, Hours, Minutes, Seconds int
}

// maxTerm bounds each component, so that no term overflows a time.
const maxComponent = 1000000

// ParseDuration parses an ISO 8601 duration such as P30D, P6M, P7Y, P1Y2M10DT2H30M or P2W.
// Zero durations (P0D) are refused: a retention term of nothing is a mistake.
func ParseDuration(s string) (Duration, error) {
	var d Duration
	orig := s
	bad := func(why string) (Duration, error) {
		return Duration{}, fmt.Errorf("invalid ISO 8601 duration %q: %s", orig, why)
	}
	if !strings.HasPrefix(s, "P") {
		return bad("it must start with P")
	}
	s = s[1:]
	if s == "" {
		return bad("no components")
	}
	inTime, any := false, false
	order := "YMWD"
	for s != "" {
		if s[0] == 'T' {
			if inTime {
				return bad("a second T")
			}
			inTime, order, s = true, "HMS", s[1:]
			if s == "" {
				return bad("nothing after T")
			}
			continue
		}
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i == len(s) {
			return bad("a number must be followed by a unit")
		}
		if i > 7 {
			return bad("number too large")
		}
		n, _ := strconv.Atoi(s[:i])
		if n > maxComponent {
			return bad("number too large")
		}
		unit := s[i]
		if unit == '.' || unit == ',' {
			return bad("fractions are not supported")
		}
		k := strings.IndexByte(order, unit)
		if k < 0 {
			return bad(fmt.Sprintf("unit %q out of place", unit))
		}
		order = order[k+1:]
		switch {
		case !inTime && unit == 'Y':
			d.Years = n
		case !inTime && unit == 'M':
			d.Months = n
		case !inTime && unit == 'W':
			d.Weeks = n
		case !inTime && unit == 'D':
			d.Days = n
		case inTime && unit == 'H':
			d.Hours = n
		case inTime && unit == 'M':
			d.Minutes = n
		case inTime && unit == 'S':
			d.Seconds = n
		}
		any = any || n > 0
		s = s[i+1:]
	}
	if !any {
		return bad("a term of zero")
	}
	return d, nil
}

// String returns the canonical ISO 8601 form (components in order, zero ones left out).
func (d Duration) String() string {
	var b strings.Builder
	b.WriteByte('P')
	for _, c := range []struct {
		n int
		u byte
	}{{d.Years, 'Y'}, {d.Months, 'M'}, {d.Weeks, 'W'}, {d.Days, 'D'}} {
		if c.n > 0 {
			b.WriteString(strconv.Itoa(c.n))
			b.WriteByte(c.u)
		}
	}
	if d.Hours > 0 || d.Minutes > 0 || d.Seconds > 0 {
		b.WriteByte('T')
		for _, c := range []struct {
			n int
			u byte
		}{{d.Hours, 'H'}, {d.Minutes, 'M'}, {d.Seconds, 'S'}} {
			if c.n > 0 {
				b.WriteString(strconv.Itoa(c.n))
				b.WriteByte(c.u)
			}
		}
	}
	return b.String()
}

// AddTo returns t plus the duration, calendar units first (as time.AddDate normalises: 31
// January plus one month is 3 March), then clock units.
func (d Duration) AddTo(t time.Time) time.Time {
	t = t.AddDate(d.Years, d.Months, 7*d.Weeks+d.Days)
	return t.Add(time.Duration(d.Hours)*time.Hour + time.Duration(d.Minutes)*time.Minute + time.Duration(d.Seconds)*time.Second)
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	p, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// Rule sets the term of contacts of a category, a channel, or both.
type Rule struct {
	Category  string   `json:"category,omitempty"`
	Channel   string   `json:"channel,omitempty"`
	Retention Duration `json:"retention"`
}

// Policy is a default term and rules.
type Policy struct {
	Default Duration `json:"default"`
	Rules   []Rule   `json:"rules,omitempty"`
}

// Parse reads a policy's JSON form, e.g.
// {"default":"P2Y","rules":[{"category":"chat","retention":"P30D"}]}, and validates it:
// a default is required, every rule names a category or a channel (channel one of
// channels, if given), and no two rules name the same category and channel.
func Parse(data []byte, channels []string) (*Policy, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p Policy
	var raw struct {
		Default *Duration `json:"default"`
		Rules   []Rule    `json:"rules"`
	}
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("invalid retention policy: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid retention policy: data after the policy")
	}
	if raw.Default == nil {
		return nil, errors.New(`invalid retention policy: "default" is required`)
	}
	p.Default, p.Rules = *raw.Default, raw.Rules
	seen := map[[2]string]bool{}
	for i, r := range p.Rules {
		if r.Category == "" && r.Channel == "" {
			return nil, fmt.Errorf("invalid retention policy: rule %d names neither a category nor a channel", i+1)
		}
		if r.Channel != "" && !contains(channels, r.Channel) {
			return nil, fmt.Errorf("invalid retention policy: rule %d: unknown channel %q (one of %s)", i+1, r.Channel, strings.Join(channels, ", "))
		}
		if (r.Retention == Duration{}) {
			return nil, fmt.Errorf(`invalid retention policy: rule %d: "retention" is required`, i+1)
		}
		k := [2]string{r.Category, r.Channel}
		if seen[k] {
			return nil, fmt.Errorf("invalid retention policy: rule %d repeats an earlier rule's category and channel", i+1)
		}
		seen[k] = true
	}
	return &p, nil
}

func contains(set []string, s string) bool {
	for _, v := range set {
		if v == s {
			return true
		}
	}
	return false
}

// Term returns the term for a contact's category and channel: the most specific rule
// (category and channel, then category, then channel), else the default.
func (p *Policy) Term(category, channel string) Duration {
	best, score := p.Default, 0
	for _, r := range p.Rules {
		s := 0
		switch {
		case r.Category == category && r.Channel == channel && r.Category != "" && r.Channel != "":
			s = 3
		case r.Category == category && r.Channel == "" && r.Category != "":
			s = 2
		case r.Channel == channel && r.Category == "" && r.Channel != "":
			s = 1
		}
		if s > score {
			best, score = r.Retention, s
		}
	}
	return best
}

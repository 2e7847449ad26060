package transfer

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// FuzzLoad: Load never panics; what it accepts survives a round trip and decides without panic.
func FuzzLoad(f *testing.F) {
	f.Add(embedded)
	f.Add([]byte(validBase))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"format":"contactstore/transfer-rules/v1","version":"v","as_of":"2026-01-01","eea":["NL"],"adequacy":[]}`))
	f.Add([]byte(`{"format":"contactstore/transfer-rules/v1","version":"v","as_of":"2026-01-01","eea":["NL"],"adequacy":[{"country":"XP","type":"international-organisation","name":"n","decision":"d","adopted":"2020-02-29","scope":"full","scope_note":"n","source":"https://europa.eu/x","expires":"2020-03-01"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Load(data)
		if err != nil {
			if r != nil {
				t.Fatal("rules returned with an error")
			}
			if !strings.HasPrefix(err.Error(), "transfer rules: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		out, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		r2, err := Load(out)
		if err != nil {
			t.Fatalf("Load(MarshalJSON()) failed: %v\n%s", err, out)
		}
		out2, _ := r2.MarshalJSON()
		if !bytes.Equal(out, out2) {
			t.Fatalf("round trip differs:\n%s\n%s", out, out2)
		}
		now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
		for _, c := range r.EEA() {
			if d := r.Decide(Request{Country: c}, now); !d.Allowed || d.Ground != GroundEEA {
				t.Fatalf("EEA member %s: %+v", c, d)
			}
		}
		for _, a := range r.Adequate() {
			for _, req := range []Request{{Country: a.Country}, {Country: a.Country, DPF: true, Commercial: true}, {Country: a.Country, Objections: []string{ObjectNonEEA}}} {
				checkDecision(t, req, r.Decide(req, now))
			}
		}
	})
}

// FuzzDecide: Decide never panics, and its answers keep the invariants whatever the input.
func FuzzDecide(f *testing.F) {
	f.Add("NL", false, false, "", "", int64(1796000000))
	f.Add("us", true, false, "", "non-eea", int64(1796000000))
	f.Add("CA", false, true, "SCC", "", int64(0))
	f.Add("GB", false, false, "", "", int64(1956000000))
	f.Add("EU", false, false, "consent", "all", int64(-1))
	f.Add("ÑL", false, false, "legal-claims", "x,non-eea", int64(1<<40))
	f.Add("", true, true, "bogus", "", int64(1796000000))
	f.Fuzz(func(t *testing.T, country string, dpf, commercial bool, safeguard, objections string, unix int64) {
		var objs []string
		if objections != "" {
			objs = strings.Split(objections, ",")
		}
		req := Request{Recipient: recipient, Country: country, DPF: dpf, Commercial: commercial, Safeguard: safeguard, Objections: objs}
		checkDecision(t, req, Default().Decide(req, time.Unix(unix, 0).UTC()))
	})
}

// checkDecision asserts what must hold of every decision.
func checkDecision(t *testing.T, req Request, d Decision) {
	t.Helper()
	if d.Reason == "" {
		t.Fatalf("no reason: %+v", d)
	}
	if d.Allowed {
		if d.Ground == "" || d.Remedy != "" || d.Objection != "" {
			t.Fatalf("allowed without a ground, or with a remedy or objection: %+v", d)
		}
	} else if d.Ground != "" {
		t.Fatalf("refused with a ground: %+v", d)
	}
	if !d.Allowed && d.Objection == "" && d.Remedy == "" {
		t.Fatalf("refused without a remedy: %+v", d)
	}
	if d.Country != strings.ToUpper(d.Country) || len(d.Country) > 2 {
		t.Fatalf("country not normalised: %q", d.Country)
	}
	hasAll, hasNonEEA, unknown := false, false, false
	for _, o := range req.Objections {
		switch v, err := ParseObjection(o); {
		case err != nil:
			unknown = true
		case v == ObjectAll:
			hasAll = true
		case v == ObjectNonEEA:
			hasNonEEA = true
		}
	}
	if (hasAll || unknown) && d.Allowed {
		t.Fatalf("allowed despite objections %q: %+v", req.Objections, d)
	}
	if d.Allowed && hasNonEEA && d.Ground != GroundEEA {
		t.Fatalf("allowed outside the EEA despite a non-eea objection: %+v", d)
	}
	if _, err := ParseSafeguard(req.Safeguard); err != nil && d.Allowed {
		t.Fatalf("allowed with an unknown safeguard %q: %+v", req.Safeguard, d)
	}
	if d.Allowed && d.Ground == GroundAdequacyDPF && !req.DPF {
		t.Fatalf("DPF ground without DPF: %+v", d)
	}
	if strings.Contains(d.Reason, "Recipient-Marker") || strings.Contains(d.Remedy, "Recipient-Marker") {
		t.Fatalf("the recipient's name leaked: %+v", d)
	}
}

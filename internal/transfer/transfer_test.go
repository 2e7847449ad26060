package transfer

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// today is the date the embedded list is meant to be current to.
var today = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// recipient is a recipient name no reason or remedy may ever contain.
const recipient = "Mr. Jan Recipient-Marker, Advocaat"

var eu27 = []string{"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
	"IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"}

func date(s string) time.Time {
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestDecide(t *testing.T) {
	r := Default()
	type want struct {
		allowed   bool
		ground    string
		country   string
		decision  string   // the adequacy entry's code expected in Decision.Decision, "" for none
		objection string   // Decision.Objection
		reason    []string // substrings of Reason
		remedy    []string // substrings of Remedy; nil: must be empty when refused by an objection
	}
	tests := []struct {
		name string
		req  Request
		now  time.Time
		want want
	}{
		// EEA: EU member states and the EEA-EFTA states.
		{"EU member", Request{Country: "NL"}, today, want{allowed: true, ground: GroundEEA, country: "NL", reason: []string{"Netherlands (NL)", "EEA member state"}}},
		{"EU member lower case", Request{Country: "de"}, today, want{allowed: true, ground: GroundEEA, country: "DE"}},
		{"EU member mixed case and spaces", Request{Country: " fR "}, today, want{allowed: true, ground: GroundEEA, country: "FR"}},
		{"EEA-EFTA Iceland", Request{Country: "IS"}, today, want{allowed: true, ground: GroundEEA, country: "IS"}},
		{"EEA-EFTA Liechtenstein", Request{Country: "li"}, today, want{allowed: true, ground: GroundEEA, country: "LI"}},
		{"EEA-EFTA Norway", Request{Country: "NO"}, today, want{allowed: true, ground: GroundEEA, country: "NO"}},
		{"outermost region", Request{Country: "RE"}, today, want{allowed: true, ground: GroundEEA, country: "RE", reason: []string{"part of France (FR)", "Art. 349 TFEU"}}},
		{"Aland", Request{Country: "AX"}, today, want{allowed: true, ground: GroundEEA, country: "AX", reason: []string{"Finland (FI)"}}},
		{"EEA with a safeguard declared anyway", Request{Country: "NL", Safeguard: SafeguardSCC}, today, want{allowed: true, ground: GroundEEA, country: "NL"}},
		{"EEA with DPF set (ignored)", Request{Country: "BE", DPF: true}, today, want{allowed: true, ground: GroundEEA, country: "BE"}},

		// Overseas countries and territories are outside the EU: a third country.
		{"Greenland is not in the EEA", Request{Country: "GL"}, today, want{country: "GL", reason: []string{"outside the EEA"}, remedy: []string{"--safeguard"}}},
		{"Svalbard is not in the EEA", Request{Country: "SJ"}, today, want{country: "SJ", remedy: []string{"--safeguard"}}},

		// Adequate, full scope.
		{"Switzerland", Request{Country: "CH"}, today, want{allowed: true, ground: GroundAdequacy, country: "CH", decision: "CH", reason: []string{"2000/518/EC", "Art. 45"}}},
		{"New Zealand lower case", Request{Country: "nz"}, today, want{allowed: true, ground: GroundAdequacy, country: "NZ", decision: "NZ"}},
		{"Republic of Korea", Request{Country: "KR"}, today, want{allowed: true, ground: GroundAdequacy, country: "KR", decision: "KR", reason: []string{"(EU) 2022/254"}}},
		{"United Kingdom renewed", Request{Country: "GB"}, today, want{allowed: true, ground: GroundAdequacy, country: "GB", decision: "GB", reason: []string{"2021/1772"}}},
		{"United Kingdom after its 2021 sunset (renewal in force)", Request{Country: "GB"}, date("2026-01-15"), want{allowed: true, ground: GroundAdequacy, country: "GB", decision: "GB"}},
		{"United Kingdom after the renewal's sunset", Request{Country: "GB"}, date("2031-12-27"), want{country: "GB", decision: "GB", reason: []string{"expired on 2031-12-27"}, remedy: []string{"--safeguard", "renewed"}}},
		{"United Kingdom the day before the renewal's sunset", Request{Country: "GB"}, date("2031-12-26").Add(23 * time.Hour), want{allowed: true, ground: GroundAdequacy, country: "GB", decision: "GB"}},
		{"United Kingdom expired, with SCCs", Request{Country: "GB", Safeguard: SafeguardSCC}, date("2032-01-01"), want{allowed: true, ground: SafeguardSCC, country: "GB", decision: "GB", reason: []string{"expired", "Art. 46(2)(c)"}}},
		{"Brazil", Request{Country: "BR"}, today, want{allowed: true, ground: GroundAdequacy, country: "BR", decision: "BR", reason: []string{"(EU) 2026/179"}}},
		{"Brazil before its decision", Request{Country: "BR"}, date("2025-12-01"), want{country: "BR", decision: "BR", reason: []string{"does not apply before 2026-01-26"}, remedy: []string{"--safeguard"}}},
		{"European Patent Organisation", Request{Country: "ep"}, today, want{allowed: true, ground: GroundAdequacy, country: "EP", decision: "EP", reason: []string{"European Patent Organisation (EP)", "2025/1382"}}},

		// Adequate within a scope: United States (DPF).
		{"US without DPF", Request{Country: "US"}, today, want{country: "US", decision: "US", reason: []string{"Data Privacy Framework", "not declared certified"}, remedy: []string{"--dpf", "--safeguard scc|bcr|consent|legal-claims"}}},
		{"US with DPF", Request{Country: "us", DPF: true}, today, want{allowed: true, ground: GroundAdequacyDPF, country: "US", decision: "US", reason: []string{"(EU) 2023/1795"}}},
		{"US with DPF and SCCs: adequacy first", Request{Country: "US", DPF: true, Safeguard: SafeguardSCC}, today, want{allowed: true, ground: GroundAdequacyDPF, country: "US", decision: "US"}},
		{"US without DPF, with SCCs", Request{Country: "US", Safeguard: SafeguardSCC}, today, want{allowed: true, ground: SafeguardSCC, country: "US", decision: "US", reason: []string{"not declared certified", "standard contractual clauses"}}},
		{"US with commercial only", Request{Country: "US", Commercial: true}, today, want{country: "US", decision: "US", remedy: []string{"--dpf"}}},
		{"US with DPF before the DPF decision", Request{Country: "US", DPF: true}, date("2023-07-09"), want{country: "US", decision: "US", reason: []string{"does not apply before 2023-07-10"}}},

		// Adequate within a scope: Canada (commercial organisations).
		{"Canada without commercial", Request{Country: "CA"}, today, want{country: "CA", decision: "CA", reason: []string{"PIPEDA"}, remedy: []string{"--commercial", "--safeguard"}}},
		{"Canada commercial", Request{Country: "CA", Commercial: true}, today, want{allowed: true, ground: GroundAdequacy, country: "CA", decision: "CA", reason: []string{"2002/2/EC"}}},
		{"Canada with DPF only", Request{Country: "CA", DPF: true}, today, want{country: "CA", decision: "CA", remedy: []string{"--commercial"}}},
		{"Canada non-commercial with legal claims", Request{Country: "CA", Safeguard: SafeguardLegalClaims}, today, want{allowed: true, ground: SafeguardLegalClaims, country: "CA", decision: "CA", reason: []string{"Art. 49(1)(e)"}}},

		// Adequate within a scope: Japan (private sector, expressed by Commercial).
		{"Japan commercial", Request{Country: "JP", Commercial: true}, today, want{allowed: true, ground: GroundAdequacy, country: "JP", decision: "JP", reason: []string{"2019/419"}}},
		{"Japan not commercial", Request{Country: "JP"}, today, want{country: "JP", decision: "JP", reason: []string{"private-sector"}, remedy: []string{"--commercial"}}},
		{"Japan not commercial, with consent", Request{Country: "JP", Safeguard: SafeguardConsent}, today, want{allowed: true, ground: SafeguardConsent, country: "JP", decision: "JP"}},

		// Other countries: only with a safeguard.
		{"other without safeguard", Request{Country: "CN"}, today, want{country: "CN", reason: []string{"China (CN)", "no adequacy decision", "Art. 46/47", "Art. 49"}, remedy: []string{"--safeguard scc|bcr|consent|legal-claims"}}},
		{"other with SCC", Request{Country: "CN", Safeguard: SafeguardSCC}, today, want{allowed: true, ground: SafeguardSCC, country: "CN", reason: []string{"Art. 46(2)(c)"}}},
		{"other with BCR", Request{Country: "IN", Safeguard: SafeguardBCR}, today, want{allowed: true, ground: SafeguardBCR, country: "IN", reason: []string{"Art. 47"}}},
		{"other with consent", Request{Country: "AU", Safeguard: SafeguardConsent}, today, want{allowed: true, ground: SafeguardConsent, country: "AU", reason: []string{"Art. 49(1)(a)", "explicit consent"}}},
		{"other with legal claims", Request{Country: "SG", Safeguard: SafeguardLegalClaims}, today, want{allowed: true, ground: SafeguardLegalClaims, country: "SG", reason: []string{"Art. 49(1)(e)"}}},
		{"other with upper-case safeguard", Request{Country: "CN", Safeguard: " SCC "}, today, want{allowed: true, ground: SafeguardSCC, country: "CN"}},
		{"other with DPF and commercial (ignored)", Request{Country: "CN", DPF: true, Commercial: true}, today, want{country: "CN", remedy: []string{"--safeguard"}}},
		{"Gibraltar is not the United Kingdom", Request{Country: "GI"}, today, want{country: "GI", remedy: []string{"--safeguard"}}},
		{"unknown safeguard refuses even in the EEA", Request{Country: "NL", Safeguard: "contract"}, today, want{country: "NL", reason: []string{"unknown safeguard \"contract\""}, remedy: []string{"scc, bcr, consent or legal-claims"}}},
		{"unknown safeguard outside the EEA", Request{Country: "CN", Safeguard: "scc,bcr"}, today, want{country: "CN", reason: []string{"unknown safeguard"}, remedy: []string{"scc"}}},

		// Objections: non-eea.
		{"non-eea objection, EEA destination", Request{Country: "NL", Objections: []string{ObjectNonEEA}}, today, want{allowed: true, ground: GroundEEA, country: "NL"}},
		{"non-eea objection, EEA-EFTA destination", Request{Country: "NO", Objections: []string{ObjectNonEEA}}, today, want{allowed: true, ground: GroundEEA, country: "NO"}},
		{"non-eea objection, outermost region", Request{Country: "GP", Objections: []string{ObjectNonEEA}}, today, want{allowed: true, ground: GroundEEA, country: "GP"}},
		{"non-eea objection, adequate country", Request{Country: "CH", Objections: []string{ObjectNonEEA}}, today, want{country: "CH", objection: ObjectNonEEA, reason: []string{"objects", "outside the EEA", "Art. 21", "withdrawal"}}},
		{"non-eea objection, US with DPF", Request{Country: "US", DPF: true, Objections: []string{ObjectNonEEA}}, today, want{country: "US", objection: ObjectNonEEA}},
		{"non-eea objection, other with consent", Request{Country: "CN", Safeguard: SafeguardConsent, Objections: []string{ObjectNonEEA}}, today, want{country: "CN", objection: ObjectNonEEA}},
		{"non-eea objection, international organisation", Request{Country: "EP", Objections: []string{ObjectNonEEA}}, today, want{country: "EP", objection: ObjectNonEEA}},
		{"non-eea objection upper case", Request{Country: "JP", Commercial: true, Objections: []string{"NON-EEA"}}, today, want{country: "JP", objection: ObjectNonEEA}},

		// Objections: all.
		{"all objection, EEA destination", Request{Country: "NL", Objections: []string{ObjectAll}}, today, want{country: "NL", objection: ObjectAll, reason: []string{"any disclosure", "Art. 21", "withdrawal"}}},
		{"all objection, other with SCC", Request{Country: "CN", Safeguard: SafeguardSCC, Objections: []string{ObjectAll}}, today, want{country: "CN", objection: ObjectAll}},
		{"all objection beside non-eea", Request{Country: "DE", Objections: []string{ObjectNonEEA, ObjectAll}}, today, want{country: "DE", objection: ObjectAll}},
		{"all objection with a malformed code", Request{Country: "Nederland", Objections: []string{ObjectAll}}, today, want{country: "", objection: ObjectAll}},
		{"unknown objection refuses", Request{Country: "NL", Objections: []string{"marketing"}}, today, want{country: "NL", reason: []string{"\"marketing\"", "does not know"}, remedy: []string{"non-eea or all"}}},

		// Codes.
		{"unknown code", Request{Country: "ZZ"}, today, want{country: "ZZ", reason: []string{"not an assigned ISO 3166-1"}, remedy: []string{"ISO 3166-1 alpha-2"}}},
		{"EU is not a country", Request{Country: "eu"}, today, want{country: "EU", reason: []string{"not a country", "member state"}, remedy: []string{"ISO 3166-1"}}},
		{"UK is not the code", Request{Country: "UK"}, today, want{country: "UK", reason: []string{"use GB"}}},
		{"EL is not Greece's code", Request{Country: "EL"}, today, want{country: "EL", reason: []string{"use GR"}}},
		{"empty code", Request{}, today, want{country: "", reason: []string{"no country"}, remedy: []string{"ISO 3166-1"}}},
		{"three letters", Request{Country: "NLD"}, today, want{country: "", reason: []string{"\"NLD\"", "two letters"}}},
		{"a name", Request{Country: "Netherlands"}, today, want{country: "", reason: []string{"two letters"}}},
		{"a digit", Request{Country: "N1"}, today, want{country: "", reason: []string{"two letters"}}},
		{"non-ASCII letters", Request{Country: "ÑL"}, today, want{country: ""}},
		{"a long value is not echoed", Request{Country: strings.Repeat("x", 200)}, today, want{country: "", reason: []string{"a 200-byte value"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Recipient = recipient
			d := r.Decide(tc.req, tc.now)
			w := tc.want
			if d.Allowed != w.allowed || d.Ground != w.ground || d.Country != w.country || d.Objection != w.objection {
				t.Fatalf("got allowed=%v ground=%q country=%q objection=%q, want %v %q %q %q\nreason: %s",
					d.Allowed, d.Ground, d.Country, d.Objection, w.allowed, w.ground, w.country, w.objection, d.Reason)
			}
			if d.Reason == "" {
				t.Error("empty reason")
			}
			for _, s := range w.reason {
				if !strings.Contains(d.Reason, s) {
					t.Errorf("reason %q does not contain %q", d.Reason, s)
				}
			}
			switch {
			case d.Allowed && d.Remedy != "":
				t.Errorf("allowed with a remedy %q", d.Remedy)
			case !d.Allowed && d.Objection != "" && d.Remedy != "":
				t.Errorf("refused by an objection, yet remedy %q", d.Remedy)
			case !d.Allowed && d.Objection == "" && d.Remedy == "":
				t.Error("refused without a remedy")
			}
			for _, s := range w.remedy {
				if !strings.Contains(d.Remedy, s) {
					t.Errorf("remedy %q does not contain %q", d.Remedy, s)
				}
			}
			switch {
			case w.decision == "" && d.Decision != nil:
				t.Errorf("decision %+v, want none", d.Decision)
			case w.decision != "" && (d.Decision == nil || d.Decision.Country != w.decision):
				t.Errorf("decision %+v, want %s", d.Decision, w.decision)
			}
			if d.Country != "" && d.CountryName == "" && !strings.Contains(d.Reason, "not") {
				t.Errorf("no country name for %s", d.Country)
			}
			if d.RulesVersion != r.Version() {
				t.Errorf("rules version %q, want %q", d.RulesVersion, r.Version())
			}
			b, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte("Recipient-Marker")) {
				t.Errorf("the recipient's name leaked into the decision: %s", b)
			}
		})
	}
}

// TestEveryMemberState checks every EEA member state is allowed and every adequacy entry is
// decided by its scope.
func TestEveryMemberState(t *testing.T) {
	r := Default()
	eea := r.EEA()
	for _, c := range append(slices.Clone(eu27), "IS", "LI", "NO") {
		if !slices.Contains(eea, c) {
			t.Errorf("%s missing from the EEA list", c)
		}
		if d := r.Decide(Request{Country: c}, today); !d.Allowed || d.Ground != GroundEEA {
			t.Errorf("%s: %+v", c, d)
		}
		if d := r.Decide(Request{Country: strings.ToLower(c), Objections: []string{ObjectNonEEA}}, today); !d.Allowed {
			t.Errorf("%s under a non-eea objection: %+v", c, d)
		}
	}
	if len(eea) != 30 {
		t.Errorf("%d EEA member states, want 30: %v", len(eea), eea)
	}
	for _, c := range []string{"GB", "CH", "GL", "FO", "SJ", "GI", "AD", "MC", "SM", "VA"} {
		if slices.Contains(eea, c) {
			t.Errorf("%s listed as an EEA member state", c)
		}
	}
	for _, a := range r.Adequate() {
		plain := r.Decide(Request{Country: a.Country}, today)
		scoped := r.Decide(Request{Country: a.Country, DPF: a.Scope == ScopeDPF, Commercial: a.Scope != ScopeDPF}, today)
		if !scoped.Allowed {
			t.Errorf("%s within scope %s: refused: %s", a.Country, a.Scope, scoped.Reason)
		}
		if plain.Allowed != (a.Scope == ScopeFull) {
			t.Errorf("%s (scope %s) without a scope flag: allowed=%v", a.Country, a.Scope, plain.Allowed)
		}
	}
}

// TestEmbeddedList pins the adequacy entries the embedded list must hold.
func TestEmbeddedList(t *testing.T) {
	r := Default()
	want := map[string]struct{ decision, adopted, scope string }{
		"AD": {"2010/625/EU", "2010-10-19", ScopeFull},
		"AR": {"2003/490/EC", "2003-06-30", ScopeFull},
		"BR": {"(EU) 2026/179", "2026-01-26", ScopeFull},
		"CA": {"2002/2/EC", "2001-12-20", ScopeCommercial},
		"CH": {"2000/518/EC", "2000-07-26", ScopeFull},
		"EP": {"(EU) 2025/1382", "2025-07-15", ScopeFull},
		"FO": {"2010/146/EU", "2010-03-05", ScopeFull},
		"GB": {"(EU) 2021/1772", "2021-06-28", ScopeFull},
		"GG": {"2003/821/EC", "2003-11-21", ScopeFull},
		"IL": {"2011/61/EU", "2011-01-31", ScopeFull},
		"IM": {"2004/411/EC", "2004-04-28", ScopeFull},
		"JE": {"2008/393/EC", "2008-05-08", ScopeFull},
		"JP": {"(EU) 2019/419", "2019-01-23", ScopePrivateSector},
		"KR": {"(EU) 2022/254", "2021-12-17", ScopeFull},
		"NZ": {"2013/65/EU", "2012-12-19", ScopeFull},
		"US": {"(EU) 2023/1795", "2023-07-10", ScopeDPF},
		"UY": {"2012/484/EU", "2012-08-21", ScopeFull},
	}
	got := r.Adequate()
	if len(got) != len(want) {
		t.Errorf("%d entries, want %d", len(got), len(want))
	}
	for _, a := range got {
		w, ok := want[a.Country]
		if !ok {
			t.Errorf("unexpected entry %s", a.Country)
			continue
		}
		if !strings.Contains(a.Decision, w.decision) || a.Adopted != w.adopted || a.Scope != w.scope {
			t.Errorf("%s: %q %s %s, want %q %s %s", a.Country, a.Decision, a.Adopted, a.Scope, w.decision, w.adopted, w.scope)
		}
		if !strings.HasPrefix(a.Source, "https://eur-lex.europa.eu/") {
			t.Errorf("%s: source %s", a.Country, a.Source)
		}
		if a.Adopted > r.AsOf() {
			t.Errorf("%s adopted %s after the list's as_of %s", a.Country, a.Adopted, r.AsOf())
		}
	}
	if gb, _ := r.AdequacyFor("gb"); gb.Expires != "2031-12-27" {
		t.Errorf("GB expires %q, want 2031-12-27", gb.Expires)
	}
	if ep, _ := r.AdequacyFor("EP"); ep.Type != TypeInternationalOrganisation {
		t.Errorf("EP type %q", ep.Type)
	}
	if r.AsOf() != "2026-11-30" || r.Version() == "" || r.Note() == "" {
		t.Errorf("as_of %q version %q", r.AsOf(), r.Version())
	}
	if n := r.CountryName("ep"); n != "European Patent Organisation" {
		t.Errorf("CountryName(ep) = %q", n)
	}
	if n := r.CountryName("nl"); n != "Netherlands" {
		t.Errorf("CountryName(nl) = %q", n)
	}
	if n := r.CountryName("QQ"); n != "" {
		t.Errorf("CountryName(QQ) = %q", n)
	}
}

func TestISOTable(t *testing.T) {
	if len(iso3166) != 250 { // 249 assigned codes and XK
		t.Errorf("%d codes, want 250", len(iso3166))
	}
	for c, n := range iso3166 {
		if !isCode(c) || n == "" {
			t.Errorf("bad entry %q %q", c, n)
		}
		if _, hinted := codeHints[c]; hinted {
			t.Errorf("%s is both a country and a hint", c)
		}
	}
}

func TestExpiredDecision(t *testing.T) {
	r, err := LoadFile(filepath.Join("testdata", "expired.json"))
	if err != nil {
		t.Fatal(err)
	}
	before := r.Decide(Request{Country: "GB"}, date("2025-06-26"))
	if !before.Allowed || before.Ground != GroundAdequacy {
		t.Errorf("before the sunset: %+v", before)
	}
	at := r.Decide(Request{Country: "GB"}, date("2025-06-27"))
	if at.Allowed || !strings.Contains(at.Reason, "expired on 2025-06-27") || !strings.Contains(at.Remedy, "--safeguard") {
		t.Errorf("on the sunset date: %+v", at)
	}
	if at.Decision == nil || at.Decision.Expires != "2025-06-27" {
		t.Errorf("the expired decision is not reported: %+v", at.Decision)
	}
	later := r.Decide(Request{Country: "GB", Safeguard: SafeguardBCR}, date("2026-01-01"))
	if !later.Allowed || later.Ground != SafeguardBCR || !strings.Contains(later.Reason, "expired") {
		t.Errorf("expired with BCR: %+v", later)
	}
	if d := r.Decide(Request{Country: "CH"}, date("2099-01-01")); !d.Allowed {
		t.Errorf("a decision without sunset refused: %+v", d)
	}
	if d := r.Decide(Request{Country: "CH"}, date("2000-07-25")); d.Allowed {
		t.Errorf("a decision before its adoption allowed: %+v", d)
	}
	// This list knows only three EEA members: others are third countries for it.
	if d := r.Decide(Request{Country: "FR"}, date("2025-01-01")); d.Allowed {
		t.Errorf("FR allowed by a list without it: %+v", d)
	}
	if d := r.Decide(Request{Country: "IS"}, date("2025-01-01")); !d.Allowed || d.RulesVersion != "test-expired" {
		t.Errorf("IS: %+v", d)
	}
}

func TestNilRulesUseDefault(t *testing.T) {
	var r *Rules
	d := r.Decide(Request{Country: "NL"}, today)
	if !d.Allowed || d.RulesVersion != Default().Version() {
		t.Errorf("%+v", d)
	}
}

func TestZeroTimeRefusesAdequacy(t *testing.T) {
	d := Default().Decide(Request{Country: "CH"}, time.Time{})
	if d.Allowed {
		t.Errorf("adequacy allowed at the zero time: %+v", d)
	}
}

func TestParseSafeguard(t *testing.T) {
	for in, want := range map[string]string{
		"": SafeguardNone, " ": SafeguardNone, "scc": SafeguardSCC, "SCC": SafeguardSCC, " bcr ": SafeguardBCR,
		"Consent": SafeguardConsent, "legal-claims": SafeguardLegalClaims, "LEGAL-CLAIMS": SafeguardLegalClaims,
	} {
		got, err := ParseSafeguard(in)
		if err != nil || got != want {
			t.Errorf("ParseSafeguard(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"none", "contract", "legal claims", "scc,bcr", "art46", strings.Repeat("s", 100)} {
		got, err := ParseSafeguard(in)
		if err == nil || got != "" {
			t.Errorf("ParseSafeguard(%q) = %q, %v; want an error", in, got, err)
			continue
		}
		if !strings.Contains(err.Error(), "scc, bcr, consent, legal-claims") {
			t.Errorf("ParseSafeguard(%q): %v does not list the choices", in, err)
		}
	}
	if _, err := ParseSafeguard(strings.Repeat("s", 100)); strings.Contains(err.Error(), "sss") {
		t.Errorf("a long value is echoed: %v", err)
	}
}

func TestParseObjection(t *testing.T) {
	for in, want := range map[string]string{"non-eea": ObjectNonEEA, "NON-EEA": ObjectNonEEA, " all ": ObjectAll, "All": ObjectAll} {
		if got, err := ParseObjection(in); err != nil || got != want {
			t.Errorf("ParseObjection(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "noneea", "non eea", "everything", "eea"} {
		if got, err := ParseObjection(in); err == nil || got != "" {
			t.Errorf("ParseObjection(%q) = %q, %v; want an error", in, got, err)
		}
	}
}

// validBase is a small valid rules file for the Load tests to break.
const validBase = `{
  "format": "contactstore/transfer-rules/v1",
  "version": "t1",
  "as_of": "2026-01-01",
  "eea": ["NL", "FR"],
  "eea_territories": [{"country": "RE", "part_of": "FR", "note": "outermost region"}],
  "adequacy": [
    {"country": "CH", "type": "country", "name": "Switzerland", "decision": "Commission Decision 2000/518/EC",
     "adopted": "2000-07-26", "scope": "full", "scope_note": "n", "source": "https://eur-lex.europa.eu/eli/dec/2000/518/oj"},
    {"country": "US", "type": "country", "name": "United States", "decision": "Commission Implementing Decision (EU) 2023/1795",
     "adopted": "2023-07-10", "scope": "dpf", "scope_note": "n", "source": "https://eur-lex.europa.eu/eli/dec_impl/2023/1795/oj"}
  ]
}`

func TestLoadValidBase(t *testing.T) {
	r, err := Load([]byte(validBase))
	if err != nil {
		t.Fatal(err)
	}
	if d := r.Decide(Request{Country: "RE"}, today); !d.Allowed {
		t.Error(d.Reason)
	}
}

func TestLoadRejects(t *testing.T) {
	// mutate decodes validBase, applies f and encodes the result.
	mutate := func(f func(m map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal([]byte(validBase), &m); err != nil {
			panic(err)
		}
		f(m)
		b, err := json.Marshal(m)
		if err != nil {
			panic(err)
		}
		return string(b)
	}
	entry := func(m map[string]any, i int) map[string]any { return m["adequacy"].([]any)[i].(map[string]any) }
	tests := []struct {
		name string
		data string
		want []string
	}{
		{"empty", ``, []string{"not valid JSON"}},
		{"null", `null`, []string{"format: missing"}},
		{"array", `[]`, []string{"not valid JSON"}},
		{"syntax error has a line", "{\n  \"format\": \"x\",\n  oops\n}", []string{"not valid JSON", "line 3"}},
		{"trailing data", validBase + ` {}`, []string{"data after the JSON object"}},
		{"unknown field", mutate(func(m map[string]any) { m["countries"] = 1 }), []string{"unknown field", "countries"}},
		{"unknown entry field", mutate(func(m map[string]any) { entry(m, 0)["valid_until"] = "2030-01-01" }), []string{"unknown field", "valid_until"}},
		{"wrong type", mutate(func(m map[string]any) { entry(m, 1)["adopted"] = 20230710 }), []string{"not valid JSON", "adequacy.adopted"}},
		{"member name in another case", strings.Replace(validBase, `"version"`, `"Version"`, 1), []string{`member "Version": unknown name`, "case-sensitive"}},
		{"entry member name in another case", strings.Replace(validBase, `"scope": "dpf"`, `"SCOPE": "dpf"`, 1), []string{`member "SCOPE"`}},
		{"duplicate member", strings.Replace(validBase, `"scope": "dpf"`, `"scope": "full", "scope": "dpf"`, 1), []string{`member "scope" given twice`}},
		{"duplicate top-level member", strings.Replace(validBase, `"version": "t1",`, `"version": "t1", "version": "t2",`, 1), []string{`member "version" given twice`}},
		{"no format", mutate(func(m map[string]any) { delete(m, "format") }), []string{"format: missing"}},
		{"other format", mutate(func(m map[string]any) { m["format"] = "contactstore/transfer-rules/v9" }), []string{"format:", "v9", "is not"}},
		{"no version", mutate(func(m map[string]any) { delete(m, "version") }), []string{"version: missing"}},
		{"control character in version", mutate(func(m map[string]any) { m["version"] = "a\nb" }), []string{"version:", "control character"}},
		{"bad as_of", mutate(func(m map[string]any) { m["as_of"] = "30-11-2026" }), []string{"as_of:", "not a date"}},
		{"no eea", mutate(func(m map[string]any) { delete(m, "eea") }), []string{"eea: missing or empty"}},
		{"lower-case eea code", mutate(func(m map[string]any) { m["eea"] = []any{"NL", "fr"} }), []string{"eea[1]:", `"fr"`, "upper-case"}},
		{"unassigned eea code", mutate(func(m map[string]any) { m["eea"] = []any{"NL", "FR", "QQ"} }), []string{"eea[2]:", "QQ", "not an assigned"}},
		{"EU as an eea code", mutate(func(m map[string]any) { m["eea"] = []any{"EU"} }), []string{"eea[0]:", "not a country"}},
		{"duplicate eea code", mutate(func(m map[string]any) { m["eea"] = []any{"NL", "FR", "NL"} }), []string{"eea[2]:", "NL listed twice"}},
		{"territory of a non-member", mutate(func(m map[string]any) {
			m["eea_territories"] = []any{map[string]any{"country": "RE", "part_of": "GB", "note": "n"}}
		}), []string{"eea_territories[0] (RE): part_of:", "GB"}},
		{"territory that is a member", mutate(func(m map[string]any) {
			m["eea_territories"] = []any{map[string]any{"country": "NL", "part_of": "FR", "note": "n"}}
		}), []string{"eea_territories[0] (NL): country: already an EEA member state"}},
		{"territory without note", mutate(func(m map[string]any) {
			m["eea_territories"] = []any{map[string]any{"country": "RE", "part_of": "FR"}}
		}), []string{"eea_territories[0] (RE): note: missing"}},
		{"no type", mutate(func(m map[string]any) { delete(entry(m, 0), "type") }), []string{"adequacy[0]: type: missing"}},
		{"unknown type", mutate(func(m map[string]any) { entry(m, 0)["type"] = "region" }), []string{"adequacy[0]: type:", `"region"`}},
		{"lower-case code", mutate(func(m map[string]any) { entry(m, 1)["country"] = "us" }), []string{"adequacy[1]: country:", `"us"`}},
		{"unassigned code", mutate(func(m map[string]any) { entry(m, 1)["country"] = "QQ" }), []string{"adequacy[1]: country:", "QQ is not an assigned"}},
		{"UK instead of GB", mutate(func(m map[string]any) { entry(m, 1)["country"] = "UK" }), []string{"adequacy[1]: country:", "use GB"}},
		{"organisation with an ISO code", mutate(func(m map[string]any) {
			entry(m, 0)["type"] = "international-organisation"
		}), []string{"adequacy[0]: country: CH is an ISO 3166-1 country code"}},
		{"organisation with a long code", mutate(func(m map[string]any) {
			entry(m, 0)["type"] = "international-organisation"
			entry(m, 0)["country"] = "EPO"
		}), []string{"adequacy[0]: country:", "two-letter"}},
		{"organisation with EU", mutate(func(m map[string]any) {
			entry(m, 0)["type"] = "international-organisation"
			entry(m, 0)["country"] = "EU"
		}), []string{"adequacy[0]: country: EU is reserved"}},
		{"member state with a decision", mutate(func(m map[string]any) { entry(m, 0)["country"] = "NL" }), []string{"adequacy[0] (NL): country: an EEA member state"}},
		{"territory with a decision", mutate(func(m map[string]any) { entry(m, 0)["country"] = "RE" }), []string{"adequacy[0] (RE): country: already listed in eea_territories"}},
		{"duplicate code", mutate(func(m map[string]any) { entry(m, 1)["country"] = "CH" }), []string{"adequacy[1] (CH): country: listed twice"}},
		{"no name", mutate(func(m map[string]any) { entry(m, 0)["name"] = "  " }), []string{"adequacy[0] (CH): name: missing or blank"}},
		{"no decision", mutate(func(m map[string]any) { delete(entry(m, 0), "decision") }), []string{"adequacy[0] (CH): decision: missing"}},
		{"no adopted", mutate(func(m map[string]any) { delete(entry(m, 1), "adopted") }), []string{"adequacy[1] (US): adopted: missing"}},
		{"bad adopted", mutate(func(m map[string]any) { entry(m, 1)["adopted"] = "2023-13-10" }), []string{"adequacy[1] (US): adopted:", `"2023-13-10" is not a date`}},
		{"adopted with time", mutate(func(m map[string]any) { entry(m, 1)["adopted"] = "2023-07-10T00:00:00Z" }), []string{"adequacy[1] (US): adopted:", "not a date"}},
		{"no scope", mutate(func(m map[string]any) { delete(entry(m, 1), "scope") }), []string{"adequacy[1] (US): scope: missing"}},
		{"unknown scope", mutate(func(m map[string]any) { entry(m, 1)["scope"] = "partial" }), []string{"adequacy[1] (US): scope:", `"partial"`}},
		{"no scope_note", mutate(func(m map[string]any) { delete(entry(m, 1), "scope_note") }), []string{"adequacy[1] (US): scope_note: missing"}},
		{"no source", mutate(func(m map[string]any) { delete(entry(m, 0), "source") }), []string{"adequacy[0] (CH): source: missing"}},
		{"http source", mutate(func(m map[string]any) { entry(m, 0)["source"] = "http://eur-lex.europa.eu/x" }), []string{"adequacy[0] (CH): source:", "not an https URL"}},
		{"source elsewhere", mutate(func(m map[string]any) { entry(m, 0)["source"] = "https://example.com/eur-lex.europa.eu" }), []string{"adequacy[0] (CH): source: host", "not a europa.eu site"}},
		{"source lookalike host", mutate(func(m map[string]any) { entry(m, 0)["source"] = "https://evil-europa.eu/x" }), []string{"not a europa.eu site"}},
		{"source with user info", mutate(func(m map[string]any) { entry(m, 0)["source"] = "https://a@eur-lex.europa.eu/x" }), []string{"not an https URL"}},
		{"bad expires", mutate(func(m map[string]any) { entry(m, 0)["expires"] = "soon" }), []string{"adequacy[0] (CH): expires:", "not a date"}},
		{"expires before adopted", mutate(func(m map[string]any) { entry(m, 0)["expires"] = "2000-07-26" }), []string{"adequacy[0] (CH): expires: 2000-07-26 is not after adopted"}},
		{"too large", `{"note": "` + strings.Repeat("x", maxRulesSize) + `"}`, []string{"more than"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Load([]byte(tc.data))
			if err == nil {
				t.Fatalf("accepted: %+v", r)
			}
			if !strings.HasPrefix(err.Error(), "transfer rules: ") {
				t.Errorf("error %q lacks the prefix", err)
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	_, err := LoadFile(filepath.Join("testdata", "bad-scope.json"))
	if err == nil || !strings.Contains(err.Error(), "bad-scope.json") || !strings.Contains(err.Error(), `adequacy[0] (CH): scope: "everything"`) {
		t.Errorf("bad-scope.json: %v", err)
	}
	if _, err := LoadFile(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: %v", err)
	}
	big := filepath.Join(t.TempDir(), "big.json")
	if err := os.WriteFile(big, bytes.Repeat([]byte(" "), maxRulesSize+10), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(big); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("big file: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, src := range []struct {
		name string
		data []byte
	}{{"embedded", embedded}, {"base", []byte(validBase)}} {
		t.Run(src.name, func(t *testing.T) {
			r, err := Load(src.data)
			if err != nil {
				t.Fatal(err)
			}
			out, err := r.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			// The file form holds everything the source held.
			var a, b any
			if err := json.Unmarshal(src.data, &a); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(out, &b); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a, b) {
				t.Errorf("MarshalJSON lost or changed data:\n%s", out)
			}
			r2, err := Load(out)
			if err != nil {
				t.Fatalf("Load(MarshalJSON()): %v", err)
			}
			out2, _ := r2.MarshalJSON()
			if !bytes.Equal(out, out2) {
				t.Error("a second round trip differs")
			}
			if !reflect.DeepEqual(r.Adequate(), r2.Adequate()) || !reflect.DeepEqual(r.EEA(), r2.EEA()) ||
				!reflect.DeepEqual(r.EEATerritories(), r2.EEATerritories()) || r.AsOf() != r2.AsOf() || r.Version() != r2.Version() {
				t.Error("the reloaded rules differ")
			}
			// Through encoding/json too, as `transfer-rules --show --json` may print it.
			viaJSON, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Load(viaJSON); err != nil {
				t.Errorf("Load(json.Marshal(rules)): %v", err)
			}
		})
	}
}

func TestAccessorsReturnCopies(t *testing.T) {
	r := Default()
	a := r.Adequate()
	a[0].Scope, a[0].Country = "changed", "ZZ"
	e := r.EEA()
	e[0] = "ZZ"
	ts := r.EEATerritories()
	ts[0].PartOf = "ZZ"
	if r.Adequate()[0].Scope == "changed" || r.EEA()[0] == "ZZ" || r.EEATerritories()[0].PartOf == "ZZ" {
		t.Error("an accessor exposes the rules' own slices")
	}
	d := r.Decide(Request{Country: "US"}, today)
	d.Decision.Scope = ScopeFull
	if d2 := r.Decide(Request{Country: "US"}, today); d2.Allowed {
		t.Error("a decision's Adequacy aliases the rules")
	}
}

func TestDecisionJSON(t *testing.T) {
	d := Default().Decide(Request{Country: "US", Recipient: recipient}, today)
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"allowed", "ground", "country", "country_name", "reason", "remedy", "decision", "rules_version"} {
		if _, ok := m[k]; !ok {
			t.Errorf("key %q missing from %s", k, b)
		}
	}
	dec := m["decision"].(map[string]any)
	for _, k := range []string{"country", "type", "name", "decision", "adopted", "scope", "scope_note", "source"} {
		if _, ok := dec[k]; !ok {
			t.Errorf("decision key %q missing", k)
		}
	}
	if _, ok := m["recipient"]; ok {
		t.Error("the decision carries the recipient")
	}
}

// TestConcurrentDecide runs under -race: rules are shared read-only.
func TestConcurrentDecide(t *testing.T) {
	codes := []string{"NL", "US", "CA", "JP", "CN", "GB", "EP", "ZZ", "re"}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				c := codes[(g+i)%len(codes)]
				d := Default().Decide(Request{Country: c, DPF: i%2 == 0, Commercial: i%3 == 0}, today)
				if d.Reason == "" {
					t.Errorf("%s: empty reason", c)
					return
				}
			}
		}()
	}
	wg.Wait()
}

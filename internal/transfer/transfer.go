// Package transfer holds the transfer guard's rules: whether a customer's data may be disclosed
// to a named recipient in a given country, under GDPR Chapter V (Art. 44–49) and the customer's
// objections (Art. 21). It is pure: no store, no Pebble, no logging. The adequacy list is data —
// adequacy.json, embedded with go:embed, replaceable with Load or LoadFile without a rebuild.
//
// Decide applies, in order:
//
//  1. Objections. "all" refuses every disclosure, even within the EEA; "non-eea" refuses every
//     destination outside the EEA. An objection wins over every other ground. An objection
//     scope this package does not know refuses too (fail closed).
//  2. The country code: empty, malformed or unassigned codes are refused with a reason, never
//     allowed by default. Codes are case-insensitive; surrounding spaces are ignored.
//  3. EEA member states (EU 27 plus IS, LI, NO) and the territories of member states that are
//     part of the EU (Åland, the French outermost regions): allowed, ground "eea".
//  4. An adequacy decision in force at now (adopted on or before now, not expired): allowed
//     within its scope. Scopes: "full" — any recipient, ground "adequacy"; "dpf" (United States)
//     — only with Request.DPF, ground "adequacy-dpf"; "commercial" (Canada, PIPEDA) — only with
//     Request.Commercial, ground "adequacy"; "private-sector" (Japan, APPI business operators) —
//     only with Request.Commercial (a commercial organisation is a business operator under the
//     APPI; a private person, a public body or a non-profit is treated as outside the scope),
//     ground "adequacy".
//  5. Otherwise (no decision, outside its scope, expired or not yet applicable) only with a
//     declared safeguard: scc or bcr (Art. 46/47), consent or legal-claims (Art. 49 derogations);
//     the ground is the safeguard.
//  6. Otherwise refused, with a Reason and a Remedy saying what would make it lawful.
//
// An unknown safeguard value refuses the request (callers validate input with ParseSafeguard).
// Reasons and remedies never contain the recipient's name.
package transfer

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

//go:embed adequacy.json
var embedded []byte

// Format is the value of the "format" member of a rules file.
const Format = "contactstore/transfer-rules/v1"

// Safeguards a request may declare.
const (
	SafeguardNone        = ""
	SafeguardSCC         = "scc"          // Art. 46(2)(c) standard contractual clauses
	SafeguardBCR         = "bcr"          // Art. 47 binding corporate rules
	SafeguardConsent     = "consent"      // Art. 49(1)(a) explicit consent
	SafeguardLegalClaims = "legal-claims" // Art. 49(1)(e) establishment, exercise or defence of legal claims
)

// Objection scopes (Art. 21).
const (
	ObjectNonEEA = "non-eea" // no transfer outside the EEA
	ObjectAll    = "all"     // no disclosure to any third party
)

// Grounds of an allowed Decision besides the safeguards (whose ground is the safeguard itself).
const (
	GroundEEA         = "eea"
	GroundAdequacy    = "adequacy"
	GroundAdequacyDPF = "adequacy-dpf"
)

// Scopes of an adequacy decision; see the package comment for how Decide uses each.
const (
	ScopeFull          = "full"
	ScopeCommercial    = "commercial"
	ScopeDPF           = "dpf"
	ScopePrivateSector = "private-sector"
)

// Kinds of destination an adequacy decision covers (Adequacy.Type).
const (
	TypeCountry                   = "country"
	TypeTerritory                 = "territory"
	TypeInternationalOrganisation = "international-organisation"
)

const (
	maxRulesSize = 1 << 20 // bytes of a rules file
	maxEntries   = 1000    // per list in a rules file
	dateLayout   = "2006-01-02"

	safeguardFlag   = "--safeguard scc|bcr|consent|legal-claims"
	safeguardRemedy = "a declared safeguard (" + safeguardFlag + ")"
	countryRemedy   = "give the recipient's country as an ISO 3166-1 alpha-2 code (e.g. NL, DE, US)"
)

// safeguardText says what each safeguard is and which article it rests on.
var safeguardText = map[string]string{
	SafeguardSCC:         "standard contractual clauses adopted by the Commission (Art. 46(2)(c) GDPR)",
	SafeguardBCR:         "binding corporate rules approved under Art. 47 GDPR (Art. 46(2)(b))",
	SafeguardConsent:     "the customer's explicit consent to this transfer after being informed of its possible risks (derogation of Art. 49(1)(a) GDPR)",
	SafeguardLegalClaims: "necessity for the establishment, exercise or defence of legal claims (derogation of Art. 49(1)(e) GDPR)",
}

// ParseSafeguard validates a declared safeguard: one of the Safeguard* constants, case-insensitive,
// surrounding spaces ignored; "" is SafeguardNone. It returns the canonical form.
func ParseSafeguard(s string) (string, error) {
	switch v := strings.ToLower(strings.TrimSpace(s)); v {
	case SafeguardNone, SafeguardSCC, SafeguardBCR, SafeguardConsent, SafeguardLegalClaims:
		return v, nil
	}
	return "", fmt.Errorf("unknown safeguard %s: want one of scc, bcr, consent, legal-claims", quoteShort(s))
}

// ParseObjection validates an objection scope: ObjectNonEEA or ObjectAll, case-insensitive,
// surrounding spaces ignored. It returns the canonical form.
func ParseObjection(s string) (string, error) {
	switch v := strings.ToLower(strings.TrimSpace(s)); v {
	case ObjectNonEEA, ObjectAll:
		return v, nil
	}
	return "", fmt.Errorf("unknown objection scope %s: want non-eea or all", quoteShort(s))
}

// Request is a proposed disclosure of one customer's data.
type Request struct {
	Recipient  string   // name of the person or organisation (free text; never logged by this package)
	Country    string   // ISO 3166-1 alpha-2, case-insensitive ("NL", "us"); "EU" is not a country
	DPF        bool     // recipient certified under the EU-US Data Privacy Framework
	Commercial bool     // recipient is a commercial organisation (scope of Canada's decision, PIPEDA; also taken as Japan's private-sector scope)
	Safeguard  string   // one of the Safeguard* constants
	Objections []string // the customer's objections in force (ObjectNonEEA, ObjectAll)
}

// Decision is the guard's answer. It names no recipient, so it may be audited as it is.
type Decision struct {
	Allowed     bool      `json:"allowed"`
	Ground      string    `json:"ground"`  // "eea", "adequacy", "adequacy-dpf", "scc", "bcr", "consent", "legal-claims"; "" when refused
	Country     string    `json:"country"` // normalised, upper case; "" when the code given was malformed
	CountryName string    `json:"country_name"`
	Reason      string    `json:"reason"`           // why allowed or refused, citing the decision or article
	Remedy      string    `json:"remedy,omitempty"` // when refused: what would make it lawful; empty when an objection refuses it
	Decision    *Adequacy `json:"decision,omitempty"`
	// Objection is the objection scope that refused the request, if one did.
	Objection string `json:"objection,omitempty"`
	// RulesVersion is the version of the rules that decided.
	RulesVersion string `json:"rules_version,omitempty"`
}

// Adequacy is one adequacy decision of the European Commission.
type Adequacy struct {
	// Country is the ISO 3166-1 alpha-2 code; for an international organisation, a two-letter
	// pseudo-code that is no assigned ISO code (the embedded list uses EP, the WIPO ST.3 code of
	// the European Patent Office, for the European Patent Organisation).
	Country string `json:"country"`
	// Type is "country", "territory" or "international-organisation".
	Type     string `json:"type"`
	Name     string `json:"name"`
	Decision string `json:"decision"` // e.g. "Commission Implementing Decision (EU) 2023/1795"
	Adopted  string `json:"adopted"`  // YYYY-MM-DD; Decide treats the decision as applicable from 00:00 UTC that day
	// Scope is "full", "commercial" (Canada), "dpf" (United States) or "private-sector" (Japan);
	// the package comment says how Decide uses each.
	Scope     string `json:"scope"`
	ScopeNote string `json:"scope_note"` // human text: what the scope covers, and any fact not confirmed
	Source    string `json:"source"`     // https URL of the decision on a europa.eu site (eur-lex)
	// Expires is the sunset date if the decision has one (YYYY-MM-DD): the decision no longer
	// applies from 00:00 UTC that day.
	Expires string `json:"expires,omitempty"`
}

// Territory is a territory with its own ISO code that is part of an EEA member state and
// within the EU, so that the GDPR applies there (Åland, the outermost regions).
type Territory struct {
	Country string `json:"country"` // ISO 3166-1 alpha-2
	PartOf  string `json:"part_of"` // the member state
	Note    string `json:"note"`
}

// fileForm is the JSON form of a rules file.
type fileForm struct {
	Format         string      `json:"format"`
	Version        string      `json:"version"`
	AsOf           string      `json:"as_of"`
	Note           string      `json:"note,omitempty"`
	EEA            []string    `json:"eea"`
	EEATerritories []Territory `json:"eea_territories,omitempty"`
	Adequacy       []Adequacy  `json:"adequacy"`
}

// Rules are an EEA list, an adequacy list and their metadata. A Rules is immutable and safe
// for concurrent use.
type Rules struct {
	f           fileForm
	eea         map[string]bool
	territories map[string]Territory
	adequacy    map[string]int // code → index in f.Adequacy
	adopted     []time.Time    // by index in f.Adequacy
	expires     []time.Time    // zero when none
}

var defaultRules = sync.OnceValue(func() *Rules {
	r, err := Load(embedded)
	if err != nil {
		panic("transfer: the embedded adequacy.json is invalid: " + err.Error())
	}
	return r
})

// Default returns the embedded rules (adequacy.json).
func Default() *Rules { return defaultRules() }

// LoadFile reads and validates a replacement rules file (the form MarshalJSON writes).
func LoadFile(path string) (*Rules, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("transfer rules: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxRulesSize+1))
	if err != nil {
		return nil, fmt.Errorf("transfer rules %s: %w", path, err)
	}
	r, err := Load(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// Load parses and validates rules in the file form. Errors name the list, the entry and the
// field at fault.
func Load(data []byte) (*Rules, error) {
	if len(data) > maxRulesSize {
		return nil, fmt.Errorf("transfer rules: more than %d bytes", maxRulesSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f fileForm
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("transfer rules: not valid JSON: %s", describeJSONError(data, err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("transfer rules: data after the JSON object")
	}
	if err := checkMembers(data); err != nil {
		return nil, fmt.Errorf("transfer rules: %w", err)
	}
	return build(f)
}

// memberNames are the member names of the file form. encoding/json matches names without
// regard to case and keeps the last of duplicate members; checkMembers refuses both.
var memberNames = map[string]bool{
	"format": true, "version": true, "as_of": true, "note": true, "eea": true, "eea_territories": true,
	"adequacy": true, "country": true, "part_of": true, "type": true, "name": true, "decision": true,
	"adopted": true, "scope": true, "scope_note": true, "source": true, "expires": true,
}

// checkMembers walks data (already decoded once, so well-formed) and refuses member names that
// are not spelled exactly as in the file form, and members given twice in one object.
func checkMembers(data []byte) error {
	type frame struct {
		object, wantKey bool
		seen            map[string]bool
	}
	var stack []*frame
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // io.EOF; syntax errors were reported by the decode
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if tok == json.Delim('}') {
				stack = stack[:len(stack)-1]
				if len(stack) > 0 {
					stack[len(stack)-1].wantKey = true
				}
				continue
			}
			k, _ := tok.(string)
			if !memberNames[k] {
				return fmt.Errorf("member %s: unknown name (names are case-sensitive)", quoteShort(k))
			}
			if top.seen[k] {
				return fmt.Errorf("member %s given twice in one object", quoteShort(k))
			}
			top.seen[k], top.wantKey = true, false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, wantKey: true, seen: map[string]bool{}})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				stack[len(stack)-1].wantKey = true
			}
		default:
			if top != nil {
				top.wantKey = true
			}
		}
	}
}

func build(f fileForm) (*Rules, error) {
	bad := func(format string, a ...any) (*Rules, error) {
		return nil, fmt.Errorf("transfer rules: "+format, a...)
	}
	if f.Format == "" {
		return bad("format: missing (want %q)", Format)
	}
	if f.Format != Format {
		return bad("format: %s is not %q", quoteShort(f.Format), Format)
	}
	if err := checkText(f.Version, 64, true); err != nil {
		return bad("version: %v", err)
	}
	if _, err := parseDate(f.AsOf); err != nil {
		return bad("as_of: %v", err)
	}
	if err := checkText(f.Note, 4096, false); err != nil {
		return bad("note: %v", err)
	}
	r := &Rules{
		f:           f,
		eea:         make(map[string]bool),
		territories: make(map[string]Territory),
		adequacy:    make(map[string]int),
	}
	if len(f.EEA) == 0 {
		return bad("eea: missing or empty (want the codes of the EEA member states)")
	}
	if len(f.EEA) > maxEntries || len(f.EEATerritories) > maxEntries || len(f.Adequacy) > maxEntries {
		return bad("more than %d entries in a list", maxEntries)
	}
	for i, c := range f.EEA {
		if err := checkISO(c); err != nil {
			return bad("eea[%d]: %v", i, err)
		}
		if r.eea[c] {
			return bad("eea[%d]: %s listed twice", i, c)
		}
		r.eea[c] = true
	}
	for i, t := range f.EEATerritories {
		at := fmt.Sprintf("eea_territories[%d]", i)
		if err := checkISO(t.Country); err != nil {
			return bad("%s: country: %v", at, err)
		}
		at = fmt.Sprintf("eea_territories[%d] (%s)", i, t.Country)
		if r.eea[t.Country] {
			return bad("%s: country: already an EEA member state", at)
		}
		if _, dup := r.territories[t.Country]; dup {
			return bad("%s: country: listed twice", at)
		}
		if !r.eea[t.PartOf] {
			return bad("%s: part_of: %s is not in the eea list", at, quoteShort(t.PartOf))
		}
		if err := checkText(t.Note, 1000, true); err != nil {
			return bad("%s: note: %v", at, err)
		}
		r.territories[t.Country] = t
	}
	r.adopted = make([]time.Time, len(f.Adequacy))
	r.expires = make([]time.Time, len(f.Adequacy))
	for i, a := range f.Adequacy {
		at := fmt.Sprintf("adequacy[%d]", i)
		switch a.Type {
		case TypeCountry, TypeTerritory, TypeInternationalOrganisation:
		case "":
			return bad("%s: type: missing (want country, territory or international-organisation)", at)
		default:
			return bad("%s: type: %s is not country, territory or international-organisation", at, quoteShort(a.Type))
		}
		if a.Type == TypeInternationalOrganisation {
			if !isCode(a.Country) {
				return bad("%s: country: %s is not a two-letter upper-case code", at, quoteShort(a.Country))
			}
			if _, iso := iso3166[a.Country]; iso {
				return bad("%s: country: %s is an ISO 3166-1 country code; an international organisation needs a pseudo-code that is none", at, a.Country)
			}
			if _, hinted := codeHints[a.Country]; hinted {
				return bad("%s: country: %s is reserved for a hint and cannot name an organisation", at, a.Country)
			}
		} else if err := checkISO(a.Country); err != nil {
			return bad("%s: country: %v", at, err)
		}
		at = fmt.Sprintf("adequacy[%d] (%s)", i, a.Country)
		if r.eea[a.Country] {
			return bad("%s: country: an EEA member state needs no adequacy decision", at)
		}
		if _, ok := r.territories[a.Country]; ok {
			return bad("%s: country: already listed in eea_territories", at)
		}
		if _, dup := r.adequacy[a.Country]; dup {
			return bad("%s: country: listed twice (one entry per code)", at)
		}
		if err := checkText(a.Name, 200, true); err != nil {
			return bad("%s: name: %v", at, err)
		}
		if err := checkText(a.Decision, 300, true); err != nil {
			return bad("%s: decision: %v", at, err)
		}
		adopted, err := parseDate(a.Adopted)
		if err != nil {
			return bad("%s: adopted: %v", at, err)
		}
		switch a.Scope {
		case ScopeFull, ScopeCommercial, ScopeDPF, ScopePrivateSector:
		case "":
			return bad("%s: scope: missing (want full, commercial, dpf or private-sector)", at)
		default:
			return bad("%s: scope: %s is not full, commercial, dpf or private-sector", at, quoteShort(a.Scope))
		}
		if err := checkText(a.ScopeNote, 4000, true); err != nil {
			return bad("%s: scope_note: %v", at, err)
		}
		if err := checkSource(a.Source); err != nil {
			return bad("%s: source: %v", at, err)
		}
		var expires time.Time
		if a.Expires != "" {
			if expires, err = parseDate(a.Expires); err != nil {
				return bad("%s: expires: %v", at, err)
			}
			if !expires.After(adopted) {
				return bad("%s: expires: %s is not after adopted (%s)", at, a.Expires, a.Adopted)
			}
		}
		r.adequacy[a.Country] = i
		r.adopted[i], r.expires[i] = adopted, expires
	}
	return r, nil
}

// MarshalJSON writes the rules in the file form, which Load reads back.
func (r *Rules) MarshalJSON() ([]byte, error) {
	return json.MarshalIndent(r.f, "", "  ")
}

// Version is the rules' version string.
func (r *Rules) Version() string { return r.f.Version }

// AsOf is the date (YYYY-MM-DD) up to which the rules are meant to be current.
func (r *Rules) AsOf() string { return r.f.AsOf }

// Note is the rules file's note ("" if none).
func (r *Rules) Note() string { return r.f.Note }

// EEA returns the EEA member states' codes, in file order.
func (r *Rules) EEA() []string { return append([]string(nil), r.f.EEA...) }

// EEATerritories returns the territories that are part of a member state within the EU.
func (r *Rules) EEATerritories() []Territory {
	return append([]Territory(nil), r.f.EEATerritories...)
}

// Adequate returns the adequacy decisions, in file order.
func (r *Rules) Adequate() []Adequacy { return append([]Adequacy(nil), r.f.Adequacy...) }

// AdequacyFor returns the adequacy decision listed for a code (case-insensitive), in force or not.
func (r *Rules) AdequacyFor(code string) (Adequacy, bool) {
	i, ok := r.adequacy[strings.ToUpper(strings.TrimSpace(code))]
	if !ok {
		return Adequacy{}, false
	}
	return r.f.Adequacy[i], true
}

// CountryName returns the English short name of an ISO 3166-1 alpha-2 code or of an
// international organisation's pseudo-code in the rules, or "" for an unknown code.
func (r *Rules) CountryName(code string) string {
	code = strings.ToUpper(strings.TrimSpace(code))
	if n, ok := iso3166[code]; ok {
		return n
	}
	if i, ok := r.adequacy[code]; ok {
		return r.f.Adequacy[i].Name
	}
	return ""
}

// Decide applies the rules to a request as of now (see the package comment). It is pure and
// never panics; a refusal always carries a Reason. A nil *Rules decides with Default().
func (r *Rules) Decide(req Request, now time.Time) Decision {
	if r == nil {
		r = Default()
	}
	d := Decision{RulesVersion: r.f.Version}
	refuse := func(reason, remedy string) Decision {
		d.Allowed, d.Ground, d.Reason, d.Remedy = false, "", reason, remedy
		return d
	}
	allow := func(ground, reason string) Decision {
		d.Allowed, d.Ground, d.Reason, d.Remedy = true, ground, reason, ""
		return d
	}

	// 1. Objections win over every ground; an unknown scope refuses rather than guess.
	var nonEEA bool
	var unknownObjection string
	for _, o := range req.Objections {
		v, err := ParseObjection(o)
		switch {
		case err != nil:
			if unknownObjection == "" {
				unknownObjection = quoteShort(o)
			}
		case v == ObjectAll:
			d.Objection = ObjectAll
			d.Country, d.CountryName, _, _ = r.lookup(req.Country)
			return refuse("the customer objects to any disclosure of their data to a third party (Art. 21 GDPR); "+
				"an objection overrides every other ground, and only the customer's withdrawal of it would allow this disclosure", "")
		case v == ObjectNonEEA:
			nonEEA = true
		}
	}
	if unknownObjection != "" {
		d.Country, d.CountryName, _, _ = r.lookup(req.Country)
		return refuse("the customer has an objection on record whose scope "+unknownObjection+
			" this guard does not know; it refuses rather than guess what the objection forbids",
			"record the objection with a known scope (non-eea or all)")
	}

	// 2. The destination.
	code, name, problem, remedy := r.lookup(req.Country)
	d.Country, d.CountryName = code, name
	if problem != "" {
		return refuse(problem, remedy)
	}
	label := name + " (" + code + ")"
	territory, isTerritory := r.territories[code]
	inEEA := r.eea[code] || isTerritory
	if nonEEA && !inEEA {
		d.Objection = ObjectNonEEA
		return refuse("the customer objects to any transfer of their data outside the EEA (Art. 21 GDPR) and "+label+
			" is outside it; an objection overrides every other ground, and only the customer's withdrawal of it would allow this transfer", "")
	}
	safeguard, err := ParseSafeguard(req.Safeguard)
	if err != nil {
		return refuse(err.Error(), "declare one of the safeguards scc, bcr, consent or legal-claims, or none")
	}

	// 3. The EEA.
	if r.eea[code] {
		return allow(GroundEEA, label+" is an EEA member state: the GDPR applies there, so this is no transfer to a third country (Chapter V GDPR)")
	}
	if isTerritory {
		return allow(GroundEEA, fmt.Sprintf("%s is part of %s (%s), an EEA member state (%s), so this is no transfer to a third country (Chapter V GDPR)",
			label, iso3166[territory.PartOf], territory.PartOf, territory.Note))
	}

	// 4. An adequacy decision in force, within its scope.
	why := label + " is outside the EEA and has no adequacy decision of the European Commission (Art. 45 GDPR)"
	scopeRemedy, lapsed := "", false
	if i, ok := r.adequacy[code]; ok {
		a := r.f.Adequacy[i]
		d.Decision = &a
		cite := a.Decision + " (adopted " + a.Adopted + ")"
		switch {
		case now.Before(r.adopted[i]):
			why = fmt.Sprintf("the adequacy decision for %s, %s, does not apply before %s", label, cite, a.Adopted)
			lapsed = true
		case !r.expires[i].IsZero() && !now.Before(r.expires[i]):
			why = fmt.Sprintf("the adequacy decision for %s, %s, expired on %s", label, cite, a.Expires)
			lapsed = true
		default:
			found := fmt.Sprintf("%s has an adequacy decision of the European Commission (Art. 45 GDPR): %s", label, cite)
			switch a.Scope {
			case ScopeFull:
				return allow(GroundAdequacy, found)
			case ScopeDPF:
				if req.DPF {
					return allow(GroundAdequacyDPF, found+", for organisations certified under the EU-US Data Privacy Framework, as the recipient is declared to be")
				}
				why = found + ", but it covers only organisations certified under the EU-US Data Privacy Framework and the recipient is not declared certified"
				scopeRemedy = "certification under the EU-US Data Privacy Framework (--dpf)"
			case ScopeCommercial:
				if req.Commercial {
					return allow(GroundAdequacy, found+", for commercial organisations subject to PIPEDA, as the recipient is declared to be")
				}
				why = found + ", but it covers only commercial organisations (PIPEDA) and the recipient is not declared one"
				scopeRemedy = "a recipient that is a commercial organisation subject to PIPEDA (--commercial)"
			case ScopePrivateSector:
				if req.Commercial {
					return allow(GroundAdequacy, found+", for private-sector business operators, as the recipient is declared a commercial organisation")
				}
				why = found + ", but it covers only private-sector business operators and the recipient is not declared a commercial organisation"
				scopeRemedy = "a recipient that is a commercial organisation, a business operator in the private sector (--commercial)"
			default: // unreachable: Load validates scopes
				why = found + ", but its scope " + quoteShort(a.Scope) + " is unknown to this guard"
			}
		}
	}

	// 5. A declared safeguard or derogation.
	if safeguard != SafeguardNone {
		return allow(safeguard, why+"; the transfer relies on the declared safeguard: "+safeguardText[safeguard])
	}

	// 6. Refused.
	reason := why + "; and no safeguard (Art. 46/47 GDPR) or derogation (Art. 49 GDPR) was declared"
	switch {
	case scopeRemedy != "":
		return refuse(reason, scopeRemedy+" or "+safeguardRemedy)
	case lapsed:
		return refuse(reason, safeguardRemedy+", or rules with an adequacy decision in force for "+code+" (transfer-rules) if it has been renewed")
	default:
		return refuse(reason, safeguardRemedy)
	}
}

// lookup normalises a country code and finds its name. A non-empty problem refuses the request,
// with remedy saying what to give instead; code is "" when the input was not two letters.
func (r *Rules) lookup(raw string) (code, name, problem, remedy string) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", "", "no country was given for the recipient", countryRemedy
	}
	if len(s) != 2 || !isLetter(s[0]) || !isLetter(s[1]) {
		return "", "", "country " + quoteShort(raw) + " is not an ISO 3166-1 alpha-2 code (two letters)", countryRemedy
	}
	code = strings.ToUpper(s)
	if hint, ok := codeHints[code]; ok {
		return code, "", hint, countryRemedy
	}
	if n, ok := iso3166[code]; ok {
		return code, n, "", ""
	}
	if i, ok := r.adequacy[code]; ok { // an international organisation's pseudo-code
		return code, r.f.Adequacy[i].Name, "", ""
	}
	return code, "", code + " is not an assigned ISO 3166-1 alpha-2 country code", countryRemedy
}

func isLetter(c byte) bool { return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }

// isCode reports whether s is two upper-case ASCII letters.
func isCode(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

// checkISO validates a code in a rules file: two upper-case letters, an assigned ISO code.
func checkISO(c string) error {
	if !isCode(c) {
		return fmt.Errorf("%s is not a two-letter upper-case ISO 3166-1 alpha-2 code", quoteShort(c))
	}
	if _, ok := iso3166[c]; !ok {
		if hint, ok := codeHints[c]; ok {
			return errors.New(hint)
		}
		return fmt.Errorf("%s is not an assigned ISO 3166-1 alpha-2 code", c)
	}
	return nil
}

func parseDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("missing (want YYYY-MM-DD)")
	}
	t, err := time.Parse(dateLayout, s)
	if err != nil || t.Format(dateLayout) != s {
		return time.Time{}, fmt.Errorf("%s is not a date (want YYYY-MM-DD)", quoteShort(s))
	}
	return t, nil
}

// checkText validates a human text field: valid UTF-8, no control characters, bounded.
func checkText(s string, max int, required bool) error {
	if strings.TrimSpace(s) == "" {
		if required {
			return errors.New("missing or blank")
		}
		return nil
	}
	if len(s) > max {
		return fmt.Errorf("longer than %d bytes", max)
	}
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	for _, c := range s {
		if unicode.IsControl(c) {
			return errors.New("contains a control character")
		}
	}
	return nil
}

// checkSource requires an https URL on a europa.eu site (eur-lex, commission, data.europa.eu).
func checkSource(s string) error {
	if s == "" {
		return errors.New("missing (want the decision's https URL on eur-lex.europa.eu)")
	}
	if len(s) > 2000 {
		return errors.New("longer than 2000 bytes")
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.User != nil || u.Host == "" {
		return fmt.Errorf("%s is not an https URL", quoteShort(s))
	}
	host := strings.ToLower(u.Hostname())
	if host != "europa.eu" && !strings.HasSuffix(host, ".europa.eu") {
		return fmt.Errorf("host %s is not a europa.eu site (eur-lex.europa.eu, commission.europa.eu)", quoteShort(host))
	}
	return nil
}

// describeJSONError adds the line and column to a syntax or type error.
func describeJSONError(data []byte, err error) string {
	var off int64 = -1
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		off = syn.Offset
	case errors.As(err, &typ):
		off = typ.Offset
	}
	if off < 0 || off > int64(len(data)) {
		return err.Error()
	}
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := int(off) - bytes.LastIndexByte(data[:off], '\n')
	return fmt.Sprintf("line %d, column %d: %v", line, col, err)
}

// quoteShort quotes a short value for a message; longer or invalid values are described only,
// so that no message carries an arbitrary amount of caller input.
func quoteShort(s string) string {
	if len(s) <= 32 && utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("(a %d-byte value)", len(s))
}

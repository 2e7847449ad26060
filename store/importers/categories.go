package importers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"contactstore/internal/importfmt/csvfmt"
	"contactstore/store"
)

// maxCategoriesFile bounds a categories file: a mapping, not a data set.
const maxCategoriesFile = 1 << 20

// ParseCategories parses a category mapping written as "Source=retention,...", such as
// "Billing=finance,Refund=finance,*=general". The source "*" is the default for
// categories the mapping does not name (including an empty one); "=x" maps an empty
// source category; "Source=" maps to the empty category (the store's "general"). Spaces
// around names are ignored; names cannot contain "," or "=".
func ParseCategories(s string) (map[string]string, error) {
	m := make(map[string]string)
	if strings.TrimSpace(s) == "" {
		return m, nil
	}
	for pair := range strings.SplitSeq(s, ",") {
		src, dst, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, fmt.Errorf("importers: categories: entry %d: want Source=category", len(m)+1)
		}
		src, dst = strings.TrimSpace(src), strings.TrimSpace(dst)
		if _, dup := m[src]; dup {
			return nil, fmt.Errorf("importers: categories: %q given twice", src)
		}
		m[src] = dst
	}
	if err := checkCategories(m); err != nil {
		return nil, err
	}
	return m, nil
}

// LoadCategories reads a category mapping from a JSON file holding one object of
// strings, {"Billing": "finance", "*": "general"}, with the meaning of ParseCategories.
func LoadCategories(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("importers: categories: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCategoriesFile+1))
	if err != nil {
		return nil, fmt.Errorf("importers: categories: %w", err)
	}
	if len(data) > maxCategoriesFile {
		return nil, fmt.Errorf("importers: categories: %s is larger than %d bytes", path, maxCategoriesFile)
	}
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil || m == nil {
		return nil, fmt.Errorf("importers: categories: %s is not a JSON object of strings", path)
	}
	if err := checkCategories(m); err != nil {
		return nil, err
	}
	return m, nil
}

func checkCategories(m map[string]string) error {
	for src, dst := range m {
		if !utf8.ValidString(src) || !utf8.ValidString(dst) {
			return errors.New("importers: categories: a name is not valid UTF-8")
		}
		if len(dst) > store.MaxShortField {
			return fmt.Errorf("importers: categories: the category for %q is longer than %d bytes", src, store.MaxShortField)
		}
	}
	return nil
}

// categoryMap applies a mapping: exact names first, then names equal under Unicode case
// folding ("billing" finds "Billing"), then "*", else the category unchanged.
type categoryMap struct {
	exact  map[string]string
	folded map[string]string
	def    string
	hasDef bool
}

func newCategoryMap(m map[string]string) *categoryMap {
	if len(m) == 0 {
		return nil
	}
	cm := &categoryMap{exact: m, folded: make(map[string]string, len(m))}
	for src, dst := range m {
		if src == "*" {
			cm.def, cm.hasDef = dst, true
			continue
		}
		cm.folded[strings.ToLower(src)] = dst
	}
	return cm
}

func (cm *categoryMap) apply(c string) string {
	if cm == nil {
		return c
	}
	if c != "*" {
		if d, ok := cm.exact[c]; ok {
			return d
		}
		if d, ok := cm.folded[strings.ToLower(c)]; ok {
			return d
		}
	}
	if cm.hasDef {
		return cm.def
	}
	return c
}

// ParseMapping parses a CSV column mapping written as "field=Column,field=Column", e.g.
// "time=Date,customer=Email,body=Text"; "field=" unmaps a field. The fields are id,
// customer, time, channel, direction, category, agent, subject, body, email, phone,
// rating and tags.
func ParseMapping(s string) (map[string]string, error) {
	m, err := csvfmt.ParseMapping(s)
	if err != nil {
		return nil, fmt.Errorf("importers: %w", err)
	}
	return m, nil
}

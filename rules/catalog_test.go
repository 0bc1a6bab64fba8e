package rules

import (
	"strings"
	"testing"
)

// TestBuiltinEntriesComplete holds the embedded catalog to the stricter
// standard that user files need not meet.
func TestBuiltinEntriesComplete(t *testing.T) {
	c, _ := coverageCatalog(t)
	names := map[string]string{}
	for _, e := range c.Entries() {
		missing := []string{}
		check := func(key, val string) {
			if strings.TrimSpace(val) == "" {
				missing = append(missing, key)
			}
		}
		check("name", e.Name)
		check("category", e.Category)
		check("description.en", e.Description.En)
		check("description.ja", e.Description.Ja)
		check("remediation.en", e.Remediation.En)
		check("remediation.ja", e.Remediation.Ja)
		if e.Family == "custom" {
			missing = append(missing, "family")
		}
		if len(e.Categories) == 0 {
			missing = append(missing, "event.category")
		}
		if len(e.Types) == 0 {
			missing = append(missing, "event.type")
		}
		if len(e.Sources) == 0 {
			missing = append(missing, "source")
		}
		for p, txt := range e.PlatformRemediation {
			if txt.En == "" || txt.Ja == "" {
				missing = append(missing, "remediation."+p+" in both languages")
			}
		}
		if len(missing) > 0 {
			t.Errorf("%s: %s lacks %s", e.Pos, e.Code, strings.Join(missing, ", "))
		}
		if other, dup := names[e.Name]; dup {
			t.Errorf("%s: %s has the same name %q as %s", e.Pos, e.Code, e.Name, other)
		}
		names[e.Name] = e.Code
	}
}

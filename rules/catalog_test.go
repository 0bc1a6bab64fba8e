package rules

import (
	"os"
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
		check("summary.en", e.Summary.En)
		check("summary.ja", e.Summary.Ja)
		check("action.en", e.ActionText.En)
		check("action.ja", e.ActionText.Ja)
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

// TestCodesPinned holds every code to its name: a code can never change
// meaning, disappear or be reused without this list changing too.
func TestCodesPinned(t *testing.T) {
	c, partial := coverageCatalog(t)
	if partial {
		t.Skip("checks the whole catalog")
	}
	data, err := os.ReadFile("testdata/codes.txt")
	if err != nil {
		t.Fatal(err)
	}
	pinned := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		code, name, _ := strings.Cut(line, " ")
		pinned[code] = name
	}
	all := c.Entries()
	for _, r := range c.Correlations() {
		all = append(all, r.Entry)
	}
	for _, e := range all {
		name, ok := pinned[e.Code]
		switch {
		case !ok:
			t.Errorf("%s: new code %s is not pinned: add \"%s %s\" to testdata/codes.txt", e.Pos, e.Code, e.Code, e.Name)
		case name != e.Name:
			t.Errorf("%s: code %s was pinned as %q and is now %q: codes never change meaning; give the new message a new code", e.Pos, e.Code, name, e.Name)
		}
		delete(pinned, e.Code)
	}
	for code, name := range pinned {
		t.Errorf("pinned code %s (%s) is gone from the catalog: codes are never removed; disable an entry with enabled: false in a user file instead", code, name)
	}
}

package rules

import (
	"path"
	"slices"
	"strings"
	"testing"
)

// shortTextFiles are the catalog files whose every entry carries the
// one-line texts (summary.en/ja, action.en/ja). A file joins the list
// once all its entries have them; when every file has, this check
// belongs in TestBuiltinEntriesComplete.
var shortTextFiles = []string{
	"ax-sshd.rules",
	"client.rules",
	"firewall.rules",
	"openssh.rules",
	"tectia.rules",
}

// TestShortTextsComplete holds the entries of shortTextFiles to having
// all four one-line texts. Their length and line limits are enforced
// by the compiler itself.
func TestShortTextsComplete(t *testing.T) {
	c, _ := coverageCatalog(t)
	seen := map[string]int{}
	for _, e := range c.Entries() {
		file, _, _ := strings.Cut(e.Pos, ":")
		file = path.Base(file)
		if !slices.Contains(shortTextFiles, file) {
			continue
		}
		seen[file]++
		missing := []string{}
		for _, k := range []struct{ key, val string }{
			{"summary.en", e.Summary.En},
			{"summary.ja", e.Summary.Ja},
			{"action.en", e.ActionText.En},
			{"action.ja", e.ActionText.Ja},
		} {
			if strings.TrimSpace(k.val) == "" {
				missing = append(missing, k.key)
			}
		}
		if len(missing) > 0 {
			t.Errorf("%s: %s lacks %s", e.Pos, e.Code, strings.Join(missing, ", "))
		}
	}
	t.Logf("entries checked per file: %v", seen)
}

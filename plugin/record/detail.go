package record

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/sshenrich/sshenrich/rules"
)

// Detail selects how much text a record carries (DESIGN.md §6). Every
// stage downstream pays for record size, so the plugin and the CLI
// default to brief (DefaultOptions); the zero value is the full record.
type Detail uint8

// Detail levels.
const (
	// DetailFull writes the long description and remediation.
	DetailFull Detail = iota
	// DetailBrief writes the one-line summary as rule.description and the
	// one-line action as sshenrich.action, with rule.reference pointing
	// to the entry in the catalog reference.
	DetailBrief
	// DetailCodes writes no text: codes, classification and fields.
	DetailCodes
)

var detailNames = [...]string{"full", "brief", "codes"}

func (d Detail) String() string { return detailNames[d] }

// ParseDetail reads "brief", "full" or "codes".
func ParseDetail(s string) (Detail, error) {
	for i, n := range detailNames {
		if s == n {
			return Detail(i), nil
		}
	}
	return 0, fmt.Errorf("%q is not a detail level; use brief, full or codes", s)
}

// ParseSeverity reads a catalog severity name for remediation_min_severity.
func ParseSeverity(s string) (rules.Severity, error) {
	for sv := rules.SeverityCritical; sv <= rules.SeverityDebug; sv++ {
		if s == sv.String() {
			return sv, nil
		}
	}
	return 0, fmt.Errorf("%q is not a severity; use critical, error, warning, notice, info or debug", s)
}

// DefaultReferenceURL is the catalog reference rule.reference points into.
const DefaultReferenceURL = "https://github.com/sshenrich/sshenrich/blob/main/docs/catalog.md"

// summaryOf is an entry's one-line summary, or the first sentence of its
// description when the catalog gives none.
func summaryOf(e *rules.Entry, ja bool) string {
	if ja {
		if e.Summary.Ja != "" {
			return e.Summary.Ja
		}
		if e.Description.Ja != "" {
			return firstSentence(e.Description.Ja)
		}
	}
	if e.Summary.En != "" {
		return e.Summary.En
	}
	return firstSentence(e.Description.En)
}

// actionOf is an entry's one-line action, or the first sentence of its
// remediation for the platform.
func actionOf(e *rules.Entry, platform string, ja bool) string {
	rem := e.Remedy(platform)
	if ja {
		if e.ActionText.Ja != "" {
			return e.ActionText.Ja
		}
		if rem.Ja != "" {
			return firstSentence(rem.Ja)
		}
	}
	if e.ActionText.En != "" {
		return e.ActionText.En
	}
	return firstSentence(rem.En)
}

// firstSentence cuts a text after its first full stop (Latin or
// Japanese), or returns it whole.
func firstSentence(s string) string {
	for i, r := range s {
		switch r {
		case '。':
			return s[:i+utf8.RuneLen(r)]
		case '.':
			if i+1 == len(s) || s[i+1] == ' ' || s[i+1] == '\n' {
				return s[:i+1]
			}
		}
	}
	return strings.TrimSpace(s)
}

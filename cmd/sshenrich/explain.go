package main

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/sshenrich/sshenrich/plugin/record"
	"github.com/sshenrich/sshenrich/rules"
)

// explainCmd prints everything the catalog says about entries, found by
// code or rule name, in any case: what an event.code or rule.name in a
// record means, without a browser.
func explainCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("explain", stderr)
	lang := fs.String("lang", "both", "language of the texts: en, ja or both")
	refURL := fs.String("reference-url", record.DefaultReferenceURL, "catalog reference that the entry's reference link points into, as the plugin's reference_url")
	var files rulesFlag
	fs.Var(&files, "rules", "user rule file (repeatable); its entries and overrides are explained too")
	if err := fs.Parse(args); err != nil {
		return exitError(2)
	}
	if fs.NArg() == 0 {
		return operandError(stderr, "explain", "a CODE or rule NAME is needed (sshenrich catalog lists them)")
	}
	l, err := record.ParseLang(*lang)
	if err != nil {
		return fmt.Errorf("--lang: %w", err)
	}
	cat, err := loadCatalog(files)
	if err != nil {
		return err
	}
	idx := newEntryIndex(cat)
	rulesOf := map[*rules.Entry]*rules.Correlation{}
	for _, r := range cat.Correlations() {
		rulesOf[r.Entry] = r
	}
	var found []*rules.Entry
	missing := 0
	for _, q := range fs.Args() {
		if strings.EqualFold(q, rules.Unclassified) {
			found = append(found, nil) // explained apart: it is no entry
			continue
		}
		if e := idx.find(q); e != nil {
			found = append(found, e)
			continue
		}
		missing++
		fmt.Fprintf(stderr, "sshenrich explain: no catalog entry has the code or rule name %q%s\n", q, suggestionText(idx.suggest(q)))
	}
	if missing > 0 {
		return exitError(1)
	}
	w := bufio.NewWriter(stdout)
	for i, e := range found {
		if i > 0 {
			fmt.Fprintln(w)
		}
		switch r := rulesOf[e]; {
		case e == nil:
			writeUnclassified(w, l)
		case r != nil:
			writeExplanation(w, cat, e, l, "")
			writeRule(w, r)
		default:
			writeExplanation(w, cat, e, l, *refURL)
		}
	}
	return w.Flush()
}

// loadCatalog returns the built-in catalog, compiled once, or the
// catalog with user rule files.
func loadCatalog(files []string) (*rules.Catalog, error) {
	if len(files) == 0 {
		return rules.Builtin()
	}
	return rules.Load(files...)
}

// entryIndex finds entries, and the alert entries of correlation
// rules, by code or name, whatever their case.
type entryIndex struct {
	entries []*rules.Entry
	byCode  map[string]*rules.Entry // upper case
	byName  map[string]*rules.Entry // lower case
}

func newEntryIndex(cat *rules.Catalog) *entryIndex {
	x := &entryIndex{entries: slices.Clone(cat.Entries()), byCode: map[string]*rules.Entry{}, byName: map[string]*rules.Entry{}}
	for _, r := range cat.Correlations() {
		x.entries = append(x.entries, r.Entry)
	}
	for _, e := range x.entries {
		x.byCode[strings.ToUpper(e.Code)] = e
		if e.Name != "" {
			x.byName[strings.ToLower(e.Name)] = e
		}
	}
	return x
}

func (x *entryIndex) find(q string) *rules.Entry {
	q = strings.TrimSpace(q)
	if e, ok := x.byCode[strings.ToUpper(q)]; ok {
		return e
	}
	return x.byName[strings.ToLower(q)]
}

// maxSuggestions is how many close matches an unknown code gets.
const maxSuggestions = 5

// suggest returns the entries closest to an unknown query: the same code
// number written otherwise (sshd-32 for SSHD-0032), codes and names a
// few edits away, names that contain the query, and else the codes of
// the same prefix nearest in number.
func (x *entryIndex) suggest(q string) []*rules.Entry {
	up, low := strings.ToUpper(strings.TrimSpace(q)), strings.ToLower(strings.TrimSpace(q))
	prefix, num, hasNum := splitCode(up)
	type scored struct {
		e     *rules.Entry
		score int
	}
	var s []scored
	for _, e := range x.entries {
		p, n, ok := splitCode(e.Code)
		score := -1
		switch {
		case hasNum && ok && p == prefix && n == num:
			score = 0
		case rules.EditDistance(up, e.Code) <= 2:
			score = rules.EditDistance(up, e.Code)
		case e.Name != "" && rules.EditDistance(low, e.Name) <= 3:
			score = rules.EditDistance(low, e.Name)
		case len(low) >= 4 && strings.Contains(e.Name, low):
			score = 4
		}
		if score >= 0 {
			s = append(s, scored{e, score})
		}
	}
	if len(s) == 0 && hasNum {
		for _, e := range x.entries {
			if p, n, ok := splitCode(e.Code); ok && p == prefix {
				s = append(s, scored{e, 10 + abs(n-num)})
			}
		}
	}
	sort.SliceStable(s, func(i, j int) bool {
		if s[i].score != s[j].score {
			return s[i].score < s[j].score
		}
		return s[i].e.Code < s[j].e.Code
	})
	var out []*rules.Entry
	for i := 0; i < len(s) && i < maxSuggestions; i++ {
		out = append(out, s[i].e)
	}
	return out
}

// splitCode splits a code into its letters and its number: SSHD-0032,
// sshd-32 and SSHD32 all give SSHD and 32.
func splitCode(code string) (prefix string, num int, ok bool) {
	i := len(code)
	for i > 0 && code[i-1] >= '0' && code[i-1] <= '9' {
		i--
	}
	if i == len(code) || len(code)-i > 9 {
		return code, 0, false
	}
	n, err := strconv.Atoi(code[i:])
	if err != nil {
		return code, 0, false
	}
	return strings.TrimRight(code[:i], "-"), n, true
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func suggestionText(es []*rules.Entry) string {
	if len(es) == 0 {
		return "; sshenrich catalog lists every entry"
	}
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Code
		if e.Name != "" {
			parts[i] += " (" + e.Name + ")"
		}
	}
	return "; did you mean " + strings.Join(parts, ", ") + "?"
}

// writeExplanation prints one entry: its classification, where it came
// from, its texts in the languages asked for, and its templates.
func writeExplanation(w io.Writer, cat *rules.Catalog, e *rules.Entry, lang record.Lang, refURL string) {
	fmt.Fprintf(w, "%s  %s\n\n", e.Code, e.Name)
	field := func(label, value string) {
		if value != "" {
			fmt.Fprintf(w, "  %-15s %s\n", label+":", value)
		}
	}
	field("family", familyLine(cat, e.Family))
	field("severity", fmt.Sprintf("%s (event.severity %d)", e.Severity, e.Severity.Number()))
	field("category", e.Category)
	field("event", fmt.Sprintf("kind %s; category %s; type %s; action %s; outcome %s",
		e.Kind, strings.Join(e.Categories, ","), strings.Join(e.Types, ","), e.Action, e.Outcome))
	if e.PreauthOutcome != "" {
		field("preauth", fmt.Sprintf("outcome %s when the line ends in [preauth]", e.PreauthOutcome))
	}
	if l := levelNames(e.Levels); len(l) > 0 {
		field("level", "only lines logged at "+strings.Join(l, ", "))
	}
	var sets []string
	for _, c := range e.Constants {
		sets = append(sets, "sshenrich."+c.Field+"="+c.Value)
	}
	field("sets", strings.Join(sets, ", "))
	var mitre []string
	for _, t := range e.Techniques {
		mitre = append(mitre, t+" "+attackURL(t))
	}
	field("MITRE ATT&CK", strings.Join(mitre, ", "))
	field("tags", strings.Join(e.Tags, ", "))
	field("source", strings.Join(e.Sources, "; "))
	field("defined at", e.Pos)
	field("overridden at", strings.Join(e.Overrides, ", "))
	if refURL != "" {
		field("reference", refURL+"#"+e.Anchor())
	}

	text := func(title string, t rules.Text) {
		for _, v := range []struct{ code, s string }{{"en", t.En}, {"ja", t.Ja}} {
			if v.s == "" || (v.code == "en" && lang == record.LangJA) || (v.code == "ja" && lang == record.LangEN) {
				continue
			}
			fmt.Fprintf(w, "\n%s (%s)\n", title, v.code)
			for _, line := range strings.Split(strings.TrimSpace(v.s), "\n") {
				if line = strings.TrimSpace(line); line != "" {
					fmt.Fprintf(w, "  %s\n", line)
				}
			}
		}
	}
	text("Summary", e.Summary)
	text("Action", e.ActionText)
	text("Description", e.Description)
	text("Remediation", e.Remediation)
	platforms := make([]string, 0, len(e.PlatformRemediation))
	for p := range e.PlatformRemediation {
		platforms = append(platforms, p)
	}
	sort.Strings(platforms)
	for _, p := range platforms {
		text("Remediation on "+p, e.PlatformRemediation[p])
	}
	if len(e.Templates) == 0 {
		return
	}
	fmt.Fprintln(w, "\nTemplates")
	for _, t := range e.Templates {
		if !t.Elided {
			fmt.Fprintf(w, "  %s\n", t.Text)
		}
	}
}

// writeRule prints what a correlation rule counts and when it raises
// its alert (docs/correlation.md, Rule format).
func writeRule(w io.Writer, r *rules.Correlation) {
	fmt.Fprintln(w, "\nRule (docs/correlation.md)")
	field := func(label, value string) {
		if value != "" {
			fmt.Fprintf(w, "  %-15s %s\n", label+":", value)
		}
	}
	for _, sel := range r.Select {
		var conds []string
		for _, c := range sel.Conds {
			op := "="
			if c.Not {
				op = "!="
			}
			conds = append(conds, c.Attr.String()+op+strings.Join(c.Values, ","))
		}
		field("select", strings.Join(conds, " "))
	}
	var group []string
	for _, f := range r.GroupBy {
		group = append(group, f.String())
	}
	field("group-by", strings.Join(group, ", "))
	counted := "events"
	if r.Distinct != rules.FieldNone {
		counted = "distinct " + r.Distinct.String()
	}
	if r.Count > 1 {
		field("raises", fmt.Sprintf("at %d %s within %s", r.Count, counted, record.ShortDuration(r.Window)))
	} else {
		field("raises", "at the first event")
	}
	if len(r.After) > 0 {
		var after []string
		for _, a := range r.After {
			after = append(after, a.Code())
		}
		field("after", fmt.Sprintf("%s reached its count for the same group within %s before", strings.Join(after, " or "), record.ShortDuration(r.AfterWindow)))
	}
	field("suppress", record.ShortDuration(r.Suppress)+" for the same group")
	if r.Sample != rules.FieldNone {
		field("samples", r.Sample.String())
	}
}

// familyLine names a family and the programs whose lines it applies to.
func familyLine(cat *rules.Catalog, name string) string {
	for _, f := range cat.Families() {
		if f.Name != name {
			continue
		}
		if len(f.Programs) == 0 || slices.Contains(f.Programs, "*") {
			return name + " (lines of any program)"
		}
		return name + " (lines of " + strings.Join(f.Programs, ", ") + ")"
	}
	return name
}

// attackURL is MITRE ATT&CK's page of a technique: T1110 or T1110.001.
func attackURL(id string) string {
	return "https://attack.mitre.org/techniques/" + strings.Replace(id, ".", "/", 1) + "/"
}

// unclassifiedReasons are the values of sshenrich.unclassified_reason,
// for "sshenrich explain UNCLASSIFIED".
var unclassifiedReasons = []struct {
	reason string
	en, ja string
}{
	{record.ReasonNoMatch, "No catalog entry matches the message. A line of a known program keeps sshenrich.family and, where sshd's wording shows them, the address, port and user.",
		"メッセージに一致するカタログエントリがありません。既知のプログラムの行には sshenrich.family が付き、sshd の書式から読み取れる場合はアドレス、ポート、ユーザーも付きます。"},
	{record.ReasonEmpty, "The message is empty or blank.", "メッセージが空、または空白だけです。"},
	{record.ReasonTooLong, fmt.Sprintf("The message is longer than %d bytes and is not matched.", rules.MaxMatchLen),
		fmt.Sprintf("メッセージが%dバイトを超えるため、照合していません。", rules.MaxMatchLen)},
	{record.ReasonNoMessage, "The record has no message key: none of message_key, message and MESSAGE.",
		"レコードにメッセージのキーがありません(message_key、message、MESSAGEのいずれもない)。"},
	{record.ReasonNotString, "The message key holds a number, a map, an array or nil instead of text.",
		"メッセージのキーの値が文字列ではなく、数値、マップ、配列、nilのいずれかです。"},
	{record.ReasonAXHeader, "A header line of an AX switch's output (Date or Switch), not a log message.",
		"AXスイッチの出力のヘッダー行(DateまたはSwitch)で、ログメッセージではありません。"},
}

// writeUnclassified explains the code of records that match no entry.
func writeUnclassified(w io.Writer, lang record.Lang) {
	fmt.Fprintf(w, "%s\n\n", rules.Unclassified)
	if lang != record.LangJA {
		fmt.Fprintln(w, "  No catalog entry classified the record. It is still sent on whole;")
		fmt.Fprintln(w, "  sshenrich.unclassified_reason says why (docs/troubleshooting.md#unclassified):")
		for _, r := range unclassifiedReasons {
			fmt.Fprintf(w, "    %-12s %s\n", r.reason, r.en)
		}
	}
	if lang != record.LangEN {
		if lang == record.LangBoth {
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w, "  どのカタログエントリにも分類されなかったレコードです。レコードはそのまま送られ、")
		fmt.Fprintln(w, "  sshenrich.unclassified_reason に理由が入ります(docs/troubleshooting.ja.md#unclassified):")
		for _, r := range unclassifiedReasons {
			fmt.Fprintf(w, "    %-12s %s\n", r.reason, r.ja)
		}
	}
}

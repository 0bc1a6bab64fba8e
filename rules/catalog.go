package rules

import (
	"embed"
	"fmt"
	"maps"
	"os"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// Severity is how urgent an event is, on the syslog scale.
type Severity uint8

// Severities, most urgent first. Number gives the syslog number written
// to event.severity.
const (
	SeverityCritical Severity = iota
	SeverityError
	SeverityWarning
	SeverityNotice
	SeverityInfo
	SeverityDebug
)

var severityNames = []string{"critical", "error", "warning", "notice", "info", "debug"}

func (s Severity) String() string { return severityNames[s] }

// Number is the syslog severity number: critical 2 ... debug 7.
func (s Severity) Number() int { return int(s) + 2 }

// Text is a piece of prose in the catalog's two languages.
type Text struct {
	En, Ja string
}

// Platforms a remediation may be written for.
var platforms = []string{"ax", "linux", "tectia", "vpn-gateway"}

// Limits of the one-line texts that short records carry.
const (
	MaxSummaryLen = 90  // characters of summary.en and summary.ja
	MaxActionLen  = 160 // characters of action.en and action.ja
)

// Levels is a set of program log levels that an entry is restricted to.
type Levels uint8

// Log levels that OpenSSH writes before a message ("error: ", "fatal: ").
const (
	LevelError Levels = 1 << iota
	LevelFatal
)

var levelNames = map[string]Levels{"error": LevelError, "fatal": LevelFatal}

// Entry is one known message: what it means and what to do about it.
type Entry struct {
	Code     string // stable and unique, e.g. SSHD-0001
	Name     string // short slug, e.g. login-accepted
	Family   string
	Category string

	Kind       string   // event.kind
	Categories []string // event.category
	Types      []string // event.type
	Action     string   // event.action
	Outcome    string   // event.outcome
	// PreauthOutcome, when set, is event.outcome of a line that ends in
	// " [preauth]": a connection that ended before authentication.
	PreauthOutcome string

	Severity   Severity
	Techniques []string // ATT&CK technique ids: T1110 or T1110.001
	Tags       []string
	Sources    []string // seed file and table, or upstream reference

	Description Text
	Remediation Text
	// Summary says in one line what happened, and ActionText in one line
	// what to do; short records carry them instead of the long texts.
	Summary    Text
	ActionText Text
	// Levels, when not zero, restricts the entry to lines logged at one
	// of these levels: the generic entries for internal errors.
	Levels Levels
	// Constants are fields the entry always writes under sshenrich, for
	// what its wording fixes (the disconnect code of a per-code entry).
	Constants []Constant
	// PlatformRemediation replaces Remediation for events seen on a
	// platform where the fix differs (key: ax, linux, tectia, vpn-gateway).
	PlatformRemediation map[string]Text
	// Session is the part a line of this entry plays in a session
	// (connect, auth, open, close, end), for correlation.
	Session SessionRole

	Templates []*Template
	Index     int      // position in Catalog.Entries
	Pos       string   // file:line of the stanza that defined it
	Overrides []string // file:line of each later stanza that changed it

	// Derived for writers.
	TechniqueIDs    []string // T1110
	SubtechniqueIDs []string // T1110.001

	family FamilySet // the bit of Family
}

// Constant is a field an entry writes for every line it matches.
type Constant struct {
	Field string // under sshenrich
	Value string
	Int   bool // the value is written as a number
}

// Anchor is the entry's anchor in the catalog reference (docs/catalog.md),
// whose heading is "CODE name": GitHub's lower-case, dash-joined form.
func (e *Entry) Anchor() string { return Anchor(e.Code + " " + e.Name) }

// Anchor is GitHub's heading anchor for a title.
func Anchor(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(title) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// Remedy returns the remediation for a platform, in both languages.
func (e *Entry) Remedy(platform string) Text {
	if t, ok := e.PlatformRemediation[platform]; ok {
		return t
	}
	return e.Remediation
}

// Template is one wording of an entry's message, compiled for matching.
type Template struct {
	Text   string // as written in the catalog
	Entry  *Entry
	Pos    string // file:line
	Elided bool   // the variant without its host, for redacted lines

	family     FamilySet // the entry's, copied for the matcher
	levels     Levels    // the entry's
	sensitive  bool      // see numberSensitive
	mappable   bool      // see placement
	prog       program
	slots      []slot
	maxScore   int
	maxRank    int    // rank(maxScore): no match of this template ranks higher
	prefix     string // literal text every match starts with
	suffix     string // literal text every match ends with
	needles    []int  // ids (into Catalog.needles) of other literals every match contains
	needleText [][]byte
	// plainNeedle[i] says no number can hold part of needles[i] (see
	// numberSensitive), for the shape cache.
	plainNeedle []bool
	nodes       []node
}

// Catalog is a compiled set of entries. It is immutable and safe for
// concurrent use; each goroutine matches with its own Matcher.
type Catalog struct {
	needles  [][]byte // distinct needle literals of all templates
	entries  []*Entry
	disabled []string // codes switched off by "enabled: false"
	byCode   map[string]*Entry
	vocab    *vocab
	index    index
	families []*Family
	programs programIndex
	overlap  [maxFamilies]FamilySet // families that share a program with family i
	openssh  FamilySet              // families whose messages OpenSSH's log functions write

	correlations []*Correlation
}

// Entries returns the entries in catalog order.
func (c *Catalog) Entries() []*Entry { return c.entries }

// Disabled returns the codes that rule files switched off.
func (c *Catalog) Disabled() []string { return c.disabled }

// Lookup returns the entry with the given code.
func (c *Catalog) Lookup(code string) (*Entry, bool) {
	e, ok := c.byCode[code]
	return e, ok
}

// Vars returns the declared captures, sorted by name.
func (c *Catalog) Vars() []*Var {
	out := make([]*Var, 0, len(c.vocab.vars))
	for _, n := range c.vocab.names() {
		out = append(out, c.vocab.vars[n])
	}
	return out
}

// Source is one rule file's name and content.
type Source struct {
	Name string
	Data []byte
}

//go:embed catalog/*.rules
var builtinFS embed.FS

// BuiltinSources returns the embedded catalog files.
func BuiltinSources() []Source {
	names, err := builtinFS.ReadDir("catalog")
	if err != nil {
		panic(err) // the embedded directory always exists
	}
	var out []Source
	for _, n := range names {
		data, err := builtinFS.ReadFile(path.Join("catalog", n.Name()))
		if err != nil {
			panic(err)
		}
		out = append(out, Source{Name: "rules/catalog/" + n.Name(), Data: data})
	}
	return out
}

var builtin struct {
	once sync.Once
	cat  *Catalog
	err  error
}

// Builtin returns the embedded catalog, compiled once.
func Builtin() (*Catalog, error) {
	builtin.once.Do(func() { builtin.cat, builtin.err = Compile(BuiltinSources()...) })
	return builtin.cat, builtin.err
}

// Load compiles the embedded catalog together with user rule files,
// which may add entries and captures or override entries by code.
func Load(files ...string) (*Catalog, error) {
	srcs := BuiltinSources()
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return nil, fmt.Errorf("rules file %s: %w", f, err)
		}
		if st.Size() > MaxFileSize {
			return nil, fmt.Errorf("%s:1: file is %d bytes; rule files may be at most %d", f, st.Size(), MaxFileSize)
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("rules file %s: %w", f, err)
		}
		srcs = append(srcs, Source{Name: f, Data: data})
	}
	return Compile(srcs...)
}

var (
	codeRE   = regexp.MustCompile(`^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$`)
	slugRE   = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	fieldRE  = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	attackRE = regexp.MustCompile(`^T[0-9]{4}(\.[0-9]{3})?$`)
)

// Unclassified is the code of a line that matches no entry.
const Unclassified = "UNCLASSIFIED"

// Compile builds a catalog from rule files. Later files override
// entries of earlier ones by code. All problems are returned together
// as an ErrorList, each with its file:line.
func Compile(sources ...Source) (*Catalog, error) {
	var errs ErrorList
	var stanzas []stanza
	for _, s := range sources {
		st, e := parseStanzas(s.Name, s.Data)
		stanzas = append(stanzas, st...)
		errs = append(errs, e...)
	}
	c := &Catalog{byCode: map[string]*Entry{}, vocab: newVocab()}
	var entryStanzas, corrStanzas []*stanza
	for i := range stanzas {
		s := &stanzas[i]
		switch s.fields[0].key {
		case "capture":
			errs = append(errs, c.declareCapture(s)...)
		case "group":
			errs = append(errs, c.declareGroup(s)...)
		case "family":
			errs = append(errs, c.declareFamily(s)...)
		case "code":
			entryStanzas = append(entryStanzas, s)
		case "correlation":
			corrStanzas = append(corrStanzas, s)
		default:
			errs = append(errs, errAt(s.file, s.line, "a stanza must start with \"code:\", \"capture:\", \"group:\", \"family:\" or \"correlation:\", not %q", s.fields[0].key))
		}
	}
	if len(entryStanzas) > MaxEntries {
		s := entryStanzas[MaxEntries]
		errs = append(errs, errAt(s.file, s.line, "entry %d of %d; the catalog and rule files together may hold at most %d", MaxEntries+1, len(entryStanzas), MaxEntries))
		return nil, errs
	}
	drafts := map[string]*draft{}
	var order []*draft
	for _, s := range entryStanzas {
		code := s.fields[0].value
		if !codeRE.MatchString(code) || code == Unclassified {
			errs = append(errs, errAt(s.file, s.line, "code %q must be upper-case words joined by '-', like SSHD-0001 (and not %s)", code, Unclassified))
			continue
		}
		d, exists := drafts[code]
		switch {
		case !exists:
			d = &draft{e: &Entry{Code: code, Pos: s.pos(), Kind: "event", Outcome: "unknown", Family: "custom", Category: "other"}}
			drafts[code] = d
			order = append(order, d)
		case d.file == s.file:
			errs = append(errs, errAt(s.file, s.line, "code %s is already defined at %s", code, d.e.Pos))
			continue
		default:
			d.e.Overrides = append(d.e.Overrides, s.pos())
		}
		d.file = s.file
		errs = append(errs, d.apply(s, c.vocab)...)
	}
	for _, d := range order {
		if d.disabled {
			c.disabled = append(c.disabled, d.e.Code)
			continue
		}
		e := d.e
		f, err := c.family(e.Family)
		if err != nil {
			errs = append(errs, errAt(d.familyFile, d.familyLine, "family: %v", err))
			continue
		}
		e.family = f.bit
		if errs2 := d.finish(c.vocab); len(errs2) > 0 {
			errs = append(errs, errs2...)
			continue
		}
		for _, t := range e.Templates {
			t.family, t.levels = e.family, e.Levels
		}
		e.Index = len(c.entries)
		c.entries = append(c.entries, e)
		c.byCode[e.Code] = e
	}
	errs = append(errs, c.compileCorrelations(corrStanzas)...)
	if len(errs) > 0 {
		return nil, errs
	}
	c.buildPrograms()
	c.internPrefixes()
	c.index = buildIndex(c.entries)
	c.numberNeedles()
	if errs := c.checkAmbiguity(); len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

func (c *Catalog) declareCapture(s *stanza) []error {
	var errs []error
	v := &Var{Name: s.fields[0].value, Pos: s.pos()}
	kind, personal := "", ""
	typeSet, destSet := false, false
	for _, f := range s.fields[1:] {
		switch f.key {
		case "type":
			t, ok := parseType(f.value)
			if !ok {
				errs = append(errs, errAt(s.file, f.line, "type %q is not one of: %s", f.value, strings.Join(typeNames[:], ", ")))
			}
			v.Type, typeSet = t, true
		case "field":
			destSet = true
			var err error
			if v.Dest, v.Field, err = parseDest(f.value); err != nil {
				errs = append(errs, errAt(s.file, f.line, "%v", err))
			}
		case "kind":
			kind = f.value
		case "personal":
			personal = f.value
			if _, ok := personalNames[personal]; !ok {
				errs = append(errs, errAt(s.file, f.line, "personal %q is not one of: user, address, no", f.value))
			}
		default:
			errs = append(errs, errAt(s.file, f.line, "unknown key %q in a capture stanza; expected type, field, kind or personal", f.key))
		}
	}
	if _, _, ok := captureAt("<"+v.Name+">", 0); !ok {
		errs = append(errs, errAt(s.file, s.line, "capture name %q must start with a letter and hold only letters, digits, blanks, '-', '_' and '.'", v.Name))
	}
	if !typeSet || !destSet {
		errs = append(errs, errAt(s.file, s.line, "capture %q needs both \"type:\" and \"field:\"", v.Name))
	}
	v.Kind = defaultKind(v.Type)
	if kind != "" {
		k, ok := kindNames[kind]
		if !ok || k == KindBool {
			errs = append(errs, errAt(s.file, s.line, "kind %q is not one of: string, int, list, push_reply", kind))
		}
		v.Kind = k
	}
	v.Personal = defaultPersonal(v.Dest)
	if p, ok := personalNames[personal]; ok && personal != "" {
		v.Personal = p
	}
	if old, dup := c.vocab.vars[v.Name]; dup {
		errs = append(errs, errAt(s.file, s.line, "capture %q is already declared at %s", v.Name, old.Pos))
	}
	if len(errs) == 0 {
		c.vocab.vars[v.Name] = v
	}
	return errs
}

func (c *Catalog) declareGroup(s *stanza) []error {
	var errs []error
	g := &Group{Text: s.fields[0].value, Kind: KindString, Pos: s.pos()}
	for _, f := range s.fields[1:] {
		switch f.key {
		case "field":
			if err := checkExtraField(f.value); err != nil {
				errs = append(errs, errAt(s.file, f.line, "%v", err))
			}
			g.Field = f.value
		case "kind":
			switch f.value {
			case "bool":
				g.Kind = KindBool
			case "string":
				g.Kind = KindString
			default:
				errs = append(errs, errAt(s.file, f.line, "kind %q is not one of: bool (true when present), string (the matched text)", f.value))
			}
		default:
			errs = append(errs, errAt(s.file, f.line, "unknown key %q in a group stanza; expected field or kind", f.key))
		}
	}
	if g.Field == "" {
		errs = append(errs, errAt(s.file, s.line, "group %q needs \"field:\"", g.Text))
	}
	if old, dup := c.vocab.groups[g.Text]; dup {
		errs = append(errs, errAt(s.file, s.line, "group %q is already declared at %s", g.Text, old.Pos))
	}
	if len(errs) == 0 {
		c.vocab.groups[g.Text] = g
	}
	return errs
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// draft is an entry being assembled from one or more stanzas.
type draft struct {
	e         *Entry
	file      string // file of the last stanza applied
	templates []field
	tmplFile  string
	rebind    []field // "fields:" values, checked once the vocabulary is known
	disabled  bool
	hasDesc   bool
	hasSev    bool

	familyFile string // where "family:" was given, for its error
	familyLine int
}

func (d *draft) apply(s *stanza, v *vocab) []error {
	var errs []error
	e := d.e
	bad := func(f field, format string, args ...any) {
		errs = append(errs, errAt(s.file, f.line, "%s: "+format, append([]any{f.key}, args...)...))
	}
	replaced := map[string]bool{}
	for _, f := range s.fields[1:] {
		val := f.value
		switch key := f.key; {
		case key == "template":
			if !replaced["template"] {
				d.templates, d.tmplFile, replaced["template"] = nil, s.file, true
			}
			if len(d.templates) >= MaxTemplatesEntry {
				bad(f, "more than %d templates in one entry", MaxTemplatesEntry)
				continue
			}
			d.templates = append(d.templates, f)
		case key == "name":
			if !slugRE.MatchString(val) {
				bad(f, "%q must be lower-case words joined by '-'", val)
			}
			e.Name = val
		case key == "family":
			e.Family, d.familyFile, d.familyLine = val, s.file, f.line
		case key == "category":
			if !slugRE.MatchString(val) {
				bad(f, "%q must be lower-case words joined by '-'", val)
			}
			e.Category = val
		case key == "event.kind":
			if !slices.Contains(ecsKinds, val) {
				bad(f, "%q is not an ECS event.kind: %s", val, strings.Join(ecsKinds, ", "))
			}
			e.Kind = val
		case key == "event.category":
			e.Categories = splitList(val)
			for _, c := range e.Categories {
				if _, ok := ecsCategories[c]; !ok {
					bad(f, "%q is not an ECS event.category: %s", c, strings.Join(sortedKeys(ecsCategories), ", "))
				}
			}
		case key == "event.type":
			e.Types = splitList(val)
			for _, t := range e.Types {
				if !slices.Contains(ecsTypes, t) {
					bad(f, "%q is not an ECS event.type: %s", t, strings.Join(ecsTypes, ", "))
				}
			}
		case key == "event.action":
			if !slugRE.MatchString(val) {
				bad(f, "%q must be lower-case words joined by '-'", val)
			}
			e.Action = val
		case key == "event.outcome":
			if !slices.Contains(ecsOutcomes, val) {
				bad(f, "%q is not one of: %s", val, strings.Join(ecsOutcomes, ", "))
			}
			e.Outcome = val
		case key == "preauth.outcome":
			if !slices.Contains(ecsOutcomes, val) {
				bad(f, "%q is not one of: %s", val, strings.Join(ecsOutcomes, ", "))
			}
			e.PreauthOutcome = val
		case key == "severity":
			i := slices.Index(severityNames, val)
			if i < 0 {
				bad(f, "%q is not one of: %s", val, strings.Join(severityNames, ", "))
				continue
			}
			e.Severity, d.hasSev = Severity(i), true
		case key == "attack":
			e.Techniques = splitList(val)
			for _, t := range e.Techniques {
				if !attackRE.MatchString(t) {
					bad(f, "%q is not an ATT&CK technique id like T1110 or T1110.001", t)
				}
			}
		case key == "tags":
			e.Tags = splitList(val)
			for _, t := range e.Tags {
				if !slugRE.MatchString(t) {
					bad(f, "tag %q must be lower-case words joined by '-'", t)
				}
			}
		case key == "source":
			if !replaced["source"] {
				e.Sources, replaced["source"] = nil, true
			}
			e.Sources = append(e.Sources, val)
		case key == "fields":
			d.rebind = append(d.rebind, f)
		case key == "enabled":
			switch val {
			case "true":
				d.disabled = false
			case "false":
				d.disabled = true
			default:
				bad(f, "%q must be true or false", val)
			}
		case key == "description.en":
			e.Description.En, d.hasDesc = val, true
		case key == "description.ja":
			e.Description.Ja = val
		case key == "remediation.en":
			e.Remediation.En = val
		case key == "remediation.ja":
			e.Remediation.Ja = val
		case key == "summary.en", key == "summary.ja", key == "action.en", key == "action.ja":
			limit, target := MaxSummaryLen, &e.Summary
			if strings.HasPrefix(key, "action.") {
				limit, target = MaxActionLen, &e.ActionText
			}
			if n := utf8.RuneCountInString(val); n > limit || strings.ContainsRune(val, '\n') {
				bad(f, "must be one line of at most %d characters, not %d", limit, n)
			}
			if strings.HasSuffix(key, ".en") {
				target.En = val
			} else {
				target.Ja = val
			}
		case key == "set":
			e.Constants = nil
			for _, item := range splitList(val) {
				name, value, ok := strings.Cut(item, "=")
				name, value = strings.TrimSpace(name), strings.TrimSpace(value)
				if !ok || value == "" {
					bad(f, "%q must be <field>=<value>", item)
					continue
				}
				if err := checkExtraField(name); err != nil {
					bad(f, "%v", err)
					continue
				}
				_, isInt := atoiField(value)
				e.Constants = append(e.Constants, Constant{Field: name, Value: value, Int: isInt})
			}
		case key == "level":
			e.Levels = 0
			for _, l := range splitList(val) {
				b, ok := levelNames[l]
				if !ok {
					bad(f, "%q is not a level the entry can be restricted to; use error, fatal or both", l)
				}
				e.Levels |= b
			}
		case strings.HasPrefix(key, "remediation."):
			rest := strings.TrimPrefix(key, "remediation.")
			dot := strings.LastIndexByte(rest, '.')
			if dot < 0 || !slices.Contains(platforms, rest[:dot]) || (rest[dot+1:] != "en" && rest[dot+1:] != "ja") {
				bad(f, "unknown key; platform remediation is remediation.<platform>.<en|ja> with platform one of: %s", strings.Join(platforms, ", "))
				continue
			}
			if e.PlatformRemediation == nil {
				e.PlatformRemediation = map[string]Text{}
			}
			t := e.PlatformRemediation[rest[:dot]]
			if rest[dot+1:] == "en" {
				t.En = val
			} else {
				t.Ja = val
			}
			e.PlatformRemediation[rest[:dot]] = t
		case key == "session":
			r, ok := parseSessionRole(val)
			if !ok {
				bad(f, "%q is not a session role; use one of: %s", val, strings.Join(sessionRoleNames[1:], ", "))
			}
			e.Session = r
		case key == "code":
			bad(f, "code may appear only once, at the start of a stanza")
		default:
			bad(f, "unknown key; expected one of: name, family, category, event.kind, event.category, event.type, event.action, event.outcome, preauth.outcome, severity, level, attack, tags, source, template, fields, description.en, description.ja, remediation.en, remediation.ja, remediation.<platform>.<en|ja>, summary.en, summary.ja, action.en, action.ja, set, session, enabled")
		}
	}
	return errs
}

// finish checks the assembled entry and compiles its templates.
func (d *draft) finish(v *vocab) []error {
	var errs []error
	e := d.e
	at := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s: "+format, append([]any{e.Pos, e.Code}, args...)...))
	}
	if len(d.templates) == 0 {
		at("needs at least one \"template:\"")
	}
	if !d.hasSev {
		at("needs \"severity:\"")
	}
	if !d.hasDesc {
		at("needs \"description.en:\"")
	}
	if e.Name == "" {
		e.Name = strings.ToLower(e.Code)
	}
	if e.Action == "" {
		e.Action = e.Name
	}
	for _, t := range e.Types {
		if len(e.Categories) == 0 {
			break
		}
		ok := false
		for _, c := range e.Categories {
			ok = ok || slices.Contains(ecsCategories[c], t)
		}
		if !ok {
			at("event.type %q is not expected with event.category %s (ECS allows: %s)", t, strings.Join(e.Categories, ","), expectedTypes(e.Categories))
		}
	}
	if len(d.rebind) > 0 {
		var err error
		if v, err = d.rebound(v); err != nil {
			errs = append(errs, err)
		}
	}
	for _, f := range d.templates {
		pos := fmt.Sprintf("%s:%d", d.tmplFile, f.line)
		ts, err := compileTemplate(f.value, v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: template: %w", pos, err))
			continue
		}
		for _, t := range ts {
			t.Entry, t.Pos = e, pos
			e.Templates = append(e.Templates, t)
		}
	}
	for _, k := range e.Constants {
		for _, t := range e.Templates {
			for _, sl := range t.slots {
				if sl.v != nil && sl.v.Dest == DestExtra && sl.v.Field == k.Field || sl.group != nil && sl.group.Field == k.Field {
					at("set: %s is also written by a capture of template %q", k.Field, t.Text)
				}
			}
		}
	}
	for _, t := range e.Techniques {
		id, _, sub := strings.Cut(t, ".")
		if !slices.Contains(e.TechniqueIDs, id) {
			e.TechniqueIDs = append(e.TechniqueIDs, id)
		}
		if sub {
			e.SubtechniqueIDs = append(e.SubtechniqueIDs, t)
		}
	}
	return errs
}

// atoiField reads a short decimal number.
func atoiField(s string) (int, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	n := 0
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

func expectedTypes(cats []string) string {
	var all []string
	for _, c := range cats {
		for _, t := range ecsCategories[c] {
			if !slices.Contains(all, t) {
				all = append(all, t)
			}
		}
	}
	return strings.Join(all, ", ")
}

// rebound applies the entry's "fields: name=field, ..." to a copy of the
// vocabulary, for a manual that uses a generic name in another role, as
// Tectia's "Listener created on <address>:<port>" does with the
// listening port.
func (d *draft) rebound(base *vocab) (*vocab, error) {
	v := &vocab{vars: maps.Clone(base.vars), groups: base.groups}
	for _, f := range d.rebind {
		for _, item := range splitList(f.value) {
			name, dest, ok := strings.Cut(item, "=")
			name, dest = strings.TrimSpace(name), strings.TrimSpace(dest)
			old, known := base.vars[name]
			if !ok || !known {
				return base, fmt.Errorf("%s: %s: fields: %q must be <capture name>=<field> with a declared capture", d.e.Pos, d.e.Code, item)
			}
			nv := *old
			var err error
			if nv.Dest, nv.Field, err = parseDest(dest); err != nil {
				return base, fmt.Errorf("%s: %s: fields: %w", d.e.Pos, d.e.Code, err)
			}
			if p := defaultPersonal(nv.Dest); p != PersonalNone {
				nv.Personal = p
			}
			v.vars[name] = &nv
		}
	}
	return v, nil
}

// parseDest reads a capture's field: a fixed ECS place, "-", or a name
// under sshenrich.
func parseDest(s string) (Dest, string, error) {
	if d, ok := fixedDests[s]; ok {
		return d, "", nil
	}
	if err := checkExtraField(s); err != nil {
		return 0, "", fmt.Errorf("%w, or one of %s", err, strings.Join(sortedKeys(fixedDests), ", "))
	}
	return DestExtra, s, nil
}

// checkExtraField checks a field name under sshenrich.
func checkExtraField(s string) error {
	if !fieldRE.MatchString(s) {
		return fmt.Errorf("field %q must be a snake_case name under sshenrich", s)
	}
	if reservedFields[s] {
		return fmt.Errorf("field %q is written by sshenrich itself; choose another name", s)
	}
	return nil
}

// numberNeedles gives each distinct needle an id, so that a Matcher looks
// for each at most once per message.
func (c *Catalog) numberNeedles() {
	ids := map[string]int{}
	for _, e := range c.entries {
		for _, t := range e.Templates {
			for _, n := range t.needleText {
				id, ok := ids[string(n)]
				if !ok {
					id = len(c.needles)
					ids[string(n)] = id
					c.needles = append(c.needles, n)
				}
				t.needles = append(t.needles, id)
			}
			// Test the cheapest needle first: one byte, then the shortest.
			sort.SliceStable(t.needles, func(i, j int) bool { return len(c.needles[t.needles[i]]) < len(c.needles[t.needles[j]]) })
			t.plainNeedle = make([]bool, len(t.needles))
			for i, id := range t.needles {
				t.plainNeedle[i] = !numberSensitive([]string{string(c.needles[id])})
			}
		}
	}
}

// internPrefixes makes equal prefixes share memory, so that the matcher
// can tell them equal by pointer.
func (c *Catalog) internPrefixes() {
	seen := map[string]string{}
	for _, e := range c.entries {
		for _, t := range e.Templates {
			if p, ok := seen[t.prefix]; ok {
				t.prefix = p
			} else {
				seen[t.prefix] = t.prefix
			}
		}
	}
}

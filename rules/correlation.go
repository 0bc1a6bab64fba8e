package rules

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A correlation stanza is a rule over several lines: when enough of the
// events it selects share the values of its group-by fields within its
// window, it raises an alert, which is written as an extra record
// (event.kind: alert) described by the stanza's own code and texts.
//
//	correlation:    CORR-0001
//	name:           ssh-brute-force
//	severity:       warning
//	select:         session=auth event.outcome=failure auth_method!=none,publickey
//	group-by:       source.ip
//	count:          8
//	window:         2m
//	suppress:       10m
//	description.en: Many failed logins from one source.
//
// The correlation package evaluates the rules; this file compiles and
// checks them, so that a rule file with a mistake fails to load with
// file:line, as an entry with a mistake does.

// Bounds on correlation rules.
const (
	MaxCorrelations = 1000
	MaxCount        = 100000 // largest count threshold
	MaxWindow       = 30 * 24 * time.Hour
	MaxSelects      = 32 // select lines per rule
	MaxGroupBy      = 4  // group-by fields per rule
)

// Field is a value of a line that a correlation rule groups by, counts
// distinct, or samples. It is named by the record field it is written to.
type Field uint8

// Fields a correlation rule may name.
const (
	FieldNone           Field = iota
	FieldHost                 // host.hostname
	FieldProgram              // process.name
	FieldSourceIP             // source.ip (OpenVPN: the real address)
	FieldUser                 // user.name
	FieldCommonName           // sshenrich.common_name: an OpenVPN client's common name
	FieldPoolIP               // sshenrich.pool_ip: an OpenVPN client's virtual address
	FieldAuthMethod           // sshenrich.auth_method
	FieldKeyFingerprint       // sshenrich.key_fingerprint
	FieldVRF                  // sshenrich.vrf
	FieldRDomain              // sshenrich.rdomain
	FieldSwitch               // sshenrich.switch: an AX switch number
	NumFields
)

var fieldNames = [NumFields]string{"", "host.hostname", "process.name", "source.ip", "user.name",
	"sshenrich.common_name", "sshenrich.pool_ip", "sshenrich.auth_method", "sshenrich.key_fingerprint",
	"sshenrich.vrf", "sshenrich.rdomain", "sshenrich.switch"}

func (f Field) String() string {
	if f < NumFields {
		return fieldNames[f]
	}
	return "unknown"
}

func parseField(s string) (Field, bool) {
	for i, n := range fieldNames {
		if i > 0 && n == s {
			return Field(i), true
		}
	}
	return FieldNone, false
}

// Attr is what a condition of a select line tests.
type Attr uint8

// Attributes. The first are the entry's and decided once per entry;
// the last three are the line's own.
const (
	AttrCode          Attr = iota // code, with * and ? wildcards
	AttrFamily                    // family
	AttrCategory                  // category
	AttrEventCategory             // event.category: any of the entry's
	AttrEventType                 // event.type: any of the entry's
	AttrSeverity                  // severity
	AttrSession                   // session role
	AttrTag                       // tags: any of the entry's
	AttrOutcome                   // event.outcome of the line (a [preauth] line may differ from its entry)
	AttrInvalidUser               // invalid_user: the line says the user does not exist (true or false)
	AttrAuthMethod                // auth_method of the line
	numAttrs
)

var attrNames = [numAttrs]string{"code", "family", "category", "event.category", "event.type", "severity", "session", "tags",
	"event.outcome", "invalid_user", "auth_method"}

func (a Attr) String() string { return attrNames[a] }

// lineAttr reports whether the attribute depends on the line and not
// only on its entry.
func (a Attr) lineAttr() bool { return a >= AttrOutcome }

// Cond is one condition of a select line: the attribute has one of the
// values (or, negated, none of them). A line without the attribute
// fails a plain condition and passes a negated one.
type Cond struct {
	Attr   Attr
	Not    bool
	Values []string
}

// Selector is one select line: all its conditions must hold.
type Selector struct {
	Conds []Cond
	Pos   string // file:line
	line  bool   // it has conditions on the line's own attributes
}

// Line holds a line's own attributes, for Selector.MatchLine.
type Line struct {
	Outcome     string // success, failure or unknown
	InvalidUser bool
	AuthMethod  []byte
}

// MatchEntry reports whether lines of entry e can satisfy the selector:
// every condition on the entry holds, and the outcome condition holds
// for the entry's outcome or its [preauth] outcome. Lines of such an
// entry must still pass MatchLine.
func (s *Selector) MatchEntry(e *Entry) bool {
	for i := range s.Conds {
		c := &s.Conds[i]
		var ok bool
		switch c.Attr {
		case AttrCode:
			ok = c.matchAny(func(v string) bool { m, _ := path.Match(v, e.Code); return m })
		case AttrFamily:
			ok = c.matchAny(func(v string) bool { return v == e.Family })
		case AttrCategory:
			ok = c.matchAny(func(v string) bool { return v == e.Category })
		case AttrEventCategory:
			ok = c.matchAny(func(v string) bool { return slices.Contains(e.Categories, v) })
		case AttrEventType:
			ok = c.matchAny(func(v string) bool { return slices.Contains(e.Types, v) })
		case AttrSeverity:
			ok = c.matchAny(func(v string) bool { return v == e.Severity.String() })
		case AttrSession:
			ok = c.matchAny(func(v string) bool { return v == e.Session.String() })
		case AttrTag:
			ok = c.matchAny(func(v string) bool { return slices.Contains(e.Tags, v) })
		case AttrOutcome:
			if !c.test(e.Outcome) && (e.PreauthOutcome == "" || !c.test(e.PreauthOutcome)) {
				return false
			}
			continue
		case AttrInvalidUser:
			// Only an entry whose wording can say so reports an invalid user.
			if c.Values[0] == "true" && !c.Not && !e.reportsInvalidUser() {
				return false
			}
			continue
		default:
			continue // decided by the line
		}
		if ok == c.Not {
			return false
		}
	}
	return true
}

// matchAny reports whether one of the values matches.
func (c *Cond) matchAny(match func(string) bool) bool {
	return slices.ContainsFunc(c.Values, match)
}

// test applies the condition, negation included, to one value.
func (c *Cond) test(v string) bool { return slices.Contains(c.Values, v) != c.Not }

// NeedsLine reports whether the selector has conditions on the line's
// own attributes, so that MatchLine must be called.
func (s *Selector) NeedsLine() bool { return s.line }

// LineKey is a canonical text of the selector's conditions on the
// line's own attributes: selectors with one key answer MatchLine alike,
// so a caller may test a line once for all of them.
func (s *Selector) LineKey() string {
	var b strings.Builder
	for _, c := range s.Conds {
		switch c.Attr {
		case AttrOutcome, AttrInvalidUser, AttrAuthMethod:
			fmt.Fprintf(&b, "%d %t %q;", c.Attr, c.Not, c.Values)
		}
	}
	return b.String()
}

// MatchLine tests the conditions on the line's own attributes. It does
// not allocate.
func (s *Selector) MatchLine(l *Line) bool {
	for i := range s.Conds {
		c := &s.Conds[i]
		var found bool
		switch c.Attr {
		case AttrOutcome:
			found = slices.Contains(c.Values, l.Outcome)
		case AttrInvalidUser:
			found = c.Values[0] == "true" && l.InvalidUser || c.Values[0] == "false" && !l.InvalidUser
		case AttrAuthMethod:
			for _, v := range c.Values {
				if string(l.AuthMethod) == v {
					found = true
					break
				}
			}
		default:
			continue
		}
		if found == c.Not {
			return false
		}
	}
	return true
}

// Groups whose text says that the user does not exist: "[invalid user]"
// and "[illegal user]" (a bool field), and the "invalid" alternative of
// "[authenticating|invalid]".
const (
	invalidUserField = "invalid_user"
	userStateField   = "user_state"
	userStateInvalid = "invalid"
)

// reportsInvalidUser reports whether a line of the entry can say that
// its user does not exist.
func (e *Entry) reportsInvalidUser() bool {
	for _, t := range e.Templates {
		for _, sl := range t.slots {
			if sl.group != nil && (sl.group.Field == invalidUserField || sl.group.Field == userStateField) {
				return true
			}
		}
	}
	return false
}

// InvalidUser reports whether the matched line says that its user does
// not exist ("for invalid user", "by invalid user", PAM's "illegal
// user"). msg is the message given to Match.
func (r *Result) InvalidUser(msg []byte) bool {
	for _, c := range r.Captures() {
		if c.Group == nil {
			continue
		}
		switch c.Group.Field {
		case invalidUserField:
			return true
		case userStateField:
			return string(msg[c.Start:c.End]) == userStateInvalid
		}
	}
	return false
}

// Correlation is a compiled correlation rule.
type Correlation struct {
	// Entry describes the alert record: code, name, severity, ATT&CK
	// techniques, texts. Its Kind is "alert" and its Family
	// "correlation"; it has no templates and never matches a line.
	Entry *Entry
	// Select: an event counts when it satisfies any of these.
	Select []Selector
	// GroupBy are the fields whose values must be the same for events
	// to be counted together: the key of the alert.
	GroupBy []Field
	// Distinct, when set, counts the distinct values of this field
	// among the selected events instead of the events themselves.
	Distinct Field
	// Sample is the field whose values the alert lists as examples
	// (Distinct by default).
	Sample Field
	// Count is the threshold: the alert is raised when this many events
	// (or distinct values) fall within Window.
	Count  int
	Window time.Duration
	// After, when not empty, is a precondition: one of these rules
	// must have reached its threshold for the same key within
	// AfterWindow before this rule's threshold is reached.
	After       []*Correlation
	AfterWindow time.Duration
	// Suppress is how long no second alert is raised for the same key.
	Suppress time.Duration
	// Index is the position in Catalog.Correlations.
	Index int
}

// Code is the rule's (and its alert's) code.
func (r *Correlation) Code() string { return r.Entry.Code }

// Correlations returns the correlation rules in catalog order.
func (c *Catalog) Correlations() []*Correlation { return c.correlations }

// Correlation returns the rule with the given code.
func (c *Catalog) Correlation(code string) (*Correlation, bool) {
	for _, r := range c.correlations {
		if r.Entry.Code == code {
			return r, true
		}
	}
	return nil, false
}

var authMethodRE = regexp.MustCompile(`^[a-z0-9][a-z0-9@./-]*$`)

// corrKeys are the keys of a correlation stanza beyond the entry keys
// it shares with entries.
var corrKeys = []string{"select", "group-by", "distinct", "sample", "count", "window", "after", "after.window", "suppress"}

// corrEntryKeys are the entry keys a correlation stanza may use for its
// alert record.
var corrEntryKeys = []string{"name", "category", "event.category", "event.type", "event.action", "severity", "attack", "tags", "source",
	"description.en", "description.ja", "remediation.en", "remediation.ja", "summary.en", "summary.ja", "action.en", "action.ja", "enabled"}

// corrDraft is a correlation rule being assembled from one or more
// stanzas. Values are kept with their lines and read at the end, so
// that an error points at the line that gave the value.
type corrDraft struct {
	d      *draft
	keys   map[string]field // the last value of each single key
	files  map[string]string
	sel    []field
	selEnd string // file of the select lines
	r      *Correlation
}

// compileCorrelations builds the correlation rules once the entries are
// known.
func (c *Catalog) compileCorrelations(stanzas []*stanza) []error {
	var errs []error
	if len(stanzas) > MaxCorrelations {
		s := stanzas[MaxCorrelations]
		return []error{errAt(s.file, s.line, "correlation %d of %d; rule files may hold at most %d", MaxCorrelations+1, len(stanzas), MaxCorrelations)}
	}
	drafts := map[string]*corrDraft{}
	var order []*corrDraft
	for _, s := range stanzas {
		code := s.fields[0].value
		if !codeRE.MatchString(code) || code == Unclassified {
			errs = append(errs, errAt(s.file, s.line, "correlation code %q must be upper-case words joined by '-', like CORR-0001", code))
			continue
		}
		if e, ok := c.byCode[code]; ok {
			errs = append(errs, errAt(s.file, s.line, "correlation code %s is already the code of the entry at %s; alerts need codes of their own", code, e.Pos))
			continue
		}
		cd, exists := drafts[code]
		switch {
		case !exists:
			e := &Entry{Code: code, Pos: s.pos(), Kind: "alert", Outcome: "unknown", Family: "correlation", Category: "correlation"}
			cd = &corrDraft{d: &draft{e: e}, keys: map[string]field{}, files: map[string]string{}, r: &Correlation{Entry: e}}
			drafts[code] = cd
			order = append(order, cd)
		case cd.d.file == s.file:
			errs = append(errs, errAt(s.file, s.line, "correlation %s is already defined at %s", code, cd.d.e.Pos))
			continue
		default:
			cd.d.e.Overrides = append(cd.d.e.Overrides, s.pos())
		}
		cd.d.file = s.file
		errs = append(errs, cd.apply(s)...)
	}
	byCode := map[string]*corrDraft{}
	for _, cd := range order {
		if cd.d.disabled {
			continue
		}
		byCode[cd.d.e.Code] = cd
	}
	for _, cd := range order {
		if cd.d.disabled {
			continue
		}
		if e := cd.finish(c); len(e) > 0 {
			errs = append(errs, e...)
			continue
		}
		cd.r.Index = len(c.correlations)
		c.correlations = append(c.correlations, cd.r)
	}
	if len(errs) > 0 {
		return errs
	}
	return c.linkAfter(order, byCode)
}

func (cd *corrDraft) apply(s *stanza) []error {
	var errs []error
	entryFields := []field{s.fields[0]}
	replacedSelect := false
	for _, f := range s.fields[1:] {
		switch {
		case f.key == "select":
			if !replacedSelect {
				cd.sel, cd.selEnd, replacedSelect = nil, s.file, true
			}
			if len(cd.sel) >= MaxSelects {
				errs = append(errs, errAt(s.file, f.line, "select: more than %d select lines in one rule", MaxSelects))
				continue
			}
			cd.sel = append(cd.sel, f)
		case slices.Contains(corrKeys, f.key):
			cd.keys[f.key], cd.files[f.key] = f, s.file
		case slices.Contains(corrEntryKeys, f.key):
			entryFields = append(entryFields, f)
		case f.key == "correlation":
			errs = append(errs, errAt(s.file, f.line, "correlation may appear only once, at the start of a stanza"))
		default:
			errs = append(errs, errAt(s.file, f.line, "%s: unknown key in a correlation stanza; expected one of: %s, %s",
				f.key, strings.Join(corrKeys, ", "), strings.Join(corrEntryKeys, ", ")))
		}
	}
	return append(errs, cd.d.apply(&stanza{file: s.file, line: s.line, fields: entryFields}, nil)...)
}

// finish checks the assembled rule and reads its values.
func (cd *corrDraft) finish(c *Catalog) []error {
	var errs []error
	e, r := cd.d.e, cd.r
	at := func(key string, format string, args ...any) {
		if f, ok := cd.keys[key]; ok {
			errs = append(errs, errAt(cd.files[key], f.line, "%s: "+format, append([]any{key}, args...)...))
			return
		}
		errs = append(errs, fmt.Errorf("%s: %s: "+format, append([]any{e.Pos, e.Code}, args...)...))
	}
	if !cd.d.hasSev {
		at("severity", "needs \"severity:\"")
	}
	if !cd.d.hasDesc {
		at("description.en", "needs \"description.en:\"")
	}
	if e.Name == "" {
		e.Name = strings.ToLower(e.Code)
	}
	if e.Action == "" {
		e.Action = e.Name
	}
	for _, t := range e.Types {
		ok := len(e.Categories) == 0
		for _, cat := range e.Categories {
			ok = ok || slices.Contains(ecsCategories[cat], t)
		}
		if !ok {
			at("event.type", "%q is not expected with event.category %s (ECS allows: %s)", t, strings.Join(e.Categories, ","), expectedTypes(e.Categories))
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

	if len(cd.sel) == 0 {
		errs = append(errs, fmt.Errorf("%s: %s: needs at least one \"select:\" naming the events it counts", e.Pos, e.Code))
	}
	for _, f := range cd.sel {
		sel, err := c.parseSelector(f.value)
		if err != nil {
			errs = append(errs, errAt(cd.selEnd, f.line, "select: %v", err))
			continue
		}
		sel.Pos = fmt.Sprintf("%s:%d", cd.selEnd, f.line)
		if !slices.ContainsFunc(c.entries, sel.MatchEntry) {
			errs = append(errs, errAt(cd.selEnd, f.line, "select: %q matches no catalog entry", f.value))
			continue
		}
		r.Select = append(r.Select, sel)
	}

	if f, ok := cd.keys["group-by"]; ok {
		for _, name := range splitList(f.value) {
			fl, ok := parseField(name)
			switch {
			case !ok:
				at("group-by", "%q is not a field a rule can group by; use %s", name, strings.Join(fieldNames[1:], ", "))
			case slices.Contains(r.GroupBy, fl):
				at("group-by", "%s is listed twice", name)
			default:
				r.GroupBy = append(r.GroupBy, fl)
			}
		}
	}
	if len(r.GroupBy) > MaxGroupBy {
		at("group-by", "%d fields; a rule may group by at most %d", len(r.GroupBy), MaxGroupBy)
	}
	if len(r.GroupBy) == 0 {
		at("group-by", "needs \"group-by:\": the fields whose values must be the same, such as source.ip")
	}
	readField := func(key string) Field {
		f, ok := cd.keys[key]
		if !ok {
			return FieldNone
		}
		fl, ok := parseField(f.value)
		if !ok {
			at(key, "%q is not a field; use one of %s", f.value, strings.Join(fieldNames[1:], ", "))
		}
		return fl
	}
	r.Distinct = readField("distinct")
	if r.Distinct != FieldNone && slices.Contains(r.GroupBy, r.Distinct) {
		at("distinct", "%s is also a group-by field: its values are the same in every counted event", r.Distinct)
	}
	r.Sample = readField("sample")
	if r.Sample == FieldNone {
		r.Sample = r.Distinct
	}

	r.Count = 1
	if f, ok := cd.keys["count"]; ok {
		n, err := strconv.Atoi(f.value)
		if err != nil || n < 1 || n > MaxCount {
			at("count", "%q must be a whole number from 1 to %d", f.value, MaxCount)
		}
		r.Count = n
	} else {
		at("count", "needs \"count:\": how many events (or distinct values) raise the alert")
	}
	readDuration := func(key string) (time.Duration, bool) {
		f, ok := cd.keys[key]
		if !ok {
			return 0, false
		}
		d, err := time.ParseDuration(f.value)
		if err != nil || d < time.Second || d > MaxWindow {
			at(key, "%q must be a duration from 1s to %s, such as 90s, 10m or 24h", f.value, "720h")
			return 0, false
		}
		return d, true
	}
	var hasWindow bool
	r.Window, hasWindow = readDuration("window")
	if !hasWindow {
		if r.Count > 1 || r.Distinct != FieldNone {
			at("window", "needs \"window:\": the span in which the events must fall, such as 2m")
		}
		r.Window = time.Minute
	}
	var hasSuppress bool
	if r.Suppress, hasSuppress = readDuration("suppress"); !hasSuppress {
		r.Suppress = r.Window
	}
	_, hasAfter := cd.keys["after"]
	var hasAfterWindow bool
	r.AfterWindow, hasAfterWindow = readDuration("after.window")
	switch {
	case hasAfter && !hasAfterWindow:
		at("after", "needs \"after.window:\": how recently the rules it follows must have been met")
	case !hasAfter && hasAfterWindow:
		at("after.window", "is given without \"after:\"")
	}
	return errs
}

// linkAfter resolves the "after:" references once every rule is known.
func (c *Catalog) linkAfter(order []*corrDraft, byCode map[string]*corrDraft) []error {
	var errs []error
	for _, cd := range order {
		f, ok := cd.keys["after"]
		if !ok || cd.d.disabled {
			continue
		}
		bad := func(format string, args ...any) {
			errs = append(errs, errAt(cd.files["after"], f.line, "after: "+format, args...))
		}
		codes := splitList(f.value)
		if len(codes) == 0 {
			bad("needs the codes of the rules this one follows")
		}
		before := len(errs)
		for _, code := range codes {
			other, known := byCode[code]
			switch {
			case code == cd.d.e.Code:
				bad("%s cannot follow itself", code)
			case !known && slices.ContainsFunc(order, func(o *corrDraft) bool { return o.d.e.Code == code }):
				// Disabled: the reference is dropped.
			case !known:
				bad("%s is not a correlation rule", code)
			case !slices.Equal(other.r.GroupBy, cd.r.GroupBy):
				bad("%s groups by %s and this rule by %s; a rule can only follow one with the same group-by", code, fieldList(other.r.GroupBy), fieldList(cd.r.GroupBy))
			default:
				cd.r.After = append(cd.r.After, other.r)
			}
		}
		if len(codes) > 0 && len(cd.r.After) == 0 && len(errs) == before {
			bad("every rule it follows (%s) is disabled; disable this rule too, or name another", strings.Join(codes, ", "))
		}
	}
	return errs
}

func fieldList(fs []Field) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.String()
	}
	return strings.Join(names, ",")
}

// parseSelector reads one select line: blank-separated conditions
// "key=v1,v2" or "key!=v1,v2".
func (c *Catalog) parseSelector(text string) (Selector, error) {
	var s Selector
	terms := strings.Fields(text)
	if len(terms) == 0 {
		return s, fmt.Errorf("is empty; write conditions such as session=auth event.outcome=failure")
	}
	for _, term := range terms {
		key, vals, ok := strings.Cut(term, "=")
		not := strings.HasSuffix(key, "!")
		key = strings.TrimSuffix(key, "!")
		if !ok || key == "" || vals == "" {
			return s, fmt.Errorf("%q must be key=value or key!=value (values separated by commas)", term)
		}
		idx := slices.Index(attrNames[:], key)
		if idx < 0 {
			return s, fmt.Errorf("%q: unknown key %q; use one of %s", term, key, strings.Join(attrNames[:], ", "))
		}
		attr := Attr(idx)
		cond := Cond{Attr: attr, Not: not, Values: strings.Split(vals, ",")}
		for _, v := range cond.Values {
			if err := c.checkCondValue(attr, v); err != nil {
				return s, fmt.Errorf("%q: %w", term, err)
			}
		}
		if attr == AttrInvalidUser && len(cond.Values) != 1 {
			return s, fmt.Errorf("%q: invalid_user takes one value, true or false", term)
		}
		s.line = s.line || attr.lineAttr()
		s.Conds = append(s.Conds, cond)
	}
	return s, nil
}

// checkCondValue rejects a value the attribute can never have, so that
// a misspelt condition does not silently select nothing.
func (c *Catalog) checkCondValue(a Attr, v string) error {
	oneOf := func(ok bool, names []string) error {
		if ok {
			return nil
		}
		return fmt.Errorf("%q is not one of: %s", v, strings.Join(names, ", "))
	}
	switch a {
	case AttrCode:
		if _, err := path.Match(v, ""); err != nil {
			return fmt.Errorf("%q is not a code pattern (* and ? are wildcards)", v)
		}
		known := func(code string) bool { m, _ := path.Match(v, code); return m }
		if !slices.ContainsFunc(c.entries, func(e *Entry) bool { return known(e.Code) }) && !slices.ContainsFunc(c.disabled, known) {
			return fmt.Errorf("%q matches no catalog code", v)
		}
	case AttrFamily:
		var names []string
		for _, f := range c.families {
			names = append(names, f.Name)
		}
		return oneOf(slices.Contains(names, v), names)
	case AttrEventCategory:
		_, ok := ecsCategories[v]
		return oneOf(ok, sortedKeys(ecsCategories))
	case AttrEventType:
		return oneOf(slices.Contains(ecsTypes, v), ecsTypes)
	case AttrSeverity:
		return oneOf(slices.Contains(severityNames, v), severityNames)
	case AttrSession:
		return oneOf(slices.Contains(sessionRoleNames[1:], v), sessionRoleNames[1:])
	case AttrOutcome:
		return oneOf(slices.Contains(ecsOutcomes, v), ecsOutcomes)
	case AttrInvalidUser:
		return oneOf(v == "true" || v == "false", []string{"true", "false"})
	case AttrCategory, AttrTag:
		if !slugRE.MatchString(v) {
			return fmt.Errorf("%q must be lower-case words joined by '-'", v)
		}
	case AttrAuthMethod:
		if !authMethodRE.MatchString(v) {
			return fmt.Errorf("%q is not an authentication method name such as password, publickey or keyboard-interactive/pam", v)
		}
	}
	return nil
}

package rules

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Type is the syntactic class of a capture: which bytes it may span.
// Matching is purely syntactic; semantic checks (is this host an IP?)
// happen when the record is written, so a bad value never makes a
// line unclassified.
type Type uint8

// Capture types, as listed in DESIGN.md §5 plus a few narrower ones.
const (
	TypeWord  Type = iota // one or more non-blank bytes
	TypeUser              // any bytes, possibly none: user names may hold blanks
	TypeHost              // IPv4, IPv6 or host name characters
	TypeIP                // address characters only (hex digits, '.', ':', '%')
	TypePort              // decimal digits
	TypeInt               // decimal digits
	TypeHex               // hexadecimal digits
	TypeList              // a comma-separated list without blanks
	TypeRest              // any bytes, at least one
	TypeIdent             // a C identifier: letters, digits and '_' (a function name)
	numTypes
)

var typeNames = [numTypes]string{"word", "user", "host", "ip", "port", "int", "hex", "list", "rest", "ident"}

func (t Type) String() string { return typeNames[t] }

func parseType(s string) (Type, bool) {
	for i, n := range typeNames {
		if n == s {
			return Type(i), true
		}
	}
	return 0, false
}

// minLen is the shortest span a capture of this type may match.
func (t Type) minLen() int {
	if t == TypeUser {
		return 0
	}
	return 1
}

// admits reports whether byte c may appear inside a capture of type t.
func (t Type) admits(c byte) bool { return classTable[t][c] }

// Admits reports whether byte c may appear inside a capture of type t.
func (t Type) Admits(c byte) bool { return classTable[t][c] }

var classTable [numTypes][256]bool

func init() {
	for c := range 256 {
		b := byte(c)
		blank := b == ' ' || b == '\t'
		digit := b >= '0' && b <= '9'
		hex := digit || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F')
		alpha := (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')
		classTable[TypeWord][c] = !blank
		classTable[TypeUser][c] = true
		classTable[TypeHost][c] = alpha || digit || b == '.' || b == ':' || b == '-' || b == '_' || b == '%'
		classTable[TypeIP][c] = hex || b == '.' || b == ':' || b == '%'
		classTable[TypePort][c] = digit
		classTable[TypeInt][c] = digit
		classTable[TypeHex][c] = hex
		classTable[TypeList][c] = !blank
		classTable[TypeRest][c] = true
		classTable[TypeIdent][c] = alpha || digit || b == '_'
	}
}

// Dest is where a captured value goes in the enriched record.
type Dest uint8

// Destinations. The first few have fixed ECS places; DestExtra goes under
// the sshenrich namespace with the variable's Field name.
const (
	DestNone            Dest = iota // captured for matching only, not written
	DestSourceHost                  // source.ip or source.domain
	DestSourcePort                  // source.port
	DestDestHost                    // destination.ip or destination.domain
	DestDestPort                    // destination.port
	DestUserName                    // user.name
	DestUserID                      // user.id
	DestUserEffective               // user.effective.name: the identity an action ran as (sudo, su)
	DestUserEffectiveID             // user.effective.id
	DestUserTarget                  // user.target.name: the account an action was aimed at (useradd, passwd)
	DestUserTargetID                // user.target.id
	DestUserChanges                 // user.changes.name: a user's new name (usermod -l)
	DestGroupName                   // group.name
	DestGroupID                     // group.id
	DestFunction                    // log.origin.function: the program function that logged
	DestError                       // error.message: the reason a call failed
	DestExtra                       // sshenrich.<Field>
)

var fixedDests = map[string]Dest{
	"-":                   DestNone,
	"source.host":         DestSourceHost,
	"source.port":         DestSourcePort,
	"destination.host":    DestDestHost,
	"destination.port":    DestDestPort,
	"user.name":           DestUserName,
	"user.id":             DestUserID,
	"user.effective.name": DestUserEffective,
	"user.effective.id":   DestUserEffectiveID,
	"user.target.name":    DestUserTarget,
	"user.target.id":      DestUserTargetID,
	"user.changes.name":   DestUserChanges,
	"group.name":          DestGroupName,
	"group.id":            DestGroupID,
	"log.origin.function": DestFunction,
	"error.message":       DestError,
}

// Kind says how a value is written.
type Kind uint8

// Value kinds.
const (
	KindString    Kind = iota
	KindInt            // a decimal number; left out when it does not parse
	KindList           // a comma-separated list, written as an array
	KindBool           // true when the optional part matched
	KindPushReply      // an OpenVPN PUSH_REPLY option list, expanded into fields
)

var kindNames = map[string]Kind{"string": KindString, "int": KindInt, "list": KindList, "bool": KindBool, "push_reply": KindPushReply}

// Var is a capture name of the template notation with its type and
// destination. Templates are copied from vendor manuals, so names are
// the manuals' own ("authentication method", "vrf id"). Vars are
// declared in catalog files by "capture:" stanzas.
type Var struct {
	Name  string
	Type  Type
	Dest  Dest
	Field string // key under sshenrich when Dest is DestExtra
	Kind  Kind
	// Personal marks a value that identifies a person, for masking.
	// Captures into user.name and the host fields are personal by default.
	Personal Personal
	Pos      string // file:line of the declaration
}

// Personal says whether a captured value identifies a person, and how
// it is masked when masking is on.
type Personal uint8

// Personal data classes.
const (
	PersonalNone    Personal = iota
	PersonalUser             // a user name, masked like user.name
	PersonalAddress          // an address or host name, masked like source.ip
)

var personalNames = map[string]Personal{"no": PersonalNone, "user": PersonalUser, "address": PersonalAddress}

// defaultPersonal derives a capture's personal class from its destination.
func defaultPersonal(d Dest) Personal {
	switch d {
	case DestUserName, DestUserEffective, DestUserTarget, DestUserChanges:
		return PersonalUser
	case DestSourceHost, DestDestHost:
		return PersonalAddress
	}
	return PersonalNone
}

// Group gives a meaning to an optional or choice part whose text is
// known, e.g. "[invalid user]" or "[local|remote]". Declared in catalog
// files by "group:" stanzas.
type Group struct {
	Text  string // the part's text without brackets: "local|remote"
	Field string // key under sshenrich
	Kind  Kind   // KindBool: true when present; KindString: the matched text
	Pos   string
}

// defaultKind derives how a capture is written from its type.
func defaultKind(t Type) Kind {
	switch t {
	case TypeInt, TypePort:
		return KindInt
	case TypeList:
		return KindList
	}
	return KindString
}

// vocab is a set of declared captures and groups.
type vocab struct {
	vars   map[string]*Var
	groups map[string]*Group
}

func newVocab() *vocab {
	return &vocab{vars: map[string]*Var{}, groups: map[string]*Group{}}
}

func (v *vocab) lookup(name string) (*Var, error) {
	if x, ok := v.vars[name]; ok {
		return x, nil
	}
	msg := fmt.Sprintf("unknown capture <%s>: declare it in a \"capture:\" stanza", name)
	if near := nearest(name, v.names(), 3); len(near) > 0 {
		msg += "; did you mean <" + strings.Join(near, ">, <") + ">?"
	}
	return nil, errors.New(msg)
}

// nearest returns up to n names within a small edit distance of s.
func nearest(s string, names []string, n int) []string {
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	for _, name := range names {
		if d := EditDistance(s, name); d <= max(2, len(s)/3) {
			cs = append(cs, cand{name, d})
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].d < cs[j].d })
	var out []string
	for i := 0; i < len(cs) && i < n; i++ {
		out = append(out, cs[i].name)
	}
	return out
}

// EditDistance is the Levenshtein distance between a and b, in bytes:
// what "did you mean" suggestions rank names by, here and in the CLI.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func (v *vocab) names() []string {
	names := make([]string, 0, len(v.vars))
	for n := range v.vars {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// reservedFields are the keys under sshenrich that the record writer
// fills itself; captures and groups may not use them, nor the names of
// ECS groups, which the writer may move under sshenrich.
var reservedFields = map[string]bool{
	"envelope": true, "platform": true, "timestamp": true, "family": true, "severity": true,
	"remediation": true, "description_ja": true, "remediation_ja": true, "action": true, "action_ja": true, "unclassified_reason": true,
	"session_id": true, "session": true, "inferred": true, "repeat": true, "preauth": true, "postauth": true, "tag_module": true, "syslog_msgid": true, "repeated": true, "host_elided": true, "invalid_utf8": true,
	"level": true, "tunnel": true, "switch": true, "fw_prefix": true, "fw_in": true, "fw_out": true,
	"moved": true, "original": true, "vpn_routes": true, "dns_servers": true,
	"event": true, "rule": true, "source": true, "destination": true, "user": true, "group": true, "process": true,
	"host": true, "observer": true, "log": true, "error": true, "network": true, "threat": true, "tags": true, "related": true, "ecs": true,
}

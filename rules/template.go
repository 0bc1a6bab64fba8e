package rules

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// The template notation (DESIGN.md §5):
//
//	Accepted <authentication method> for <user> from <host> port <port> [ssh2]
//	Protocol error in [local|remote]: '<message>'
//
// <name> is a typed capture, [x] an optional part and [a|b] a choice.
// A '<' that does not open a well-formed <name> is a plain character, so
// "RSA modulus too small: <size> < minimum 512 bits" needs no escaping.
// A backslash escapes any of \ [ ] < > | when a template needs them
// literally, as in `SIGUSR1\[<signal reason>\] received`.

type nodeKind uint8

const (
	nodeLit nodeKind = iota
	nodeCap
	nodeOpt // alts[0] may be absent
	nodeAlt // exactly one of alts
)

type node struct {
	kind  nodeKind
	lit   string
	v     *Var
	alts  [][]node
	text  string // source text between the brackets of a group
	group *Group
	moved bool // normalize moved the blank before this optional part into it
}

// MaxCaptures bounds the captures (and meaningful groups) of one template.
const MaxCaptures = 16

// maxTemplateLen bounds one template's text.
const maxTemplateLen = 1024

type templateParser struct {
	src   string
	i     int
	vocab *vocab
}

// parseTemplate turns template text into nodes. Errors name the column.
func parseTemplate(src string, v *vocab) ([]node, error) {
	if len(src) > maxTemplateLen {
		return nil, fmt.Errorf("template is %d bytes; at most %d allowed", len(src), maxTemplateLen)
	}
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("empty template")
	}
	p := &templateParser{src: src, vocab: v}
	seq, stop, err := p.seq(0)
	if err != nil {
		return nil, err
	}
	if stop != 0 {
		return nil, fmt.Errorf("column %d: unexpected %q outside brackets", p.i, stop)
	}
	if len(seq) == 1 && seq[0].kind == nodeOpt {
		return nil, errors.New("a template cannot be entirely optional")
	}
	return seq, nil
}

// seq parses until end of input, '|' or ']' (returned as stop).
func (p *templateParser) seq(depth int) ([]node, byte, error) {
	var out []node
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			out = append(out, node{kind: nodeLit, lit: lit.String()})
			lit.Reset()
		}
	}
	for p.i < len(p.src) {
		c := p.src[p.i]
		switch c {
		case '\\':
			if p.i+1 >= len(p.src) || !strings.ContainsRune(`\[]<>|`, rune(p.src[p.i+1])) {
				return nil, 0, fmt.Errorf("column %d: '\\' must be followed by one of \\ [ ] < > |", p.i+1)
			}
			lit.WriteByte(p.src[p.i+1])
			p.i += 2
		case '[':
			if depth >= 4 {
				return nil, 0, fmt.Errorf("column %d: brackets nested too deeply", p.i+1)
			}
			flush()
			open := p.i
			p.i++
			g, err := p.group(depth+1, open)
			if err != nil {
				return nil, 0, err
			}
			out = append(out, g)
		case ']', '|':
			if depth == 0 {
				return nil, 0, fmt.Errorf("column %d: %q without an opening '['", p.i+1, c)
			}
			flush()
			p.i++
			return out, c, nil
		case '<':
			if name, end, ok := captureAt(p.src, p.i); ok {
				v, err := p.vocab.lookup(name)
				if err != nil {
					return nil, 0, fmt.Errorf("column %d: %w", p.i+1, err)
				}
				flush()
				out = append(out, node{kind: nodeCap, v: v})
				p.i = end
				continue
			}
			lit.WriteByte(c)
			p.i++
		default:
			lit.WriteByte(c)
			p.i++
		}
	}
	if depth > 0 {
		return nil, 0, errors.New("'[' is never closed")
	}
	flush()
	return out, 0, nil
}

func (p *templateParser) group(depth, open int) (node, error) {
	var alts [][]node
	for {
		s, stop, err := p.seq(depth)
		if err != nil {
			return node{}, err
		}
		if len(s) == 0 {
			return node{}, fmt.Errorf("column %d: empty part inside brackets", open+1)
		}
		alts = append(alts, s)
		if stop == ']' {
			break
		}
	}
	text := unescape(p.src[open+1 : p.i-1])
	n := node{kind: nodeOpt, alts: alts, text: text}
	if len(alts) > 1 {
		n.kind = nodeAlt
	}
	n.group = p.vocab.groups[text]
	return n, nil
}

// captureAt reports whether src[i:] starts with a well-formed <name>.
func captureAt(src string, i int) (name string, end int, ok bool) {
	j := i + 1
	if j >= len(src) || !isLetter(src[j]) {
		return "", 0, false
	}
	for ; j < len(src); j++ {
		c := src[j]
		if c == '>' {
			return src[i+1 : j], j + 1, true
		}
		if !isLetter(c) && (c < '0' || c > '9') && c != ' ' && c != '-' && c != '_' && c != '.' {
			return "", 0, false
		}
	}
	return "", 0, false
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// normalize moves the blank before an optional word into it, so that
// "port <port> [ssh2]" matches both "port 22" and "port 22 ssh2", and
// "for [invalid user] <user>" both "for bob" and "for invalid user bob".
// The blank moves only when the part stands as a word of its own (it is
// followed by a blank or the end); "[/usr]/home" keeps its blank outside.
func normalize(seq []node) []node {
	for i := range seq {
		for a := range seq[i].alts {
			seq[i].alts[a] = normalize(seq[i].alts[a])
		}
	}
	for i := 1; i < len(seq); i++ {
		n := &seq[i]
		prev := &seq[i-1]
		if n.kind != nodeOpt || prev.kind != nodeLit || !strings.HasSuffix(prev.lit, " ") {
			continue
		}
		if startsWithBlank(n.alts[0]) {
			continue
		}
		if i+1 < len(seq) && !startsWithBlank(seq[i+1:]) {
			continue
		}
		prev.lit = prev.lit[:len(prev.lit)-1]
		n.alts[0] = append([]node{{kind: nodeLit, lit: " "}}, n.alts[0]...)
		n.alts[0] = mergeLits(n.alts[0])
		n.moved = true
	}
	return normalizeEmpty(seq)
}

// optionalWord reports whether n is an optional part that starts with a blank.
func optionalWord(n node) bool { return n.kind == nodeOpt && startsWithBlank(n.alts[0]) }

func startsWithBlank(seq []node) bool {
	return len(seq) > 0 && seq[0].kind == nodeLit && strings.HasPrefix(seq[0].lit, " ")
}

func mergeLits(seq []node) []node {
	out := seq[:0]
	for _, n := range seq {
		if n.kind == nodeLit && len(out) > 0 && out[len(out)-1].kind == nodeLit {
			out[len(out)-1].lit += n.lit
			continue
		}
		out = append(out, n)
	}
	return out
}

// elideHost returns the variant of seq in which its one top-level host
// capture is left out together with the blank before it, or false.
// Switch manuals and redacted logs print "Accepted password for staff
// from port 4226"; the variant lets such a line still be classified.
func elideHost(seq []node) ([]node, bool) {
	at := -1
	for i, n := range seq {
		if n.kind == nodeCap && n.v.Type == TypeHost {
			if at >= 0 {
				return nil, false
			}
			at = i
		}
	}
	if at < 1 || seq[at-1].kind != nodeLit || !strings.HasSuffix(seq[at-1].lit, " ") {
		return nil, false
	}
	if at+1 < len(seq) && !startsWithBlank(seq[at+1:]) && !optionalWord(seq[at+1]) {
		return nil, false
	}
	out := make([]node, 0, len(seq)-1)
	out = append(out, seq[:at-1]...)
	prev := seq[at-1]
	prev.lit = prev.lit[:len(prev.lit)-1]
	out = append(out, prev)
	out = append(out, seq[at+1:]...)
	out = mergeLits(out)
	if len(out) > 0 && out[len(out)-1].kind == nodeLit && strings.HasSuffix(out[len(out)-1].lit, " ") {
		// "from <host>" at the end: the blank went with the host.
		out[len(out)-1].lit = strings.TrimRight(out[len(out)-1].lit, " ")
	}
	return normalizeEmpty(out), true
}

func normalizeEmpty(seq []node) []node {
	out := seq[:0]
	for _, n := range seq {
		if n.kind == nodeLit && n.lit == "" {
			continue
		}
		out = append(out, n)
	}
	return out
}

// maxLiteral is the most literal bytes any line matching seq can have.
func maxLiteral(seq []node) int {
	total := 0
	for _, n := range seq {
		switch n.kind {
		case nodeLit:
			total += len(n.lit)
		case nodeOpt, nodeAlt:
			best := 0
			for _, a := range n.alts {
				best = max(best, maxLiteral(a))
			}
			total += best
		}
	}
	return total
}

// fixedPrefix and fixedSuffix are the literal text every matching line
// starts or ends with; they drive the matcher's dispatch.
func fixedPrefix(seq []node) string {
	if len(seq) > 0 && seq[0].kind == nodeLit {
		return seq[0].lit
	}
	return ""
}

func fixedSuffix(seq []node) string {
	if len(seq) > 0 && seq[len(seq)-1].kind == nodeLit {
		return seq[len(seq)-1].lit
	}
	return ""
}

// compileTemplate compiles template text, and its host-elided variant
// when it has one.
func compileTemplate(text string, v *vocab) ([]*Template, error) {
	seq, err := parseTemplate(text, v)
	if err != nil {
		return nil, err
	}
	seq = normalize(seq)
	if err := checkDuplicateFields(seq); err != nil {
		return nil, err
	}
	t, err := newTemplate(text, seq, false)
	if err != nil {
		return nil, err
	}
	out := []*Template{t}
	if el, ok := elideHost(seq); ok {
		if t2, err := newTemplate(text, el, true); err == nil {
			out = append(out, t2)
		}
	}
	return out, nil
}

func newTemplate(text string, seq []node, elided bool) (*Template, error) {
	prog, slots, err := compileSeq(seq)
	if err != nil {
		return nil, err
	}
	t := &Template{
		Text:       text,
		Elided:     elided,
		prog:       prog,
		slots:      slots,
		maxScore:   maxLiteral(seq),
		prefix:     fixedPrefix(seq),
		suffix:     fixedSuffix(seq),
		needleText: needles(seq),
		nodes:      seq,
	}
	t.maxRank = t.rank(t.maxScore)
	t.sensitive = numberSensitive(prog.lits)
	t.mappable = !t.sensitive && !prog.digitMayFollowCapture()
	return t, nil
}

// needles are literals of the template's fixed part, other than its
// prefix and suffix, that every match contains: a message without them
// cannot match, and looking for them is far cheaper than running the
// program. They are the longest such literal, and the last one that
// holds punctuation (the wordings of one event usually differ at the
// end, as "... ssh2" and "... ssh2: RSA SHA256:...").
func needles(seq []node) [][]byte {
	var out [][]byte
	longest, last := "", ""
	for i, n := range seq {
		if n.kind != nodeLit || i == 0 || i == len(seq)-1 {
			continue
		}
		if len(n.lit) > len(longest) {
			longest = n.lit
		}
		if strings.ContainsAny(n.lit, ":;,.()[]=\"'<>/@") {
			last = n.lit
		}
	}
	if t := needleText(longest); len(longest) >= 3 && len(t) >= 2 {
		out = append(out, []byte(t))
	}
	// Blanks stay: ": " tells "ssh2: RSA ..." from an IPv6 address.
	if last != "" && last != longest && strings.Trim(last, " ") != "" {
		out = append(out, []byte(last))
	}
	return out
}

// needleText cuts a literal to the part that is quickest to look for:
// from its first letter (blanks, punctuation and digits are common in
// log lines, so a search starting at them stops often), at most 12 bytes.
func needleText(lit string) string {
	t := strings.TrimLeftFunc(lit, func(r rune) bool { return !unicode.IsLetter(r) })
	if len(strings.TrimSpace(t)) < 2 {
		t = strings.Trim(lit, " ")
	}
	if len(t) > 12 {
		t = t[:12]
	}
	return t
}

// checkDuplicateFields rejects a template that would write one record
// key twice, e.g. two captures that both go to source.host.
func checkDuplicateFields(seq []node) error {
	seen := map[string]string{}
	var walk func([]node) error
	walk = func(seq []node) error {
		for _, n := range seq {
			key, name := "", ""
			switch {
			case n.kind == nodeCap && n.v.Dest != DestNone:
				key, name = destKey(n.v), "<"+n.v.Name+">"
			case n.group != nil:
				key, name = "sshenrich."+n.group.Field, "["+n.text+"]"
			}
			if key != "" {
				if other, dup := seen[key]; dup {
					return fmt.Errorf("%s and %s both write %s", other, name, key)
				}
				seen[key] = name
			}
			for _, a := range n.alts {
				if err := walk(a); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(seq)
}

func destKey(v *Var) string {
	if v.Dest == DestExtra {
		return "sshenrich." + v.Field
	}
	for k, d := range fixedDests {
		if d == v.Dest {
			return k
		}
	}
	return ""
}

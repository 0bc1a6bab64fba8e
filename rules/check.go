package rules

import (
	"fmt"
	"strings"
)

// Sample values used to instantiate templates, by capture type. They are
// chosen to look like nothing else in a template.
var sampleValues = [numTypes]string{
	TypeWord:  "w0rd",
	TypeUser:  "alice",
	TypeHost:  "192.0.2.7",
	TypeIP:    "192.0.2.8",
	TypePort:  "2201",
	TypeInt:   "17",
	TypeHex:   "0A1B2C3D",
	TypeList:  "aes128-ctr,aes256-gcm",
	TypeRest:  "sample text",
	TypeIdent: "sample_func",
}

// Instances returns sample lines that the template matches: every
// optional part present, every optional part absent, and each choice
// taken in turn.
func (t *Template) Instances() []string {
	width := 1
	var widest func([]node)
	widest = func(seq []node) {
		for _, n := range seq {
			if n.kind == nodeAlt {
				width = max(width, len(n.alts))
			}
			for _, a := range n.alts {
				widest(a)
			}
		}
	}
	widest(t.nodes)
	var out []string
	for pick := range width {
		out = append(out, instantiate(t.nodes, true, pick))
	}
	if absent := instantiate(t.nodes, false, 0); !containsString(out, absent) {
		out = append(out, absent)
	}
	return out
}

func instantiate(seq []node, optional bool, pick int) string {
	var b strings.Builder
	for _, n := range seq {
		switch n.kind {
		case nodeLit:
			b.WriteString(n.lit)
		case nodeCap:
			b.WriteString(sampleValues[n.v.Type])
		case nodeOpt:
			if optional {
				b.WriteString(instantiate(n.alts[0], optional, pick))
			}
		case nodeAlt:
			b.WriteString(instantiate(n.alts[min(pick, len(n.alts)-1)], optional, pick))
		}
	}
	return b.String()
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkAmbiguity instantiates every template and matches the sample
// lines against the whole catalog. A line that another entry matches
// equally well is ambiguous; a line that another entry matches better
// means the template can never be the one that wins. Both are errors.
func (c *Catalog) checkAmbiguity() ErrorList {
	var errs ErrorList
	m := c.NewMatcher()
	reported := map[[2]*Template]bool{}
	for _, e := range c.entries {
		for _, t := range e.Templates {
			if t.Elided {
				continue
			}
			for _, line := range t.Instances() {
				own, ok := m.score(t, line)
				if !ok {
					errs = append(errs, fmt.Errorf("%s: template does not match its own sample line %q", t.Pos, line))
					continue
				}
				for _, o := range m.candidates(line) {
					if o.Entry == e || o.Elided || !c.sharePrograms(e.family, o.Entry.family) || e.Levels&o.Entry.Levels == 0 && e.Levels != 0 && o.Entry.Levels != 0 {
						continue
					}
					s, ok := m.score(o, line)
					if !ok || s < own || reported[[2]*Template{t, o}] {
						continue
					}
					reported[[2]*Template{t, o}] = true
					reported[[2]*Template{o, t}] = true
					if s == own {
						errs = append(errs, fmt.Errorf("%s: template matches %q exactly as well as %s's template at %s; make one more specific", t.Pos, line, o.Entry.Code, o.Pos))
					} else {
						errs = append(errs, fmt.Errorf("%s: template never wins on %q: %s's template at %s matches it with more literal text", t.Pos, line, o.Entry.Code, o.Pos))
					}
				}
			}
		}
	}
	return errs
}

// score matches one template against a line.
func (m *Matcher) score(t *Template, line string) (int, bool) {
	s, ok := m.vm.run(&t.prog, len(t.slots), []byte(line))
	return t.rank(s), ok
}

// candidates lists the templates the index offers for a line.
func (m *Matcher) candidates(line string) []*Template {
	ix := &m.cat.index
	var out []*Template
	add := func(b bucket) {
		for _, s := range b {
			out = append(out, s.t)
		}
	}
	if len(line) >= 4 {
		add(ix.prefix.get(keyOf([]byte(line[:4]))))
		add(ix.suffix.get(keyOf([]byte(line[len(line)-4:]))))
	}
	for _, k := range ix.short {
		if k.fromEnd && strings.HasSuffix(line, k.text) || !k.fromEnd && strings.HasPrefix(line, k.text) {
			out = append(out, k.t)
		}
	}
	add(ix.floating)
	return out
}

package rules

import (
	"regexp"
	"strings"
)

// RegexpSource renders the template as an equivalent Go regular
// expression, anchored at both ends, with one group per capture. It
// exists to measure the matcher against the naive alternative (one
// regexp per template, tried in turn) and to let other tools reuse the
// catalog.
func (t *Template) RegexpSource() string {
	var b strings.Builder
	b.WriteString(`^`)
	writeRegexp(&b, t.nodes)
	b.WriteString(`$`)
	return b.String()
}

var typeRegexps = [numTypes]string{
	TypeWord:  `[^ \t]+?`,
	TypeUser:  `.*?`,
	TypeHost:  `[A-Za-z0-9.:%_-]+?`,
	TypeIP:    `[0-9A-Fa-f.:%]+?`,
	TypePort:  `[0-9]+?`,
	TypeInt:   `[0-9]+?`,
	TypeHex:   `[0-9A-Fa-f]+?`,
	TypeList:  `[^ \t]+?`,
	TypeRest:  `.+?`,
	TypeIdent: `[A-Za-z0-9_]+?`,
}

func writeRegexp(b *strings.Builder, seq []node) {
	for _, n := range seq {
		switch n.kind {
		case nodeLit:
			b.WriteString(regexp.QuoteMeta(n.lit))
		case nodeCap:
			b.WriteString("(" + typeRegexps[n.v.Type] + ")")
		case nodeOpt:
			b.WriteString("(?:")
			writeRegexp(b, n.alts[0])
			b.WriteString(")?")
		case nodeAlt:
			b.WriteString("(?:")
			for i, a := range n.alts {
				if i > 0 {
					b.WriteByte('|')
				}
				writeRegexp(b, a)
			}
			b.WriteByte(')')
		}
	}
}

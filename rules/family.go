package rules

import (
	"fmt"
	"slices"
	"strings"
)

// A family is a product whose messages the catalog knows (openssh,
// openvpn, pam, ...). Each is declared in a "family:" stanza with the
// programs that write its messages:
//
//	family:   openssh
//	programs: sshd, sshd-session, sshd-auth
//
// An entry applies only to lines of its family's programs, so that a
// generic template of one product ("WARNING: <message>") cannot claim
// another product's line. A program list of "*" means any program (PAM
// modules log under the name of the program that loaded them), and a
// trailing '*' matches a prefix ("openvpn*"). A line with no program is
// tried against every family.

// FamilySet is a set of families, one bit per declared family.
type FamilySet uint32

// AllFamilies is the set that holds every family.
const AllFamilies FamilySet = ^FamilySet(0)

// maxFamilies is the number of families a FamilySet can hold.
const maxFamilies = 32

// Family is a declared family.
type Family struct {
	Name     string
	Programs []string
	Pos      string
	bit      FamilySet
}

// familyCustom is the family of user entries that name none. It is
// declared implicitly and applies to every program.
const familyCustom = "custom"

type programPrefix struct {
	prefix string
	set    FamilySet
}

// programIndex finds the families of a program name.
type programIndex struct {
	exact    map[string]FamilySet
	prefixes []programPrefix
	any      FamilySet // families that apply to every program
	primary  map[string]string
}

func (c *Catalog) declareFamily(s *stanza) []error {
	var errs []error
	name := s.fields[0].value
	if !slugRE.MatchString(name) {
		errs = append(errs, errAt(s.file, s.line, "family %q must be lower-case words joined by '-'", name))
	}
	var programs []string
	seen := false
	for _, f := range s.fields[1:] {
		switch f.key {
		case "programs":
			seen = true
			programs = splitList(f.value)
			for _, p := range programs {
				if !validProgram(p) {
					errs = append(errs, errAt(s.file, f.line, "program %q must be a syslog tag (letters, digits, '-', '_', '.', '/', '@'), optionally ending in '*', or \"*\" alone", p))
				}
			}
		default:
			errs = append(errs, errAt(s.file, f.line, "unknown key %q in a family stanza; expected programs", f.key))
		}
	}
	if !seen || len(programs) == 0 {
		errs = append(errs, errAt(s.file, s.line, "family %q needs \"programs:\" (comma-separated program names, or *)", name))
	}
	if len(errs) > 0 {
		return errs
	}
	if i := slices.IndexFunc(c.families, func(f *Family) bool { return f.Name == name }); i >= 0 {
		// A later file changes the programs of a family.
		c.families[i].Programs, c.families[i].Pos = programs, s.pos()
		return nil
	}
	if len(c.families) >= maxFamilies {
		return []error{errAt(s.file, s.line, "family %q is one too many; at most %d families can be declared", name, maxFamilies)}
	}
	c.families = append(c.families, &Family{Name: name, Programs: programs, Pos: s.pos(), bit: 1 << len(c.families)})
	return nil
}

func validProgram(p string) bool {
	if p == "*" {
		return true
	}
	p = strings.TrimSuffix(p, "*")
	if p == "" {
		return false
	}
	for i := range len(p) {
		if !isTagByte(p[i]) {
			return false
		}
	}
	return true
}

func isTagByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '/' || c == '@'
}

// family returns the declared family of that name, declaring "custom"
// on first use.
func (c *Catalog) family(name string) (*Family, error) {
	for _, f := range c.families {
		if f.Name == name {
			return f, nil
		}
	}
	if name == familyCustom && len(c.families) < maxFamilies {
		f := &Family{Name: familyCustom, Programs: []string{"*"}, Pos: "(built in)", bit: 1 << len(c.families)}
		c.families = append(c.families, f)
		return f, nil
	}
	names := make([]string, 0, len(c.families))
	for _, f := range c.families {
		names = append(names, f.Name)
	}
	return nil, fmt.Errorf("%q is not a declared family (declare it in a \"family:\" stanza); known: %s", name, strings.Join(names, ", "))
}

func (c *Catalog) buildPrograms() {
	ix := programIndex{exact: map[string]FamilySet{}, primary: map[string]string{}}
	for _, f := range c.families {
		for _, p := range f.Programs {
			switch {
			case p == "*":
				ix.any |= f.bit
			case strings.HasSuffix(p, "*"):
				ix.prefixes = append(ix.prefixes, programPrefix{strings.TrimSuffix(p, "*"), f.bit})
			default:
				ix.exact[p] |= f.bit
				if _, ok := ix.primary[p]; !ok {
					ix.primary[p] = f.Name
				}
			}
		}
	}
	c.programs = ix
	c.openssh = c.FamilyNamed("openssh", "ax-sshd")
	for i, f := range c.families {
		for j, g := range c.families {
			if programsOverlap(f.Programs, g.Programs) {
				c.overlap[i] |= g.bit
				c.overlap[j] |= f.bit
			}
		}
	}
}

// programsOverlap reports whether some program is in both lists.
func programsOverlap(a, b []string) bool {
	for _, p := range a {
		for _, q := range b {
			pp, qq := strings.TrimSuffix(p, "*"), strings.TrimSuffix(q, "*")
			switch {
			case p == "*" || q == "*" || p == q:
				return true
			case strings.HasSuffix(p, "*") && strings.HasPrefix(qq, pp),
				strings.HasSuffix(q, "*") && strings.HasPrefix(pp, qq):
				return true
			}
		}
	}
	return false
}

// sharePrograms reports whether lines of some program are matched
// against entries of both families.
func (c *Catalog) sharePrograms(a, b FamilySet) bool {
	for i := range c.families {
		if a&(1<<i) != 0 && c.overlap[i]&b != 0 {
			return true
		}
	}
	return false
}

// Families returns the declared families in declaration order.
func (c *Catalog) Families() []*Family { return c.families }

// FamiliesOf returns the families whose entries apply to a line written
// by program: those that list it, and those that apply to any program.
// A line with no program (nil or empty) may be of any family.
func (c *Catalog) FamiliesOf(program []byte) FamilySet {
	if len(program) == 0 {
		return AllFamilies
	}
	ix := &c.programs
	set := ix.any | ix.exact[string(program)]
	for i := range ix.prefixes {
		p := &ix.prefixes[i]
		if len(program) >= len(p.prefix) && string(program[:len(p.prefix)]) == p.prefix {
			set |= p.set
		}
	}
	return set
}

// FamilyNamed returns the set holding the named families; unknown names
// are ignored.
func (c *Catalog) FamilyNamed(names ...string) FamilySet {
	var set FamilySet
	for _, f := range c.families {
		if slices.Contains(names, f.Name) {
			set |= f.bit
		}
	}
	return set
}

// ProgramFamily names the family of a program, for a line that no entry
// matched: the first family that lists the program by name or prefix,
// or "" when none does.
func (c *Catalog) ProgramFamily(program []byte) string {
	if len(program) == 0 {
		return ""
	}
	if name, ok := c.programs.primary[string(program)]; ok {
		return name
	}
	for i := range c.programs.prefixes {
		p := &c.programs.prefixes[i]
		if len(program) >= len(p.prefix) && string(program[:len(p.prefix)]) == p.prefix {
			for _, f := range c.families {
				if f.bit == p.set {
					return f.Name
				}
			}
		}
	}
	return ""
}

// programCache remembers the families of the last few programs a
// Matcher saw: lines come in runs from one program, and the lookup by
// name costs more than the compare.
type programCache struct {
	entries [8]struct {
		name [32]byte
		n    int8 // length of name; -1 when unused
		set  FamilySet
	}
	next int
}

// Families is Catalog.FamiliesOf with a small cache.
func (m *Matcher) Families(program []byte) FamilySet {
	if len(program) == 0 {
		return AllFamilies
	}
	pc := &m.programs
	if len(program) <= len(pc.entries[0].name) {
		for i := range pc.entries {
			e := &pc.entries[i]
			if int(e.n) == len(program) && string(e.name[:e.n]) == string(program) {
				return e.set
			}
		}
	}
	set := m.cat.FamiliesOf(program)
	if len(program) <= len(pc.entries[0].name) {
		e := &pc.entries[pc.next]
		pc.next = (pc.next + 1) % len(pc.entries)
		e.n = int8(copy(e.name[:], program))
		e.set = set
	}
	return set
}

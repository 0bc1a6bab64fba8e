// Package deploytest checks sshenrich's deployment files (the container
// image, the Kubernetes manifests, the Helm values and the shipped Fluent
// Bit configurations) without Docker, a cluster or Fluent Bit: it reads
// them the way those tools do and holds them to the facts sshenrich
// depends on. It is a module of its own so that the plugin's module does
// not carry the Kubernetes and BuildKit dependencies.
package deploytest

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Files is a container's filesystem as far as the checks need it:
// absolute paths and their contents.
type Files map[string][]byte

// glob returns the paths matching pattern, sorted.
func (f Files) glob(pattern string) []string {
	var out []string
	for p := range f {
		if ok, _ := path.Match(pattern, p); ok {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// Entry is one key and value of a section.
type Entry struct {
	Key, Value string
	Where      string // file:line
}

// Section is one [NAME] section (or one YAML pipeline entry).
type Section struct {
	Kind    string // SERVICE, INPUT, FILTER, OUTPUT, PLUGINS, PARSER, ...
	Where   string
	Entries []Entry
}

// Values returns every value of key (keys are case-insensitive).
func (s *Section) Values(key string) []string {
	var out []string
	for _, e := range s.Entries {
		if strings.EqualFold(e.Key, key) {
			out = append(out, e.Value)
		}
	}
	return out
}

// Get returns the last value of key, or "".
func (s *Section) Get(key string) string {
	v := s.Values(key)
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// Has reports whether key is set.
func (s *Section) Has(key string) bool { return len(s.Values(key)) > 0 }

// Name is the plugin name of an INPUT, FILTER or OUTPUT, in lower case.
func (s *Section) Name() string { return strings.ToLower(s.Get("name")) }

func (s *Section) String() string {
	if n := s.Name(); n != "" {
		return fmt.Sprintf("[%s] %s (%s)", s.Kind, n, s.Where)
	}
	return fmt.Sprintf("[%s] (%s)", s.Kind, s.Where)
}

// Config is what Fluent Bit reads from one -c file: its sections, its
// variables (@SET, YAML env), the plugin paths it loads and every file
// it opened.
type Config struct {
	Sections []*Section
	Vars     map[string]string
	Plugins  []string
	Read     []string
}

// All returns the sections of one kind, in order.
func (c *Config) All(kind string) []*Section {
	var out []*Section
	for _, s := range c.Sections {
		if s.Kind == kind {
			out = append(out, s)
		}
	}
	return out
}

// Service returns the [SERVICE] section (an empty one when there is none).
func (c *Config) Service() *Section {
	if s := c.All("SERVICE"); len(s) > 0 {
		return s[0]
	}
	return &Section{Kind: "SERVICE"}
}

// ReadFile reports whether Fluent Bit opened path.
func (c *Config) ReadFile(p string) bool {
	for _, r := range c.Read {
		if r == p {
			return true
		}
	}
	return false
}

// LoadFluentBit reads what `fluent-bit -c main` reads in files, with cwd
// as the working directory: main, its includes, and the Plugins_File and
// Parsers_File of its service section. A relative path is tried against
// the working directory first and then against main's directory, as
// Fluent Bit does. A name ending in .yaml or .yml is Fluent Bit's YAML
// format; anything else the classic format.
func LoadFluentBit(files Files, main, cwd string) (*Config, error) {
	l := &loader{files: files, cwd: cwd, root: path.Dir(main), cfg: &Config{Vars: map[string]string{}}, seen: map[string]bool{}}
	var err error
	if isYAML(main) {
		err = l.yamlFile(main)
	} else {
		err = l.classic(main)
	}
	if err != nil {
		return nil, err
	}
	svc := l.cfg.Service()
	for _, pf := range svc.Values("plugins_file") {
		if err := l.pluginsFile(pf, svc.Where); err != nil {
			return nil, err
		}
	}
	for _, pf := range svc.Values("parsers_file") {
		p, err := l.resolve(pf, svc.Where)
		if err != nil {
			return nil, err
		}
		if err := l.classic(p); err != nil {
			return nil, err
		}
	}
	return l.cfg, nil
}

func isYAML(p string) bool { return strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml") }

type loader struct {
	files     Files
	cwd, root string
	cfg       *Config
	seen      map[string]bool
}

// resolve finds a file named in the configuration; ${VAR} is expanded
// with the @SET variables only.
func (l *loader) resolve(name, where string) (string, error) {
	name, err := Expand(name, func(k string) (string, bool) { v, ok := l.cfg.Vars[k]; return v, ok })
	if err != nil {
		return "", fmt.Errorf("%s: %w", where, err)
	}
	if path.IsAbs(name) {
		if _, ok := l.files[name]; ok {
			return name, nil
		}
		return "", fmt.Errorf("%s: %s: no such file", where, name)
	}
	for _, dir := range []string{l.cwd, l.root} {
		p := path.Join(dir, name)
		if _, ok := l.files[p]; ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %s: no such file in %s or %s", where, name, l.cwd, l.root)
}

func (l *loader) open(p string) ([]byte, error) {
	data, ok := l.files[p]
	if !ok {
		return nil, fmt.Errorf("%s: no such file", p)
	}
	if l.seen[p] {
		return nil, fmt.Errorf("%s: read twice", p)
	}
	l.seen[p] = true
	l.cfg.Read = append(l.cfg.Read, p)
	return data, nil
}

// pluginsFile reads a Plugins_File: classic [PLUGINS] sections with Path
// keys, or a YAML file with a plugins list.
func (l *loader) pluginsFile(name, where string) error {
	p, err := l.resolve(name, where)
	if err != nil {
		return err
	}
	if isYAML(p) {
		return l.yamlFile(p)
	}
	sub := &loader{files: l.files, cwd: l.cwd, root: path.Dir(p), cfg: &Config{Vars: l.cfg.Vars}, seen: l.seen}
	if err := sub.classic(p); err != nil {
		return err
	}
	l.cfg.Read = append(l.cfg.Read, sub.cfg.Read...)
	for _, s := range sub.cfg.Sections {
		if s.Kind != "PLUGINS" {
			return fmt.Errorf("%s: plugins file %s has a [%s] section; only [PLUGINS] is read", s.Where, p, s.Kind)
		}
		l.cfg.Plugins = append(l.cfg.Plugins, s.Values("path")...)
	}
	return nil
}

func isBlank(b byte) bool { return b == ' ' || b == '\t' }

// classic reads one file of Fluent Bit's classic format with the rules
// of its reader (src/config_format/flb_cf_fluentbit.c): '#' comments at
// the start of a line, @INCLUDE and @SET, [SECTION] headers at column 0,
// and "key value" lines whose indentation is the one the file's first
// key line set; a comment inside a section must have that indentation
// too. The value is the rest of the line, trailing comments included.
func (l *loader) classic(p string) error {
	data, err := l.open(p)
	if err != nil {
		return err
	}
	var (
		indent    string
		indentSet bool
		cur       *Section
	)
	for i, line := range strings.Split(string(data), "\n") {
		where := fmt.Sprintf("%s:%d", p, i+1)
		line = strings.TrimSuffix(line, "\r")
		if line == "" || line[0] == '#' {
			continue
		}
		if len(line) > 9 && strings.EqualFold(line[:9], "@INCLUDE ") {
			if err := l.include(line[9:], where); err != nil {
				return err
			}
			continue
		}
		if line[0] == '@' {
			if err := l.meta(line, where); err != nil {
				return err
			}
			continue
		}
		if line[0] == '[' {
			end := strings.IndexByte(line, ']')
			if end < 2 {
				return fmt.Errorf("%s: bad section header %q", where, line)
			}
			cur = &Section{Kind: strings.ToUpper(strings.TrimSpace(line[1:end])), Where: where}
			l.cfg.Sections = append(l.cfg.Sections, cur)
			continue
		}
		if !indentSet {
			j := 0
			for j < len(line) && isBlank(line[j]) {
				j++
			}
			if j == 0 {
				return fmt.Errorf("%s: %q is not indented: keys belong to a section and are indented", where, line)
			}
			indent, indentSet = line[:j], true
		}
		if !strings.HasPrefix(line, indent) {
			return fmt.Errorf("%s: indentation differs from the file's first indented line (%q)", where, indent)
		}
		rest := line[len(indent):]
		if rest != "" && isBlank(rest[0]) {
			j := 0
			for j < len(rest) && isBlank(rest[j]) {
				j++
			}
			if j != len(indent) {
				return fmt.Errorf("%s: extra indentation", where)
			}
			rest = rest[j:]
		}
		if rest == "" || rest[0] == '#' {
			continue
		}
		if rest[0] == '[' {
			return fmt.Errorf("%s: groups ([name] inside a section) are not supported by this check", where)
		}
		sp := strings.IndexByte(rest, ' ')
		if sp < 0 {
			return fmt.Errorf("%s: %q has no value (key and value are separated by a space)", where, rest)
		}
		if sp == len(rest)-1 {
			return fmt.Errorf("%s: key %q has an empty value", where, strings.TrimSpace(rest[:sp]))
		}
		if cur == nil {
			return fmt.Errorf("%s: key %q comes before any section", where, rest[:sp])
		}
		cur.Entries = append(cur.Entries, Entry{Key: strings.TrimSpace(rest[:sp]), Value: strings.TrimSpace(rest[sp+1:]), Where: where})
	}
	return nil
}

// include reads an @INCLUDE; a name with '*' is a glob.
func (l *loader) include(name, where string) error {
	if !strings.Contains(name, "*") {
		p, err := l.resolve(name, where)
		if err != nil {
			return err
		}
		return l.classic(p)
	}
	pattern := name
	if !path.IsAbs(pattern) {
		pattern = path.Join(l.root, pattern)
	}
	matches := l.files.glob(pattern)
	if len(matches) == 0 {
		return fmt.Errorf("%s: @INCLUDE %s matches no file", where, name)
	}
	for _, m := range matches {
		if err := l.classic(m); err != nil {
			return err
		}
	}
	return nil
}

// meta reads an @ line: only @SET name=value is known.
func (l *loader) meta(line, where string) error {
	if len(line) < 5 || !strings.EqualFold(line[:5], "@SET ") {
		return fmt.Errorf("%s: unknown command %q (only @INCLUDE and @SET are)", where, line)
	}
	k, v, ok := strings.Cut(strings.TrimSpace(line[5:]), "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("%s: @SET needs name=value", where)
	}
	l.cfg.Vars[strings.TrimSpace(k)] = strings.TrimSpace(v)
	return nil
}

// yamlFile reads Fluent Bit's YAML format. Scalars are kept as written
// (on stays "on"), as libyaml gives them to Fluent Bit.
func (l *loader) yamlFile(p string) error {
	data, err := l.open(p)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if len(doc.Content) == 0 {
		return fmt.Errorf("%s: empty", p)
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return fmt.Errorf("%s: the top level must be a mapping", p)
	}
	at := func(n *yaml.Node) string { return fmt.Sprintf("%s:%d", p, n.Line) }
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		switch k.Value {
		case "env":
			m, err := yamlScalars(v, at)
			if err != nil {
				return err
			}
			for _, e := range m {
				l.cfg.Vars[e.Key] = e.Value
			}
		case "includes":
			for _, inc := range v.Content {
				q, err := l.resolve(inc.Value, at(inc))
				if err != nil {
					return err
				}
				if err := l.yamlFile(q); err != nil {
					return err
				}
			}
		case "service":
			m, err := yamlScalars(v, at)
			if err != nil {
				return err
			}
			l.cfg.Sections = append(l.cfg.Sections, &Section{Kind: "SERVICE", Where: at(v), Entries: m})
		case "plugins":
			if v.Kind != yaml.SequenceNode {
				return fmt.Errorf("%s: plugins must be a list of paths", at(v))
			}
			for _, e := range v.Content {
				l.cfg.Plugins = append(l.cfg.Plugins, e.Value)
			}
		case "pipeline":
			if err := l.yamlPipeline(v, at); err != nil {
				return err
			}
		case "parsers", "multiline_parsers":
			if err := l.yamlList(v, "PARSER", at); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: unknown top-level key %q (env, includes, service, plugins, pipeline, parsers, multiline_parsers)", at(k), k.Value)
		}
	}
	return nil
}

func (l *loader) yamlPipeline(v *yaml.Node, at func(*yaml.Node) string) error {
	if v.Kind != yaml.MappingNode {
		return fmt.Errorf("%s: pipeline must be a mapping", at(v))
	}
	kinds := map[string]string{"inputs": "INPUT", "filters": "FILTER", "outputs": "OUTPUT"}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k := v.Content[i]
		kind, ok := kinds[k.Value]
		if !ok {
			return fmt.Errorf("%s: unknown pipeline key %q (inputs, filters, outputs)", at(k), k.Value)
		}
		if err := l.yamlList(v.Content[i+1], kind, at); err != nil {
			return err
		}
	}
	return nil
}

// yamlList reads a list of plugin mappings into sections. A list value
// (systemd_filter, ...) gives one entry per item; processors are not read.
func (l *loader) yamlList(v *yaml.Node, kind string, at func(*yaml.Node) string) error {
	if v.Kind != yaml.SequenceNode {
		return fmt.Errorf("%s: expected a list", at(v))
	}
	for _, item := range v.Content {
		if item.Kind != yaml.MappingNode {
			return fmt.Errorf("%s: each entry must be a mapping", at(item))
		}
		s := &Section{Kind: kind, Where: at(item)}
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, val := item.Content[i], item.Content[i+1]
			switch val.Kind {
			case yaml.ScalarNode:
				s.Entries = append(s.Entries, Entry{Key: k.Value, Value: val.Value, Where: at(val)})
			case yaml.SequenceNode:
				for _, e := range val.Content {
					if e.Kind != yaml.ScalarNode {
						return fmt.Errorf("%s: %s: only lists of values are read", at(e), k.Value)
					}
					s.Entries = append(s.Entries, Entry{Key: k.Value, Value: e.Value, Where: at(e)})
				}
			default:
				if k.Value != "processors" {
					return fmt.Errorf("%s: %s: a mapping is not a value", at(val), k.Value)
				}
			}
		}
		l.cfg.Sections = append(l.cfg.Sections, s)
	}
	return nil
}

func yamlScalars(v *yaml.Node, at func(*yaml.Node) string) ([]Entry, error) {
	if v.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: expected a mapping", at(v))
	}
	var out []Entry
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		if val.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("%s: %s must be a single value", at(val), k.Value)
		}
		out = append(out, Entry{Key: k.Value, Value: val.Value, Where: at(val)})
	}
	return out, nil
}

// Expand replaces ${NAME} and ${NAME:-default} in v as Fluent Bit does
// (src/flb_env.c). Fluent Bit replaces an unset variable by nothing and
// logs a warning; here it is an error, since a deployment that forgot a
// variable (an empty shared_key) starts and misbehaves.
func Expand(v string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	for {
		start := strings.Index(v, "${")
		if start < 0 {
			break
		}
		end := strings.IndexByte(v[start:], '}')
		if end < 0 {
			break
		}
		name := v[start+2 : start+end]
		def, hasDef := "", false
		if i := strings.Index(name, ":-"); i >= 0 {
			name, def, hasDef = name[:i], name[i+2:], true
		}
		b.WriteString(v[:start])
		val, ok := lookup(name)
		switch {
		case ok && (val != "" || !hasDef):
			b.WriteString(val)
		case hasDef:
			b.WriteString(def)
		default:
			return "", fmt.Errorf("${%s} is not set", name)
		}
		v = v[start+end+1:]
	}
	b.WriteString(v)
	return b.String(), nil
}

// MatchTag reports whether a Match pattern catches tag: '*' stands for
// any run of characters, everything else is literal and case-sensitive
// (src/flb_router.c).
func MatchTag(pattern, tag string) bool {
	for pattern != "" {
		if pattern[0] == '*' {
			pattern = strings.TrimLeft(pattern, "*")
			if pattern == "" {
				return true
			}
			for i := 0; i < len(tag); i++ {
				if MatchTag(pattern, tag[i:]) {
					return true
				}
			}
			return false
		}
		if tag == "" || tag[0] != pattern[0] {
			return false
		}
		pattern, tag = pattern[1:], tag[1:]
	}
	return tag == ""
}

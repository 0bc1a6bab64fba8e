package deploytest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sshenrich/sshenrich/plugin/config"
	"github.com/sshenrich/sshenrich/rules"
)

// Runtime is what a Fluent Bit process sees besides its configuration:
// its environment and its files.
type Runtime struct {
	Env   map[string]string
	Files Files
	// TempDir receives copies of the files sshenrich opens in Init
	// (mask_key_file, rules_file ...), so that its own parser reads them.
	TempDir string
}

// coreOutputKeys are the [OUTPUT] keys Fluent Bit 5.1.1 handles itself
// and that make sense for sshenrich (src/flb_output.c). host, port, tls*
// and net.* are also Fluent Bit's, but sshenrich never sees them, so
// writing them in its section is a mistake (forward_address and
// forward_tls* are its keys).
var coreOutputKeys = map[string]bool{
	"name": true, "match": true, "match_regex": true, "alias": true, "log_level": true,
	"log_suppress_interval": true, "retry_limit": true, "workers": true,
	"storage.total_limit_size": true, "processors": true,
}

// fileKeys are sshenrich's keys that name a file it opens in Init.
var fileKeys = []string{
	"shared_key_file", "forward_password_file", "forward_tls_key_passwd_file",
	"mask_key_file", "forward_tls_ca_file", "forward_tls_crt_file", "forward_tls_key_file",
}

func pluginKey(k string) bool {
	for _, key := range config.Keys {
		if key.Name == k {
			return true
		}
	}
	return false
}

func flbBool(v string) bool {
	switch strings.ToLower(v) {
	case "on", "true", "yes", "1":
		return true
	}
	return false
}

// Pipeline is a configuration checked against sshenrich's rules, with
// what the checks found out along the way.
type Pipeline struct {
	Config *Config
	// Sshenrich maps each sshenrich output to its parsed configuration.
	Sshenrich map[*Section]*config.Config
	// Opened lists the container files sshenrich opens in Init.
	Opened []string
}

// CheckPipeline validates every sshenrich output with the plugin's own
// parser and the wiring that keeps records flowing (DESIGN.md §2): the
// re-emit reaches a forward input of this Fluent Bit that keeps the tags,
// the flush cannot deadlock with it, the re-emitted tags are not caught
// again, and the source is buffered on the filesystem.
func CheckPipeline(cfg *Config, rt Runtime) (*Pipeline, []error) {
	p := &Pipeline{Config: cfg, Sshenrich: map[*Section]*config.Config{}}
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	lookup := func(k string) (string, bool) {
		if v, ok := cfg.Vars[k]; ok {
			return v, true
		}
		v, ok := rt.Env[k]
		return v, ok
	}
	if n := len(cfg.All("SERVICE")); n > 1 {
		fail("%d [SERVICE] sections; Fluent Bit reads one", n)
	}
	for _, s := range cfg.Sections {
		if (s.Kind == "INPUT" || s.Kind == "OUTPUT" || s.Kind == "FILTER") && s.Name() == "" {
			fail("%s: no Name", s)
		}
		for _, e := range s.Entries {
			if _, err := Expand(e.Value, lookup); err != nil {
				fail("%s: %s: %v", e.Where, e.Key, err)
			}
		}
	}
	for _, s := range cfg.Sections {
		if s.Kind == "INPUT" || s.Kind == "OUTPUT" && s.Name() != "sshenrich" {
			p.Opened = append(p.Opened, checkTLSFiles(s, rt, fail)...)
		}
	}
	outs := cfg.All("OUTPUT")
	for _, s := range outs {
		if s.Name() != "sshenrich" {
			continue
		}
		c, opened, err := parseSshenrich(s, lookup, rt)
		p.Opened = append(p.Opened, opened...)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.Sshenrich[s] = c
		errs = append(errs, checkWiring(cfg, s, c, lookup)...)
	}
	if len(p.Sshenrich) > 0 {
		if !hasSshenrichPlugin(cfg.Plugins) {
			fail("no plugins entry loads out_sshenrich.so (Plugins_File or the YAML plugins list): %q", cfg.Plugins)
		}
		for _, pl := range cfg.Plugins {
			if filepath.Base(pl) == "out_sshenrich.so" {
				if _, ok := rt.Files[pl]; !ok {
					fail("plugin %s is not in the image", pl)
				}
			}
		}
	}
	return p, errs
}

// checkTLSFiles checks the files of a Fluent Bit plugin's tls.* keys
// (a forward input's certificate and key, a forward output's CA): with
// tls on, a server needs its certificate and key, and every file named
// must be in the container. It returns the files Fluent Bit opens.
func checkTLSFiles(s *Section, rt Runtime, fail func(string, ...any)) []string {
	if !flbBool(s.Get("tls")) {
		return nil
	}
	var opened []string
	for _, k := range []string{"tls.crt_file", "tls.key_file", "tls.ca_file"} {
		f := s.Get(k)
		if f == "" {
			continue
		}
		if _, ok := rt.Files[f]; !ok {
			fail("%s: %s %s is not in the container", s, k, f)
			continue
		}
		opened = append(opened, f)
	}
	if s.Kind == "INPUT" && (s.Get("tls.crt_file") == "" || s.Get("tls.key_file") == "") {
		fail("%s: tls on needs tls.crt_file and tls.key_file", s)
	}
	return opened
}

func hasSshenrichPlugin(paths []string) bool {
	for _, p := range paths {
		if filepath.Base(p) == "out_sshenrich.so" && filepath.IsAbs(p) {
			return true
		}
	}
	return false
}

// parseSshenrich runs the plugin's own configuration parser on one
// [OUTPUT] section: ${VAR} expanded from the environment, and each file
// key pointed at a copy of the container's file, so that what Init would
// read is what is checked. It returns the container files it opened.
func parseSshenrich(s *Section, lookup func(string) (string, bool), rt Runtime) (*config.Config, []string, error) {
	var errs []error
	g := config.MapGetter{}
	for _, e := range s.Entries {
		k := strings.ToLower(e.Key)
		if !pluginKey(k) && !coreOutputKeys[k] {
			errs = append(errs, fmt.Errorf("%s: %s: not a key of sshenrich (README, Configuration) nor one Fluent Bit passes over; a misspelt key is silently ignored by Fluent Bit", e.Where, e.Key))
			continue
		}
		v, err := Expand(e.Value, lookup)
		if err != nil {
			continue // reported by CheckPipeline
		}
		g[k] = v
	}
	var opened []string
	copyFile := func(key, name string) string {
		data, ok := rt.Files[name]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: %s: %s is not a file of the container (mount it from a Secret or ConfigMap)", s, key, name))
			return ""
		}
		opened = append(opened, name)
		f, err := os.CreateTemp(rt.TempDir, "file-*")
		if err == nil {
			_, err = f.Write(data)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			errs = append(errs, err)
			return ""
		}
		return f.Name()
	}
	for _, k := range fileKeys {
		if v := g[k]; v != "" {
			g[k] = copyFile(k, v)
		}
	}
	// The state file is written at exit, not read at start: its
	// directory is the container's (checkPaths puts it on a writable
	// volume), so the parser is given a path in a directory that exists
	// here (the same for every pipeline, which are compared); nothing is
	// written there.
	if g["correlation_state_file"] != "" {
		g["correlation_state_file"] = filepath.Join(os.TempDir(), "sshenrich-deploytest.state")
	}
	var rulesFiles []string
	for _, f := range strings.Split(g["rules_file"], ",") {
		if f = strings.TrimSpace(f); f != "" {
			rulesFiles = append(rulesFiles, copyFile("rules_file", f))
		}
	}
	g["rules_file"] = strings.Join(rulesFiles, ",")
	if len(errs) > 0 {
		return nil, opened, errors.Join(errs...)
	}
	c, err := config.Parse(g, 0)
	if err != nil {
		return nil, opened, fmt.Errorf("%s: sshenrich refuses it: %w", s, err)
	}
	if len(c.RulesFiles) > 0 {
		if _, err := rules.Load(c.RulesFiles...); err != nil {
			return nil, opened, fmt.Errorf("%s: rules_file: %w", s, err)
		}
	}
	return c, opened, nil
}

// checkWiring holds one sshenrich output to the re-emit loop's rules.
// checkStop checks the settings that bound a stop and a hot reload of a
// pipeline whose sshenrich re-emits into its own forward input, which
// Fluent Bit pauses at both (docs/troubleshooting.md#hot-reload): a
// reload must keep Grace (Fluent Bit's default waits for every chunk,
// and the one for the paused forward input never goes), and a watchdog
// must end one that hangs anyway, after the stop's own bound.
func checkStop(svc, out *Section, c *config.Config, get func(*Section, string) string) []error {
	var errs []error
	if v := get(svc, "hot_reload.ensure_thread_safety"); v == "" || flbBool(v) {
		errs = append(errs, fmt.Errorf("%s: [SERVICE] Hot_Reload.Ensure_Thread_Safety is on (Fluent Bit's default): a hot reload then waits for every chunk, "+
			"and one pending for sshenrich's paused forward input never goes, so the reload hangs; set it Off", out))
	}
	grace := 5 // Fluent Bit's default
	if v := get(svc, "grace"); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			grace = n
		}
	}
	bound := grace + int((c.Forward.AckTimeout+time.Second-1)/time.Second)
	if n, err := strconv.Atoi(get(svc, "hot_reload.timeout")); err != nil || n <= bound {
		errs = append(errs, fmt.Errorf("%s: [SERVICE] Hot_Reload.Timeout must be more than Grace + ack_timeout (%ds), so that its watchdog ends a reload that hangs "+
			"and not one that is stopping", out, bound))
	}
	return errs
}

func checkWiring(cfg *Config, out *Section, c *config.Config, lookup func(string) (string, bool)) []error {
	var errs []error
	fail := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{out}, a...)...))
	}
	get := func(s *Section, k string) string { v, _ := Expand(s.Get(k), lookup); return v }
	match := get(out, "match")
	if out.Has("match_regex") || match == "" {
		fail("set Match (a tag pattern); Match_Regex is not checked here")
		return errs
	}
	var sources []*Section
	var fw *Section
	if c.Emit == config.EmitForward {
		fw = findForwardInput(cfg, c, get)
		if fw == nil {
			if local(c.Forward) {
				fail("forward_address %s://%s: no forward input of this configuration listens there", c.Forward.Network, c.Forward.Address)
				return errs
			}
		} else {
			if fw.Has("tag") {
				fail("the forward input %s has a Tag, which would replace the tags sshenrich sends", fw.Where)
			}
			if n, _ := strconv.Atoi(get(out, "workers")); n < 1 && !flbBool(get(fw, "threaded")) {
				fail("Workers 0 with an unthreaded forward input: the flush and the forward input share the engine thread and no ack ever arrives (set Workers 1, or threaded on)")
			}
			if key := get(fw, "shared_key"); key != c.Forward.SharedKey {
				fail("the shared key differs from the forward input's (%s): the handshake fails", fw.Where)
			}
			errs = append(errs, checkStop(cfg.Service(), out, c, get)...)
		}
	}
	for _, in := range cfg.All("INPUT") {
		if in == fw {
			continue
		}
		tag := get(in, "tag")
		if tag == "" && in.Name() == "forward" {
			// A forward input without a Tag keeps the tags its senders
			// give: an aggregator's input of the nodes' enriched records.
			sources = append(sources, in)
			continue
		}
		if tag == "" {
			if MatchTag(match, in.Name()+".0") {
				fail("input %s has no Tag; give the inputs sshenrich reads one", in.Where)
			}
			continue
		}
		if MatchTag(match, strings.ReplaceAll(tag, "*", "x")) {
			sources = append(sources, in)
		}
	}
	if len(sources) == 0 {
		fail("Match %s catches no input", match)
	}
	storagePath := get(cfg.Service(), "storage.path")
	for _, in := range sources {
		if !strings.EqualFold(get(in, "storage.type"), "filesystem") {
			fail("its source %s is not on the filesystem buffer (storage.type filesystem): chunks in flight at shutdown would be lost", in)
		}
		if storagePath == "" {
			fail("storage.type filesystem needs storage.path in [SERVICE]")
		}
		if c.Emit != config.EmitForward || fw == nil {
			continue
		}
		tag := c.Tag
		if tag == "" {
			tag = c.TagPrefix + strings.ReplaceAll(get(in, "tag"), "*", "x")
		}
		if MatchTag(match, tag) {
			fail("re-emitted tag %s matches its own Match %s: the records would go round forever", tag, match)
		}
		caught := false
		for _, o := range cfg.All("OUTPUT") {
			if o != out && MatchTag(get(o, "match"), tag) {
				if o.Name() == "sshenrich" {
					fail("re-emitted tag %s is caught by another sshenrich output %s", tag, o.Where)
				}
				caught = true
			}
		}
		if !caught {
			fail("no output matches the re-emitted tag %s: the enriched records go nowhere", tag)
		}
	}
	return errs
}

func local(f config.Forward) bool {
	if f.Network == "unix" {
		return true
	}
	host, _, _ := net.SplitHostPort(f.Address)
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// findForwardInput finds the forward input sshenrich's forward_address
// reaches: the same unix socket, or a loopback port it listens on.
func findForwardInput(cfg *Config, c *config.Config, get func(*Section, string) string) *Section {
	for _, in := range cfg.All("INPUT") {
		if in.Name() != "forward" {
			continue
		}
		if c.Forward.Network == "unix" {
			if get(in, "unix_path") == c.Forward.Address {
				return in
			}
			continue
		}
		if in.Has("unix_path") || !local(c.Forward) {
			continue
		}
		_, port, _ := net.SplitHostPort(c.Forward.Address)
		p := get(in, "port")
		if p == "" {
			p = "24224"
		}
		if p == port {
			return in
		}
	}
	return nil
}

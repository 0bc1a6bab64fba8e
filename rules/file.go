package rules

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// A catalog file is a sequence of stanzas separated by blank lines, in
// the style of Debian control files:
//
//	# A comment.
//	code:           SSHD-0001
//	template:       Accepted <authentication method> for <user> from <host> port <port> [ssh2]
//	description.en: A user logged in.
//	  A line that starts with a blank continues the value above.
//
// A stanza is an entry ("code:"), a capture declaration ("capture:") or
// a group declaration ("group:"), named by its first key.

// Bounds on rule files, so that a user file cannot exhaust memory.
const (
	MaxFileSize       = 4 << 20
	MaxEntries        = 10000
	MaxTemplatesEntry = 64
)

type field struct {
	key, value string
	line       int
}

type stanza struct {
	file   string
	line   int
	fields []field
}

func (s *stanza) pos() string { return fmt.Sprintf("%s:%d", s.file, s.line) }

// ErrorList is every problem found in a set of rule files, each with
// its file:line.
type ErrorList []error

func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// posError is an error at a file and line.
type posError struct {
	file string
	line int
	msg  string
}

func (e *posError) Error() string { return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg) }

func errAt(file string, line int, format string, args ...any) error {
	return &posError{file, line, fmt.Sprintf(format, args...)}
}

// parseStanzas splits a file into stanzas. It reports syntax errors only;
// the meaning of keys is checked by the compiler.
func parseStanzas(name string, data []byte) ([]stanza, []error) {
	if len(data) > MaxFileSize {
		return nil, []error{errAt(name, 1, "file is %d bytes; rule files may be at most %d", len(data), MaxFileSize)}
	}
	if !utf8.Valid(data) {
		line := 1 + bytes.Count(data[:firstInvalidUTF8(data)], []byte("\n"))
		return nil, []error{errAt(name, line, "not valid UTF-8")}
	}
	var out []stanza
	var errs []error
	var cur *stanza
	lines := strings.Split(string(data), "\n")
	for i, raw := range lines {
		ln := i + 1
		text := strings.TrimRight(raw, " \t\r")
		switch {
		case text == "":
			cur = nil
		case strings.HasPrefix(text, "#"):
			// Comments neither end nor continue a stanza.
		case text[0] == ' ' || text[0] == '\t':
			if cur == nil || len(cur.fields) == 0 {
				errs = append(errs, errAt(name, ln, "continuation line without a key above it"))
				continue
			}
			f := &cur.fields[len(cur.fields)-1]
			f.value += "\n" + strings.TrimSpace(text)
		default:
			colon := strings.IndexByte(text, ':')
			if colon <= 0 {
				errs = append(errs, errAt(name, ln, "expected \"key: value\", got %q", clip(text)))
				continue
			}
			key := text[:colon]
			if strings.ContainsAny(key, " \t") {
				errs = append(errs, errAt(name, ln, "expected \"key: value\", got %q", clip(text)))
				continue
			}
			if cur == nil {
				out = append(out, stanza{file: name, line: ln})
				cur = &out[len(out)-1]
			}
			cur.fields = append(cur.fields, field{key: key, value: strings.TrimSpace(text[colon+1:]), line: ln})
		}
	}
	return out, errs
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// splitList splits "a, b,c" into its trimmed, non-empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

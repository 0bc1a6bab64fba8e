package parser

import "bytes"

var (
	progSSH    = []byte("ssh")
	progKernel = []byte("kernel")
)

// tagOf reads a syslog tag: "sshd[4409]:", "sshd:" or the old
// "sshd(pam_unix)[4409]:", whose module it returns apart.
func tagOf(tok []byte) (name, module []byte, pid int, ok bool) {
	if len(tok) < 2 || tok[len(tok)-1] != ':' {
		return nil, nil, -1, false
	}
	tok = tok[:len(tok)-1]
	if name, pid, ok := programPID(tok); ok {
		name, module := splitModule(name)
		return name, module, pid, name != nil
	}
	name, module = splitModule(tok)
	if name == nil {
		return nil, nil, -1, false
	}
	for _, c := range name {
		if !isTagChar(c) {
			return nil, nil, -1, false
		}
	}
	return name, module, -1, true
}

// splitModule splits "sshd(pam_unix)" into sshd and pam_unix; a name
// without a module comes back whole. A malformed one gives nil.
func splitModule(name []byte) ([]byte, []byte) {
	open := bytes.IndexByte(name, '(')
	if open < 0 {
		return name, nil
	}
	if open == 0 || name[len(name)-1] != ')' {
		return nil, nil
	}
	module := name[open+1 : len(name)-1]
	for _, c := range module {
		if !isTagChar(c) {
			return nil, nil
		}
	}
	return name[:open], module
}

// programPID reads "name[pid]". The name may carry a "(module)".
func programPID(tok []byte) ([]byte, int, bool) {
	if len(tok) < 4 || tok[len(tok)-1] != ']' {
		return nil, -1, false
	}
	// The pid, read backwards up to its '['.
	open, pid, scale := len(tok)-2, 0, 1
	for ; open > 0 && tok[open]-'0' <= 9 && scale <= 1e9; open-- {
		pid += int(tok[open]-'0') * scale
		scale *= 10
	}
	if open < 1 || tok[open] != '[' || open == len(tok)-2 {
		return nil, -1, false
	}
	for _, c := range tok[:open] {
		if byteClass[c]&(classTag|classParen) == 0 {
			return nil, -1, false
		}
	}
	return tok[:open], pid, true
}

func isTagChar(c byte) bool { return byteClass[c]&classTag != 0 }

// Classes of bytes, looked up rather than compared: a tag is read on
// every line.
const (
	classTag   uint8 = 1 << iota // may be part of a program name
	classParen                   // ( or ), around a module
)

var byteClass = func() (t [256]uint8) {
	for c := range 256 {
		b := byte(c)
		if b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
			b == '-' || b == '_' || b == '.' || b == '/' || b == '@' {
			t[c] |= classTag
		}
		if b == '(' || b == ')' {
			t[c] |= classParen
		}
	}
	return t
}()

// headerless reads a syslog line without a time, as some collectors and
// journalctl's cat-like outputs keep it: "host prog[pid]: msg" or
// "prog[pid]: msg". The pid is required: without it "word: msg" is far
// more often a message of its own ("error: ...", "PAM: ...").
func headerless(b []byte, e *Envelope) bool {
	tok, after := cutBlank(b)
	if _, _, pid, ok := tagOf(tok); ok && pid >= 0 {
		e.Format = FormatHeaderless
		return takeTag(b, e)
	}
	tok2, _ := cutBlank(after)
	if _, _, pid, ok := tagOf(tok2); ok && pid >= 0 && len(tok) > 0 && validHostChars(tok) {
		e.Format = FormatHeaderless
		e.Host = tok
		return takeTag(after, e)
	}
	return false
}

// validHostChars reports whether b could be a host name or address.
func validHostChars(b []byte) bool {
	for _, c := range b {
		if !isHostByte(c) {
			return false
		}
	}
	return true
}

func isHostByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == ':'
}

// bareProgram recognises the program of a line without a header: ssh
// client output ("ssh: ...") and kernel lines ("kernel: ...").
func bareProgram(e *Envelope) {
	m := e.Message
	switch {
	case bytes.HasPrefix(m, []byte("ssh: ")):
		e.Format, e.Program, e.Message = FormatSSHClient, progSSH, m[5:]
	case bytes.HasPrefix(m, []byte("kernel: ")):
		e.Format, e.Program, e.Message = FormatKernel, progKernel, m[8:]
	}
}

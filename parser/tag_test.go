package parser

import "testing"

func TestTagOf(t *testing.T) {
	for _, tt := range []struct {
		tok          string
		name, module string
		pid          int
		ok           bool
	}{
		{"sshd[4409]:", "sshd", "", 4409, true},
		{"sshd:", "sshd", "", -1, true},
		{"sshd-session[1]:", "sshd-session", "", 1, true},
		{"sshd(pam_unix)[4409]:", "sshd", "pam_unix", 4409, true},
		{"ovpn-server[0]:", "ovpn-server", "", 0, true},
		{"sshd[4294967295]:", "sshd", "", 4294967295, true},
		{"sshd[12345678901]:", "", "", -1, false}, // more than ten digits
		{"sshd[]:", "", "", -1, false},
		{"sshd[12a]:", "", "", -1, false},
		{"sshd[-1]:", "", "", -1, false},
		{"[123]:", "", "", -1, false},
		{"a[b[12]:", "", "", -1, false},
		{"ss hd[1]:", "", "", -1, false},
		{"sshd[1]", "", "", -1, false}, // no colon
		{"sshd(pam_unix:", "", "", -1, false},
		{"(x)[1]:", "", "", -1, false},
		{":", "", "", -1, false},
		{"error:", "error", "", -1, true},
	} {
		name, module, pid, ok := tagOf([]byte(tt.tok))
		if ok != tt.ok || ok && (string(name) != tt.name || string(module) != tt.module || pid != tt.pid) {
			t.Errorf("tagOf(%q) = %q, %q, %d, %v; want %q, %q, %d, %v", tt.tok, name, module, pid, ok, tt.name, tt.module, tt.pid, tt.ok)
		}
	}
}

package rules

import "testing"

// TestOpenSSHLogForms checks the parts OpenSSH's log functions add around
// a message: the level, the *_f function prefix, the *_r ssh_err() suffix
// and the privilege-separation stage.
func TestOpenSSHLogForms(t *testing.T) {
	c := testCatalog(t, `family: openssh
programs: sshd

capture: path
type: word
field: path

capture: function
type: ident
field: log.origin.function

capture: why
type: rest
field: error.message

code: OPEN
family: openssh
severity: error
description.en: x
template: could not open <path>

code: MANUAL
family: openssh
severity: error
description.en: x
template: fatal: Login refused for too many sessions.

code: GENERIC-ERROR
family: openssh
severity: error
level: error
description.en: x
template: <function>: <why>
template: <why>

code: GENERIC-FATAL
family: openssh
severity: critical
level: fatal
description.en: x
template: <function>: <why>
template: <why>
`)
	sshd := Input{Families: c.FamiliesOf([]byte("sshd")), Severity: -1}
	tests := []struct {
		name, msg        string
		in               Input
		code             string
		level            Levels
		function, errTxt string
		preauth          bool
		postauth         bool
	}{
		{"plain", "could not open /etc/x", sshd, "OPEN", 0, "", "", false, false},
		{"error level", "error: could not open /etc/x", sshd, "OPEN", LevelError, "", "", false, false},
		{"function prefix", "error: load_keys: could not open /etc/x", sshd, "OPEN", LevelError, "load_keys", "", false, false},
		{"error suffix", "error: could not open /etc/x: Connection closed", sshd, "OPEN", LevelError, "", "Connection closed", false, false},
		{"both", "error: load_keys: could not open /etc/x: Connection closed [preauth]", sshd, "OPEN", LevelError, "load_keys", "Connection closed", true, false},
		{"postauth", "error: load_keys: could not open /etc/x [postauth]", sshd, "OPEN", LevelError, "load_keys", "", false, true},
		{"level written in the template", "fatal: Login refused for too many sessions.", sshd, "MANUAL", LevelFatal, "", "", false, false},
		{"generic internal error", "error: mm_answer_x: unexpected reply", sshd, "GENERIC-ERROR", LevelError, "", "", false, false},
		{"the level is not a function", "fatal: mm_request_receive: read: Connection reset by peer", sshd, "GENERIC-FATAL", LevelFatal, "", "", false, false},
		{"generic internal error needs the level", "mm_answer_x: unexpected reply", sshd, Unclassified, 0, "", "", false, false},
		{"generic fatal", "fatal: something broke", sshd, "GENERIC-FATAL", LevelFatal, "", "", false, false},
		{"level from the syslog severity", "something broke", Input{Families: sshd.Families, Severity: 2}, "GENERIC-FATAL", LevelFatal, "", "", false, false},
		{"specific beats generic", "fatal: load_keys: could not open /etc/x", sshd, "OPEN", LevelFatal, "load_keys", "", false, false},
		{"suffix that is not an ssh error", "error: could not open /etc/x: Nope", sshd, "GENERIC-ERROR", LevelError, "", "", false, false},
		{"a number is not a function", "error: 123: could not open /etc/x", sshd, "GENERIC-FATAL", 0, "", "", false, false},
	}
	m := c.NewMatcher()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Result
			m.MatchIn([]byte(tt.msg), tt.in, &r)
			if tt.name == "a number is not a function" {
				// Neither the function prefix nor a generic entry applies.
				if r.Code() == "OPEN" {
					t.Errorf("%q matched OPEN through a numeric prefix", tt.msg)
				}
				return
			}
			fn, et := "", ""
			if !r.Function.Empty() {
				fn = tt.msg[r.Function.Start:r.Function.End]
			}
			if !r.ErrorText.Empty() {
				et = tt.msg[r.ErrorText.Start:r.ErrorText.End]
			}
			if r.Code() != tt.code || r.Level != tt.level || fn != tt.function || et != tt.errTxt || r.Preauth != tt.preauth || r.Postauth != tt.postauth {
				t.Errorf("%q: code %s level %d function %q error %q preauth %v postauth %v\nwant %s %d %q %q %v %v",
					tt.msg, r.Code(), r.Level, fn, et, r.Preauth, r.Postauth, tt.code, tt.level, tt.function, tt.errTxt, tt.preauth, tt.postauth)
			}
			for _, cp := range r.Captures() {
				if cp.Start < 0 || cp.End > len(tt.msg) || cp.Start > cp.End {
					t.Errorf("%q: capture out of range %+v", tt.msg, cp)
					continue
				}
				if v := tt.msg[cp.Start:cp.End]; cp.Var != nil && cp.Var.Name == "function" && (v == "error" || v == "fatal") {
					t.Errorf("%q: the level %q was captured as the function", tt.msg, v)
				}
			}
		})
	}
	// The function prefix and error suffix are OpenSSH's: other
	// families' messages are matched as written.
	vpn := testCatalog(t, "family: openvpn\nprograms: openvpn\n\ncapture: path\ntype: word\nfield: path\n\ncode: V\nfamily: openvpn\nseverity: info\ndescription.en: x\ntemplate: could not open <path>\n")
	var r Result
	if vpn.NewMatcher().MatchIn([]byte("MULTI: could not open /x"), Input{Families: vpn.FamiliesOf([]byte("openvpn")), Severity: -1}, &r) {
		t.Errorf("an OpenVPN message was matched without its first word")
	}
}

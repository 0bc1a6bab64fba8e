package enrich

import (
	"bytes"

	"github.com/sshenrich/sshenrich/plugin/chunk"
	"github.com/sshenrich/sshenrich/plugin/record"
)

// envKind names an envelope key a record may carry: Fluent Bit's
// syslog parsers and syslog input (host, ident, pid, pri) and the
// systemd input (_HOSTNAME, SYSLOG_IDENTIFIER, _PID, PRIORITY,
// SYSLOG_FACILITY, _COMM), also as its Strip_Underscores and Lowercase
// options write them (HOSTNAME, _hostname, hostname, ...).
type envKind uint8

const (
	envNone envKind = iota
	envHost
	envProgram
	envComm // the executable's name, used when there is no identifier
	envPID
	envPri      // syslog priority: facility and severity
	envSeverity // journald PRIORITY: the severity alone
	envFacility
)

func envKindOf(key []byte) envKind {
	switch string(key) {
	case "host", "hostname", "_HOSTNAME", "HOSTNAME", "_hostname":
		return envHost
	case "ident", "SYSLOG_IDENTIFIER", "syslog_identifier", "appname":
		return envProgram
	case "_COMM", "COMM", "_comm", "comm":
		return envComm
	case "pid", "_PID", "PID", "_pid", "SYSLOG_PID", "syslog_pid":
		return envPID
	case "pri":
		return envPri
	case "PRIORITY", "priority":
		return envSeverity
	case "SYSLOG_FACILITY", "syslog_facility":
		return envFacility
	}
	return envNone
}

// structuredField fills f from an envelope key's value.
func structuredField(f *record.Fields, k envKind, val []byte) {
	switch k {
	case envHost:
		if s, ok := chunk.Str(val); ok && f.Host == nil {
			f.Host = s
		}
	case envProgram:
		if s, ok := chunk.Str(val); ok {
			f.Program = s
		}
	case envComm:
		if s, ok := chunk.Str(val); ok && f.Program == nil {
			f.Program = s
		}
	case envPID:
		if n, ok := number(val); ok && n >= 0 && n < 1<<31 && f.PID < 0 {
			f.PID = int(n)
		}
	case envPri:
		if n, ok := number(val); ok && n >= 0 && n <= 191 {
			f.Facility, f.Severity = int8(n>>3), int8(n&7)
		}
	case envSeverity:
		if n, ok := number(val); ok && n >= 0 && n <= 7 {
			f.Severity = int8(n)
		}
	case envFacility:
		if n, ok := number(val); ok && n >= 0 && n <= 23 {
			f.Facility = int8(n)
		}
	}
}

// placed reports whether the value of an envelope key is where the
// record now says it: host.hostname, process.name, process.pid, or
// log.syslog.* (written at detail full only).
func placed(k envKind, val []byte, ev *record.Event, full bool) bool {
	env := &ev.Env
	switch k {
	case envHost:
		s, ok := chunk.Str(val)
		return ok && env.Host != nil && bytes.Equal(s, env.Host)
	case envProgram, envComm:
		s, ok := chunk.Str(val)
		return ok && env.Program != nil && bytes.Equal(s, env.Program)
	case envPID:
		n, ok := number(val)
		return ok && env.PID >= 0 && n == int64(env.PID)
	case envPri:
		n, ok := number(val)
		return full && ok && env.Facility >= 0 && env.Severity >= 0 && n == int64(env.Facility)*8+int64(env.Severity)
	case envSeverity:
		n, ok := number(val)
		return full && ok && env.Severity >= 0 && n == int64(env.Severity)
	case envFacility:
		n, ok := number(val)
		return full && ok && env.Facility >= 0 && n == int64(env.Facility)
	}
	return false
}

// number reads an integer written as a msgpack int or as decimal text.
func number(v []byte) (int64, bool) {
	if n, ok := chunk.Int(v); ok {
		return n, true
	}
	s, ok := chunk.Str(v)
	if !ok || len(s) == 0 || len(s) > 10 {
		return 0, false
	}
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

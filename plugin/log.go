package main

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"strings"
	"unsafe"
)

// Log levels of Fluent Bit.
const (
	levelError = C.SSHENRICH_LOG_ERROR
	levelWarn  = C.SSHENRICH_LOG_WARN
	levelInfo  = C.SSHENRICH_LOG_INFO
	levelDebug = C.SSHENRICH_LOG_DEBUG
)

// logger writes through Fluent Bit's own logger, honouring the
// instance's log_level, in Fluent Bit's "[output:sshenrich:<name>]"
// style. It never writes to stdout.
type logger struct {
	api, ins unsafe.Pointer // C memory owned by Fluent Bit
	prefix   string
}

func newLogger(plugin unsafe.Pointer, name string) *logger {
	return &logger{
		api:    C.sshenrich_plugin_api(plugin),
		ins:    C.sshenrich_plugin_ins(plugin),
		prefix: "[output:sshenrich:" + name + "] ",
	}
}

func (l *logger) enabled(level C.int) bool {
	return C.sshenrich_log_enabled(l.api, l.ins, level) != 0
}

func (l *logger) logf(level C.int, format string, args ...any) {
	if !l.enabled(level) {
		return
	}
	msg := C.CString(l.prefix + oneLine(fmt.Sprintf(format, args...)))
	C.sshenrich_log(l.api, l.ins, level, msg)
	C.free(unsafe.Pointer(msg))
}

func (l *logger) errorf(format string, args ...any) { l.logf(levelError, format, args...) }
func (l *logger) warnf(format string, args ...any)  { l.logf(levelWarn, format, args...) }
func (l *logger) infof(format string, args ...any)  { l.logf(levelInfo, format, args...) }
func (l *logger) debugf(format string, args ...any) { l.logf(levelDebug, format, args...) }

// errorLines logs each line of err as an error of its own, after
// prefix: several bad keys, or several problems of a rules file, give
// one line each, every one with the time, the level and the output's
// name.
func (l *logger) errorLines(prefix string, err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			l.errorf("%s%s", prefix, line)
		}
	}
}

// lineBreaks are what oneLine replaces.
var lineBreaks = strings.NewReplacer("\r\n", " | ", "\n", " | ", "\r", " | ")

// oneLine keeps a message on one line. Fluent Bit stamps the time, the
// level and the plugin's name on the first line of a message only, so a
// second line would stand in the log with none of them; what a message
// wraps (an error from a library, a stack) is joined with " | ".
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return lineBreaks.Replace(strings.TrimRight(s, "\r\n"))
}

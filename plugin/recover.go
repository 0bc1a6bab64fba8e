package main

import "C"

import (
	"runtime/debug"
)

// recoverTo turns a panic in an export into a return code and a log
// line with the stack, instead of a crash of the whole Fluent Bit.
func recoverTo(ret *C.int, code int, log *logger, where string) {
	r := recover()
	if r == nil {
		return
	}
	*ret = C.int(code)
	if log != nil {
		log.errorf("internal error in %s: %v (returning %d)\n%s", where, r, code, debug.Stack())
	}
}

package main

import "C"

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
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
		log.errorf("internal error in %s: %v (returning %d); stack: %s", where, r, code, stackLine())
	}
}

// stackLine is the stack of the goroutine that panicked, on one line:
// "function (dir/file.go:line)" frames, innermost first, joined by " < ",
// the runtime's own left out. Called from a deferred recover, it starts
// with the recovering function, then the one that panicked.
func stackLine() string {
	var pcs [32]uintptr
	n := runtime.Callers(2, pcs[:])
	frames := runtime.CallersFrames(pcs[:n])
	var b strings.Builder
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, "runtime.") {
			if b.Len() > 0 {
				b.WriteString(" < ")
			}
			fmt.Fprintf(&b, "%s (%s/%s:%d)", f.Function, filepath.Base(filepath.Dir(f.File)), filepath.Base(f.File), f.Line)
		}
		if !more {
			break
		}
	}
	return b.String()
}

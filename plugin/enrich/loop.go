package enrich

import (
	"crypto/rand"
	"encoding/hex"
)

// runMark names this run of the process: every event sshenrich
// re-emits carries it in its metadata (MarkKey), and in_forward keeps
// metadata as it is. An event that comes back with it went through this
// Fluent Bit's forward input once already, and so to every output that
// matches it: a sshenrich output whose Match is too wide would only
// multiply it, so Append drops it. A mark of another run (another
// Fluent Bit, or this one before a restart) is not a loop.
var runMark = newRunMark()

func newRunMark() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	return hex.EncodeToString(b[:])
}

// RunMark is the mark of this process's re-emitted events.
func RunMark() string { return runMark }

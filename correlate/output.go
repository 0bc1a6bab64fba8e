package correlate

import (
	"time"

	"github.com/sshenrich/sshenrich/rules"
)

// FieldSet is a set of record fields the engine filled in for a line
// that lacked them (sshenrich.inferred).
type FieldSet uint16

// Fields the engine infers from a line's session.
const (
	InferredSourceIP FieldSet = 1 << iota
	InferredSourcePort
	InferredUser
	InferredCommonName
	InferredPoolIP
	InferredVRF
	InferredRDomain
	InferredBytesSent
	InferredBytesReceived
	numInferred = iota
)

// inferredNames are the record fields, as sshenrich.inferred lists them.
var inferredNames = [numInferred]string{"source.ip", "source.port", "user.name", "sshenrich.common_name",
	"sshenrich.pool_ip", "sshenrich.vrf", "sshenrich.rdomain", "sshenrich.bytes_sent", "sshenrich.bytes_received"}

// Has reports whether f is in the set.
func (s FieldSet) Has(f FieldSet) bool { return s&f != 0 }

// Names appends the record field names of the set to dst, in a fixed
// order; with a dst of capacity 9 it does not allocate.
func (s FieldSet) Names(dst []string) []string {
	for i, n := range inferredNames {
		if s&(1<<i) != 0 {
			dst = append(dst, n)
		}
	}
	return dst
}

// Output is what the engine says about one line. The caller owns it and
// passes it to every Observe; it is reset there. Its byte slices point
// into the Output itself, so they stay valid until the next Observe
// with the same Output.
type Output struct {
	// SessionID is the session's id (16 hex digits, the same for every
	// line of one session), or nil when the line belongs to none.
	SessionID []byte
	// Inferred lists the fields below that the line lacked and its
	// session supplied.
	Inferred      FieldSet
	SourceIP      []byte
	SourcePort    int
	User          []byte
	CommonName    []byte
	PoolIP        []byte
	VRF           int
	RDomain       []byte
	BytesSent     int64
	BytesReceived int64

	// Duration is the time from the session's start to this line, on a
	// line that closes or ends the session (event.duration).
	Duration    time.Duration
	HasDuration bool

	// Repeat: the line is a repeat of one already seen in an earlier
	// poll of the same switch. The caller drops or marks it as its
	// dedup setting says; the engine has not counted it again.
	Repeat bool

	// Alerts raised by this line, each to be written as an extra record
	// (event.kind: alert). The slice's backing array is reused.
	Alerts []Alert

	id   [16]byte
	text [textSize]byte
	used int
}

// reset clears the fields (not the buffers, which only the fields
// point into).
func (o *Output) reset() {
	o.SessionID, o.Inferred = nil, 0
	o.SourceIP, o.User, o.CommonName, o.PoolIP, o.RDomain = nil, nil, nil, nil, nil
	o.SourcePort, o.VRF, o.BytesSent, o.BytesReceived = -1, -1, -1, -1
	o.Duration, o.HasDuration, o.Repeat = 0, false, false
	o.Alerts = o.Alerts[:0]
	o.used = 0
}

// keep copies v into the Output's own buffer; nil when it does not fit.
func (o *Output) keep(v []byte) []byte {
	if len(v) == 0 || o.used+len(v) > len(o.text) {
		return nil
	}
	n := copy(o.text[o.used:], v)
	out := o.text[o.used : o.used+n : o.used+n]
	o.used += n
	return out
}

// textSize holds the longest values an Output may infer: an address,
// a user, a common name, a pool address and a routing domain.
const textSize = 5 * maxStored

// MaxSamples is the number of example values an alert carries.
const MaxSamples = 4

// Alert is a correlation rule's threshold reached for one key. Its byte
// slices point into the Alert itself.
type Alert struct {
	// Rule is the rule; Rule.Entry describes the alert record (code,
	// name, severity, texts, ATT&CK techniques).
	Rule *rules.Correlation
	// Count is how many events (or distinct values) the window held.
	Count  int
	Window time.Duration
	// First and Last are the line times (Unix ns) of the first event
	// of this run of activity and of the event that raised the alert.
	First, Last int64
	// After is the rule the alert followed (Rule.After: the brute force
	// before a login), or nil.
	After *rules.Correlation
	// Trigger is the fact that raised it, with the line's session id
	// (the engine's, or the one the record carried). Its byte slices
	// point into the caller's line and into the Output, and are valid
	// until the Output is observed into again.
	Trigger Fact

	buf   [arenaSize]byte
	keys  [maxGroupBy]span
	nkeys int
	samp  [MaxSamples]span
	nsamp int
}

type span struct{ off, n uint8 }

// Key returns the value of the rule's i-th group-by field
// (Rule.GroupBy[i]): the source address, the user name.
func (a *Alert) Key(i int) []byte {
	if i < 0 || i >= a.nkeys {
		return nil
	}
	s := a.keys[i]
	return a.buf[s.off : int(s.off)+int(s.n)]
}

// Samples returns how many example values the alert carries, and
// Sample the i-th: values of the rule's Sample field (the users tried,
// the sources seen).
func (a *Alert) Samples() int { return a.nsamp }

// Sample returns the i-th example value.
func (a *Alert) Sample(i int) []byte {
	if i < 0 || i >= a.nsamp {
		return nil
	}
	s := a.samp[i]
	return a.buf[s.off : int(s.off)+int(s.n)]
}

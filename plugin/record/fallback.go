package record

import (
	"bytes"

	"github.com/sshenrich/sshenrich/rules"
)

// Fallback holds what an unclassified line of a known program still
// tells: the address, port and user of sshd's unambiguous shapes
// ("from <ip> port <port>", "for [invalid user ]<user> from"). Spans
// index the envelope's message.
type Fallback struct {
	Host, Port, User rules.Span
}

func (f *Fallback) reset() { *f = Fallback{} }

var (
	fromWord    = []byte(" from ")
	portWord    = []byte(" port ")
	forWord     = []byte(" for ")
	invalidWord = []byte("invalid user ")
	illegalWord = []byte("illegal user ")
)

// findFallback reads the shapes from msg. The address is the last
// "from <host> port <digits>" of the message: sshd writes its own
// address after any user-supplied text, so a user name holding
// " from 10.0.0.1 port 22" cannot move it. The user is what lies between
// the first " for " (sshd's own, before any user text) and the address.
func findFallback(msg []byte, f *Fallback) {
	f.reset()
	at := len(msg)
	for {
		i := bytes.LastIndex(msg[:at], fromWord)
		if i < 0 {
			return
		}
		at = i
		hs := i + len(fromWord)
		he := hs
		for he < len(msg) && rules.TypeHost.Admits(msg[he]) {
			he++
		}
		if he == hs || !bytes.HasPrefix(msg[he:], portWord) {
			continue
		}
		ps := he + len(portWord)
		pe := ps
		for pe < len(msg) && pe-ps < 5 && msg[pe] >= '0' && msg[pe] <= '9' {
			pe++
		}
		if pe == ps || pe < len(msg) && msg[pe] != ' ' && msg[pe] != ':' && msg[pe] != ',' {
			continue
		}
		f.Host, f.Port = rules.Span{Start: hs, End: he}, rules.Span{Start: ps, End: pe}
		head := msg[:i]
		if j := bytes.Index(head, forWord); j >= 0 {
			us := j + len(forWord)
			u := head[us:]
			if bytes.HasPrefix(u, invalidWord) || bytes.HasPrefix(u, illegalWord) {
				us += len(invalidWord)
			}
			if us < i {
				f.User = rules.Span{Start: us, End: i}
			}
		}
		return
	}
}

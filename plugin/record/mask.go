package record

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/netip"
	"slices"
	"unsafe"

	"github.com/sshenrich/sshenrich/rules"
)

// MaskMode says how a value is hidden.
type MaskMode uint8

// Masking modes.
const (
	MaskOff    MaskMode = iota
	MaskHMAC            // a keyed HMAC-SHA256 pseudonym: equal inputs give equal outputs
	MaskPrefix          // addresses only: keep the network, zero the host bits
)

// ParseMaskMode reads "off", "hmac" or (for addresses) "prefix".
func ParseMaskMode(s string, prefixOK bool) (MaskMode, error) {
	switch s {
	case "off", "":
		return MaskOff, nil
	case "hmac":
		return MaskHMAC, nil
	case "prefix":
		if prefixOK {
			return MaskPrefix, nil
		}
	}
	if prefixOK {
		return 0, fmt.Errorf("%q is not a mask mode; use off, hmac or prefix", s)
	}
	return 0, fmt.Errorf("%q is not a mask mode; use off or hmac", s)
}

// Mask hides personal data. Failed logins often carry a password typed
// as the user name, and addresses identify people; masking replaces them
// in the added fields (user.name, related.user, source and destination
// addresses and host names, related.ip and related.hosts) and, with
// Message set, in the original line as well.
type Mask struct {
	User    MaskMode // MaskOff or MaskHMAC
	IP      MaskMode // MaskOff, MaskHMAC or MaskPrefix
	Key     []byte   // the HMAC key; required for MaskHMAC
	V4Bits  int      // prefix length kept by MaskPrefix for IPv4 (default 24)
	V6Bits  int      // and for IPv6 (default 48)
	Message bool     // also rewrite the user and address spans of the line itself
}

// MinMaskKey is the shortest HMAC key accepted.
const MinMaskKey = 16

// Errors of Mask.Check.
var (
	ErrMaskNoKey    = errors.New("hmac masking needs a key")
	ErrMaskShortKey = fmt.Errorf("the hmac key is too short; at least %d bytes are needed", MinMaskKey)
	ErrMaskNothing  = errors.New("masking the message needs user or address masking on too")
)

// Check reports a Mask that cannot work: hmac without a key long
// enough, or masking of the line with nothing to mask.
func (m *Mask) Check() error {
	hmacWanted := m.User == MaskHMAC || m.IP == MaskHMAC
	switch {
	case hmacWanted && len(m.Key) == 0:
		return ErrMaskNoKey
	case hmacWanted && len(m.Key) < MinMaskKey:
		return ErrMaskShortKey
	case m.Message && !m.Enabled():
		return ErrMaskNothing
	}
	return nil
}

// Enabled reports whether anything is masked.
func (m *Mask) Enabled() bool { return m.User != MaskOff || m.IP != MaskOff }

// IDKey is the key that event.id and session ids are derived with while
// something is masked: both are hashes of what the line says, so an
// unkeyed id would let anyone who reads the masked record test guesses
// of the hidden value (the 256 hosts of a /24 that prefix masking
// keeps). The key is derived from Key, so that it differs from the
// masking's own and every process that shares Key gives the same ids.
// It is nil when nothing is masked or there is no Key.
func (m *Mask) IDKey() []byte {
	if !m.Enabled() || len(m.Key) == 0 {
		return nil
	}
	mac := hmac.New(sha256.New, m.Key)
	mac.Write([]byte("sshenrich id key v1"))
	return mac.Sum(nil)
}

// masker applies a Mask with reusable scratch space.
type masker struct {
	m    *Mask
	mac  hash.Hash
	sum  []byte
	ip16 [16]byte // the address being hashed; a field, so it does not escape per call
	buf  []byte   // masked values of the current record
}

func newMasker(m *Mask) *masker {
	k := &masker{m: m}
	if m.V4Bits == 0 {
		m.V4Bits = 24
	}
	if m.V6Bits == 0 {
		m.V6Bits = 48
	}
	if len(m.Key) > 0 {
		k.mac = hmac.New(sha256.New, m.Key)
	}
	return k
}

func (k *masker) digest(b []byte) []byte {
	k.mac.Reset()
	k.mac.Write(b)
	k.sum = k.mac.Sum(k.sum[:0])
	return k.sum
}

// pseudonym appends prefix and 16 hex digits of the value's HMAC.
func (k *masker) pseudonym(prefix string, v []byte) []byte {
	start := len(k.buf)
	k.buf = append(k.buf, prefix...)
	k.buf = hex.AppendEncode(k.buf, k.digest(v)[:8])
	return k.buf[start:]
}

// user masks a user name.
func (k *masker) user(v []byte) []byte {
	if k.m.User != MaskHMAC || v == nil {
		return v
	}
	return k.pseudonym("u-", v)
}

// host masks an address or host name.
func (k *masker) host(h hostValue) hostValue {
	switch k.m.IP {
	case MaskPrefix:
		if h.ip.IsValid() {
			bits := k.m.V6Bits
			if h.ip.Is4() {
				bits = k.m.V4Bits
			}
			if p, err := h.ip.Prefix(bits); err == nil {
				return hostValue{ip: p.Addr()}
			}
			return hostValue{}
		}
		if h.domain != nil {
			// A host name keeps its parent domain, as an address keeps its network.
			if i := bytes.IndexByte(h.domain, '.'); i > 0 && i < len(h.domain)-1 {
				return hostValue{domain: h.domain[i+1:]}
			}
			return hostValue{}
		}
	case MaskHMAC:
		if h.ip.IsValid() {
			// A unique local IPv6 address (fd00::/8) made from the HMAC:
			// still an IP for source.ip, equal for equal inputs.
			var a [16]byte
			a[0] = 0xfd
			k.ip16 = h.ip.As16()
			copy(a[1:], k.digest(k.ip16[:]))
			return hostValue{ip: netip.AddrFrom16(a)}
		}
		if h.domain != nil {
			return hostValue{domain: k.pseudonym("h-", h.domain)}
		}
	}
	return h
}

// maskResolved masks what resolve decided.
func (w *writer) maskResolved() {
	k := w.mask
	if k == nil {
		return
	}
	k.buf = k.buf[:0]
	r := &w.r
	r.user = k.user(r.user)
	r.userEffective, r.userTarget, r.userChanges = k.user(r.userEffective), k.user(r.userTarget), k.user(r.userChanges)
	r.src, r.dst = k.host(r.src), k.host(r.dst)
}

// span is a part of the line to replace.
type span struct {
	start, end int
	with       []byte
}

// MaskedLine returns ev's line with its user names and addresses masked,
// or nil when Mask.Message is off or there is nothing to mask. The
// result is valid until the next call.
func (x *Enricher) MaskedLine(ev *Event) []byte { return x.w.maskedLineOf(ev) }

func (w *writer) maskedLineOf(ev *Event) []byte {
	k := w.mask
	if k == nil || !k.m.Message || len(ev.Line) == 0 || len(ev.Env.Message) == 0 {
		return nil
	}
	base := offsetIn(ev.Line, ev.Env.Message)
	if base < 0 {
		return nil
	}
	spans := w.spans[:0]
	k.buf = k.buf[:0]
	for _, c := range ev.Match.Captures() {
		if c.Var == nil {
			continue
		}
		val := ev.Env.Message[c.Start:c.End]
		if with := k.personal(val, c.Var); len(val) > 0 && !bytes.Equal(with, val) {
			spans = append(spans, span{base + c.Start, base + c.End, with})
		}
	}
	env := &ev.Env
	if k.m.IP != MaskOff {
		for _, a := range [...][]byte{env.ClientAddr, env.Net.Src, env.Net.Dst} {
			if len(a) > 0 {
				spans = appendSpan(spans, ev.Line, a, k.hostText(a, rules.TypeIP))
			}
		}
	}
	if k.m.User != MaskOff && len(env.VPNUser) > 0 {
		spans = appendSpan(spans, ev.Line, env.VPNUser, k.user(env.VPNUser))
	}
	if fb := &ev.Fallback; ev.Match.Entry == nil && !fb.Host.Empty() {
		msg := env.Message
		if host := msg[fb.Host.Start:fb.Host.End]; k.m.IP != MaskOff {
			spans = append(spans, span{base + fb.Host.Start, base + fb.Host.End, k.hostText(host, rules.TypeHost)})
		}
		if user := msg[fb.User.Start:fb.User.End]; k.m.User != MaskOff && len(user) > 0 {
			spans = append(spans, span{base + fb.User.Start, base + fb.User.End, k.user(user)})
		}
	}
	w.spans = spans
	if len(spans) == 0 {
		return nil
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	w.maskedLine = w.maskedLine[:0]
	at := 0
	for _, s := range spans {
		if s.start < at {
			continue
		}
		w.maskedLine = append(w.maskedLine, ev.Line[at:s.start]...)
		w.maskedLine = append(w.maskedLine, s.with...)
		at = s.end
	}
	w.maskedLine = append(w.maskedLine, ev.Line[at:]...)
	return w.maskedLine
}

// personal masks a captured value by its personal class; other values
// come back as they are.
func (k *masker) personal(v []byte, x *rules.Var) []byte {
	switch x.Personal {
	case rules.PersonalUser:
		return k.user(v)
	case rules.PersonalAddress:
		if k.m.IP != MaskOff {
			return k.hostText(v, x.Type)
		}
	}
	return v
}

// appendSpan adds the replacement of sub, a part of line, by with.
func appendSpan(spans []span, line, sub, with []byte) []span {
	if off := offsetIn(line, sub); off >= 0 {
		spans = append(spans, span{off, off + len(sub), with})
	}
	return spans
}

// hostText is the masked text of a host as it appears in the line.
func (k *masker) hostText(v []byte, t rules.Type) []byte {
	h := k.host(classifyHost(v, t))
	start := len(k.buf)
	switch {
	case h.ip.IsValid():
		k.buf = h.ip.AppendTo(k.buf)
	case h.domain != nil:
		k.buf = append(k.buf, h.domain...)
	default:
		k.buf = append(k.buf, "masked"...)
	}
	return k.buf[start:]
}

// offsetIn returns where sub starts inside b's memory, or -1.
func offsetIn(b, sub []byte) int {
	if len(b) == 0 || len(sub) == 0 {
		return -1
	}
	d := int(uintptr(unsafe.Pointer(unsafe.SliceData(sub))) - uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	if d < 0 || d+len(sub) > len(b) {
		return -1
	}
	return d
}

package enrich

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash"

	"github.com/sshenrich/sshenrich/plugin/chunk"
)

// IDLen is the length of event.id: 128 bits as unpadded base64url.
const IDLen = 22

// idDomain starts everything hashed for an id, so that a later change
// of what an id covers gives new ids rather than equal ones for other
// inputs.
const idDomain = "sshenrich event.id v1\x00"

// ids derives event.id from the input event itself: the chunk's tag,
// the event's time and metadata as Fluent Bit handed them over, and the
// record's msgpack bytes. Fluent Bit replays a chunk byte for byte
// (after FLB_RETRY, or from filesystem storage after a crash), so every
// replay gives every record the same id, whichever worker flushes it
// and however the chunk is cut; nothing of the chunk's offsets, of
// counters or of the clock goes in. Backends drop the duplicates of
// at-least-once delivery by it (Elasticsearch and OpenSearch Id_Key).
//
// The hash is SHA-256 from the standard library, cut to 128 bits: no
// dependency, no key to share between instances for ids to agree, the
// same on every machine, hardware-accelerated on current amd64 and
// arm64, and collision-resistant even against log lines written to
// collide (a user name is the attacker's to choose; a colliding id would
// let one record overwrite another in an index). 128 bits make an
// accidental collision among 10^12 records about 10^-15 likely. It
// costs about 60 ns per 64 bytes hashed (BenchmarkEventID). The zero
// value is ready for use.
//
// While something is masked the hash is keyed (HMAC-SHA256 under
// Options.IDKey): an id is a hash of the line, and whoever reads a
// masked record could otherwise test guesses of what was hidden.
type ids struct {
	buf  []byte            // what is hashed
	base [sha256.Size]byte // the hash of the current input event
	text [IDLen]byte
	mac  hash.Hash // nil: unkeyed
	sum  []byte
}

// newIDs returns ids keyed with key, or unkeyed when key is empty.
func newIDs(key []byte) ids {
	if len(key) == 0 {
		return ids{}
	}
	return ids{mac: hmac.New(sha256.New, key), sum: make([]byte, 0, sha256.Size)}
}

// hashEvent hashes the input event ev, flushed under tag.
func (x *ids) hashEvent(tag []byte, ev *chunk.Event) {
	meta := ev.Meta
	if len(meta) == 1 && meta[0] == 0x80 {
		// An empty metadata map says what a v1 event's lack of one says.
		meta = nil
	}
	x.buf = append(x.buf[:0], idDomain...)
	x.buf = binary.AppendUvarint(x.buf, uint64(len(tag)))
	x.buf = append(x.buf, tag...)
	// The time as numbers, however it was encoded (EventTime, integer).
	x.buf = binary.BigEndian.AppendUint64(x.buf, uint64(ev.Sec))
	x.buf = binary.BigEndian.AppendUint32(x.buf, uint32(ev.Nsec))
	x.buf = binary.AppendUvarint(x.buf, uint64(len(meta)))
	x.buf = append(x.buf, meta...)
	x.buf = append(x.buf, ev.Body...) // last: it runs to the end, so needs no length
	if x.mac == nil {
		x.base = sha256.Sum256(x.buf)
		return
	}
	x.mac.Reset()
	x.mac.Write(x.buf)
	x.sum = x.mac.Sum(x.sum[:0])
	copy(x.base[:], x.sum)
}

// line returns the id of line n of the event hashed last: n is 0 for
// the first or only line, and counts the further records a message of
// several lines becomes. The text is valid until the next call.
func (x *ids) line(n int) []byte {
	sum := x.base[:]
	if n > 0 {
		// Each further line's id is derived from the event's hash, so a
		// message of many lines is hashed once, not once per line.
		x.buf = append(x.buf[:0], idDomain...)
		x.buf = append(x.buf, "line\x00"...)
		x.buf = append(x.buf, x.base[:]...)
		x.buf = binary.AppendUvarint(x.buf, uint64(n))
		s := sha256.Sum256(x.buf)
		sum = s[:]
	}
	base64.RawURLEncoding.Encode(x.text[:], sum[:16])
	return x.text[:]
}

// alert returns the id of the i-th alert record that line n of the
// event hashed last raised: derived from the line's, so that a replay
// that raises the alert again gives it the same id. The text is valid
// until the next call.
func (x *ids) alert(n, i int) []byte {
	x.buf = append(x.buf[:0], idDomain...)
	x.buf = append(x.buf, "alert\x00"...)
	x.buf = append(x.buf, x.base[:]...)
	x.buf = binary.AppendUvarint(x.buf, uint64(n))
	x.buf = binary.AppendUvarint(x.buf, uint64(i))
	s := sha256.Sum256(x.buf)
	base64.RawURLEncoding.Encode(x.text[:], s[:16])
	return x.text[:]
}

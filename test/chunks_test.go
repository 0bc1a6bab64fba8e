package test

import (
	"encoding/binary"
	"math"

	"github.com/vmihailenco/msgpack/v5"
)

// Builders of raw chunk bytes, for the forms Fluent Bit may hand a plugin.

func eventTime(sec, nsec uint32) []byte {
	b := []byte{0xd7, 0x00, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[2:], sec)
	binary.BigEndian.PutUint32(b[6:], nsec)
	return b
}

// eventTime8 is an EventTime written as ext8 rather than fixext8.
func eventTime8(sec, nsec uint32) []byte {
	b := []byte{0xc7, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[3:], sec)
	binary.BigEndian.PutUint32(b[7:], nsec)
	return b
}

func floatTime(f float64) []byte {
	b := []byte{0xcb, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint64(b[1:], math.Float64bits(f))
	return b
}

func mp(v any) []byte {
	b, err := msgpack.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// v2 is [[time, meta], body]; v1 is [time, body].
func v2(t, meta, body []byte) []byte { return cat([]byte{0x92, 0x92}, t, meta, body) }
func v1(t, body []byte) []byte       { return cat([]byte{0x92}, t, body) }

const acceptedLine = "Jun 16 07:37:30 web01 sshd[4409]: Accepted password for bob from 192.0.2.1 port 22 ssh2"

func logBody(line string) []byte { return mp(map[string]any{"log": line}) }

// chunkForms holds five records in every time form, and a group.
func chunkForms() []byte {
	body := logBody(acceptedLine)
	return cat(
		v2(eventTime(1718523450, 5), mp(map[string]any{}), body),
		v1(mp(uint32(1718523451)), body),
		v1(floatTime(1718523452.25), body),
		v2(eventTime(0xFFFFFFFF, 0), mp(map[string]any{"schema": "otlp", "resource_id": 0, "scope_id": 0}), mp(map[string]any{"resource": map[string]any{}, "scope": map[string]any{}})),
		v2(eventTime(1718523453, 7), mp(map[string]any{"otlp": map[string]any{"severity_number": 9}}), body),
		v2(eventTime(0xFFFFFFFE, 0), mp(map[string]any{}), mp(map[string]any{})),
		v2(eventTime8(1718523454, 9), mp(map[string]any{}), body),
	)
}

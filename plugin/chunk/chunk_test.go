package chunk

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func mp(t testing.TB, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func eventTime(sec, nsec uint32) []byte {
	b := []byte{0xd7, 0x00, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[2:], sec)
	binary.BigEndian.PutUint32(b[6:], nsec)
	return b
}

func join(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestDecoderForms(t *testing.T) {
	body := mp(t, map[string]any{"log": "x"})
	f := make([]byte, 9)
	f[0] = 0xcb
	binary.BigEndian.PutUint64(f[1:], math.Float64bits(1700000000.5))
	tests := []struct {
		name      string
		event     []byte
		v2        bool
		sec, nsec int64
		group     Group
		meta      bool
	}{
		{"v2 EventTime", join([]byte{0x92, 0x92}, eventTime(1700000000, 42), mp(t, map[string]any{"k": "v"}), body), true, 1700000000, 42, NotGroup, true},
		{"v1 EventTime", join([]byte{0x92}, eventTime(1700000001, 1), body), false, 1700000001, 1, NotGroup, false},
		{"v1 int", join([]byte{0x92}, mp(t, 1700000002), body), false, 1700000002, 0, NotGroup, false},
		{"v1 float", join([]byte{0x92}, f, body), false, 1700000000, 500000000, NotGroup, false},
		{"group start", join([]byte{0x92, 0x92}, eventTime(0xFFFFFFFF, 0), mp(t, map[string]any{}), mp(t, map[string]any{})), true, 0xFFFFFFFF, 0, GroupStart, true},
		{"group end", join([]byte{0x92, 0x92}, eventTime(0xFFFFFFFE, 0), mp(t, map[string]any{}), mp(t, map[string]any{})), true, 0xFFFFFFFE, 0, GroupEnd, true},
		{"group start as int", join([]byte{0x92}, mp(t, -1), mp(t, map[string]any{})), false, -1, 0, GroupStart, false},
		{"v2 header with time only", join([]byte{0x92, 0x91}, eventTime(5, 6), body), true, 5, 6, NotGroup, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(tt.event)
			if !d.Next() {
				t.Fatalf("no event: %v", d.Err())
			}
			ev := d.Event()
			if ev.V2 != tt.v2 || ev.Sec != tt.sec || ev.Nsec != tt.nsec || ev.Group != tt.group || (ev.Meta != nil) != tt.meta {
				t.Errorf("got v2=%v %d.%d group=%v meta=%v", ev.V2, ev.Sec, ev.Nsec, ev.Group, ev.Meta != nil)
			}
			if !bytes.Equal(ev.Raw, tt.event) {
				t.Errorf("Raw is not the whole event")
			}
			if d.Next() || d.Err() != nil {
				t.Errorf("more after the only event: %v", d.Err())
			}
			// AppendHead + body rebuilds the event byte for byte.
			if got := append(AppendHead(nil, ev), ev.Body...); !bytes.Equal(got, tt.event) {
				t.Errorf("AppendHead+Body = %x, want %x", got, tt.event)
			}
		})
	}
}

func TestDecoderErrors(t *testing.T) {
	body := mp(t, map[string]any{"log": "x"})
	good := join([]byte{0x92, 0x92}, eventTime(1, 2), mp(t, map[string]any{}), body)
	deep := append(bytes.Repeat([]byte{0x91}, 10000), 0xc0)
	tests := []struct {
		name, data, want string
	}{
		{"not an array", "\xa3abc", "expected an array"},
		{"three elements", string(join([]byte{0x93}, mp(t, 1), body, body)), "2-element array"},
		{"negative time", string(join([]byte{0x92}, mp(t, -5), body)), "negative timestamp"},
		{"string time", string(join([]byte{0x92}, mp(t, "now"), body)), "expected EventTime, integer or float"},
		{"truncated", string(good[:len(good)-2]), "truncated"},
		{"too deep", string(join([]byte{0x92}, mp(t, 1), deep)), "nested deeper"},
		{"bad code", string(join([]byte{0x92}, mp(t, 1), []byte{0xc1})), "invalid msgpack type code"},
		{"huge map count", string(join([]byte{0x92}, mp(t, 1), []byte{0xdf, 0xff, 0xff, 0xff, 0xff})), "truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(append(append([]byte(nil), good...), tt.data...))
			if !d.Next() {
				t.Fatalf("the good event before the bad one was not read: %v", d.Err())
			}
			if d.Next() {
				t.Fatal("read a bad event")
			}
			if err := d.Err(); err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "event 2 at byte") {
				t.Errorf("error %v, want one naming event 2 and %q", err, tt.want)
			}
			if d.Count() != 1 || d.Offset() != len(good) {
				t.Errorf("count %d offset %d", d.Count(), d.Offset())
			}
		})
	}
}

// TestTruncatedEveryByte cuts a valid chunk at every byte: the decoder
// reads the whole events before the cut and reports the rest.
func TestTruncatedEveryByte(t *testing.T) {
	var data []byte
	var ends []int
	for i := range 4 {
		data = append(data, join([]byte{0x92, 0x92}, eventTime(uint32(i), 0), mp(t, map[string]any{"m": i}), mp(t, map[string]any{"log": strings.Repeat("x", i*40)}))...)
		ends = append(ends, len(data))
	}
	for cut := 0; cut <= len(data); cut++ {
		d := NewDecoder(data[:cut])
		n := 0
		for d.Next() {
			n++
		}
		want, boundary := 0, cut == 0
		for _, e := range ends {
			if e <= cut {
				want++
			}
			boundary = boundary || e == cut
		}
		if n != want {
			t.Fatalf("cut at %d: %d events, want %d", cut, n, want)
		}
		if (d.Err() == nil) != boundary {
			t.Fatalf("cut at %d: err %v, want an error only inside an event", cut, d.Err())
		}
	}
}

func TestMapIter(t *testing.T) {
	m := mp(t, map[string]any{"log": "line"})
	m = append([]byte{0x83}, m[1:]...)
	m = append(m, mp(t, 7)...)
	m = append(m, mp(t, "seven")...) // a non-string key
	m = append(m, mp(t, "k")...)
	m = append(m, mp(t, []any{1, 2})...)
	var it MapIter
	if !it.Reset(m) {
		t.Fatal("not a map")
	}
	var keys []string
	for it.Next() {
		keys = append(keys, string(it.Key()))
		if it.MemberEnd() <= it.MemberStart() {
			t.Errorf("bad member bounds %d %d", it.MemberStart(), it.MemberEnd())
		}
	}
	if it.Err() != nil || strings.Join(keys, ",") != "log,,k" {
		t.Errorf("keys %q err %v", keys, it.Err())
	}
	if it.Reset([]byte{0x91, 0x01}) {
		t.Error("an array taken for a map")
	}
}

func TestStrAndInt(t *testing.T) {
	for _, s := range []string{"", "short", strings.Repeat("a", 40), strings.Repeat("b", 300), strings.Repeat("c", 70000)} {
		got, ok := Str(mp(t, s))
		if !ok || string(got) != s {
			t.Errorf("Str(%d bytes) = %d bytes, %v", len(s), len(got), ok)
		}
	}
	if got, ok := Str(mp(t, []byte("bin"))); !ok || string(got) != "bin" {
		t.Errorf("bin not read as string")
	}
	for _, n := range []int64{0, 1, 127, 128, 255, 256, 65535, 65536, 1 << 40, -1, -32, -33, -200, -40000, -1 << 40} {
		got, ok := Int(mp(t, n))
		if !ok || got != n {
			t.Errorf("Int(%d) = %d, %v", n, got, ok)
		}
	}
	if _, ok := Int(mp(t, uint64(math.MaxUint64))); ok {
		t.Error("uint64 above MaxInt64 taken as int64")
	}
	if _, ok := Int(mp(t, "1")); ok {
		t.Error("string taken as int")
	}
}

func TestAppendJSON(t *testing.T) {
	v := mp(t, map[string]any{
		"s": "a\"b\n\xff", "i": -3, "u": uint64(math.MaxUint64), "f": 1.5, "b": true, "n": nil,
		"a": []any{1, "x", map[string]any{"k": "v"}}, "bin": []byte{1, 2, 3},
	})
	got, end, err := AppendJSON(nil, v)
	if err != nil || end != len(v) {
		t.Fatalf("err %v end %d of %d", err, end, len(v))
	}
	var m map[string]any
	if err := json.Unmarshal(got, &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, got)
	}
	if m["s"] != "a\"b\n\ufffd" || m["i"] != -3.0 || m["b"] != true || m["n"] != nil || m["bin"] != "AQID" || m["f"] != 1.5 {
		t.Errorf("values: %s", got)
	}
	if !strings.Contains(string(got), `"u":18446744073709551615`) {
		t.Errorf("uint64 lost precision: %s", got)
	}
	// A map with a non-string key gets the key's JSON text.
	nm := append([]byte{0x81}, mp(t, 5)...)
	nm = append(nm, mp(t, "five")...)
	got, _, err = AppendJSON(nil, nm)
	if err != nil || string(got) != `{"5":"five"}` {
		t.Errorf("non-string key: %s %v", got, err)
	}
	// EventTime ext becomes seconds.
	got, _, err = AppendJSON(nil, eventTime(10, 500000000))
	if err != nil || string(got) != "10.5" {
		t.Errorf("EventTime: %s %v", got, err)
	}
}

func BenchmarkDecodeChunk(b *testing.B) {
	var data []byte
	for i := range 1000 {
		data = append(data, join([]byte{0x92, 0x92}, eventTime(uint32(i), 0), mp(b, map[string]any{}), mp(b, map[string]any{"log": "Jun 16 07:37:30 web01 sshd[4409]: Failed password for root from 203.0.113.45 port 50122 ssh2"}))...)
	}
	var d Decoder
	var it MapIter
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		d.Reset(data)
		for d.Next() {
			it.Reset(d.Event().Body)
			for it.Next() {
			}
		}
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "records/s")
}

// TestAppendHeadEdit: the time and the metadata mark are changed as
// asked, and everything else of the head is kept: the other metadata
// members, extra header elements, and the event form.
func TestAppendHeadEdit(t *testing.T) {
	body := mp(t, map[string]any{"log": "x"})
	tests := []struct {
		name     string
		event    []byte
		edit     HeadEdit
		sec      int64
		nsec     int64
		v2       bool
		meta     map[string]any
		sameHead bool
	}{
		{"no edit", join([]byte{0x92, 0x92}, eventTime(10, 1), mp(t, map[string]any{"k": "v"}), body), HeadEdit{}, 10, 1, true, map[string]any{"k": "v"}, true},
		{"time", join([]byte{0x92, 0x92}, eventTime(10, 1), mp(t, map[string]any{"k": "v"}), body), HeadEdit{SetTime: true, Sec: 20, Nsec: 2}, 20, 2, true, map[string]any{"k": "v"}, false},
		{"mark added", join([]byte{0x92, 0x92}, eventTime(10, 1), mp(t, map[string]any{"k": "v"}), body), HeadEdit{MarkKey: "m", MarkValue: "id1"}, 10, 1, true, map[string]any{"k": "v", "m": "id1"}, false},
		{"mark replaced", join([]byte{0x92, 0x92}, eventTime(10, 1), mp(t, map[string]any{"m": "old", "k": "v"}), body), HeadEdit{MarkKey: "m", MarkValue: "id2"}, 10, 1, true, map[string]any{"k": "v", "m": "id2"}, false},
		{"mark into an empty map, time too", join([]byte{0x92, 0x92}, eventTime(10, 1), []byte{0x80}, body), HeadEdit{SetTime: true, Sec: 30, MarkKey: "m", MarkValue: "id3"}, 30, 0, true, map[string]any{"m": "id3"}, false},
		{"metadata not a map stays", join([]byte{0x92, 0x92}, eventTime(10, 1), mp(t, "odd"), body), HeadEdit{MarkKey: "m", MarkValue: "id"}, 10, 1, true, nil, true},
		{"v2 header with time only", join([]byte{0x92, 0x91}, eventTime(10, 1), body), HeadEdit{SetTime: true, Sec: 40, MarkKey: "m", MarkValue: "id"}, 40, 0, true, nil, false},
		{"extra header element kept", join([]byte{0x92, 0x93}, eventTime(10, 1), []byte{0x80}, mp(t, "extra"), body), HeadEdit{MarkKey: "m", MarkValue: "id"}, 10, 1, true, map[string]any{"m": "id"}, false},
		{"v1 time", join([]byte{0x92}, mp(t, 1700000002), body), HeadEdit{SetTime: true, Sec: 50, Nsec: 5, MarkKey: "m", MarkValue: "id"}, 50, 5, false, nil, false},
		{"v1 no time change", join([]byte{0x92}, mp(t, 1700000002), body), HeadEdit{MarkKey: "m", MarkValue: "id"}, 1700000002, 0, false, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(tt.event)
			if !d.Next() {
				t.Fatal(d.Err())
			}
			in := d.Event()
			out := AppendHeadEdit(nil, in, &tt.edit)
			out = append(out, in.Body...)
			od := NewDecoder(out)
			if !od.Next() {
				t.Fatalf("edited event does not decode: %v (%x)", od.Err(), out)
			}
			ev := od.Event()
			if ev.Sec != tt.sec || ev.Nsec != tt.nsec || ev.V2 != tt.v2 || !bytes.Equal(ev.Body, body) {
				t.Errorf("time %d.%d v2 %v body %x", ev.Sec, ev.Nsec, ev.V2, ev.Body)
			}
			if tt.meta != nil {
				var m map[string]any
				if err := msgpack.Unmarshal(ev.Meta, &m); err != nil || len(m) != len(tt.meta) {
					t.Fatalf("metadata %v (%v), want %v", m, err, tt.meta)
				}
				for k, v := range tt.meta {
					if m[k] != v {
						t.Errorf("metadata %s = %v, want %v", k, m[k], v)
					}
				}
			}
			if strings.HasPrefix(tt.name, "extra") && !bytes.Contains(out, mp(t, "extra")) {
				t.Errorf("extra header element lost")
			}
			if tt.sameHead != bytes.Equal(out, tt.event) {
				t.Errorf("head changed %v, want %v", !bytes.Equal(out, tt.event), !tt.sameHead)
			}
			if v, ok := MetaString(ev.Meta, "m"); tt.edit.MarkKey != "" && tt.meta != nil && (!ok || string(v) != tt.edit.MarkValue) {
				t.Errorf("MetaString = %q %v", v, ok)
			}
		})
	}
}

func TestAppendHeadEditDoesNotAllocate(t *testing.T) {
	d := NewDecoder(join([]byte{0x92, 0x92}, eventTime(10, 1), mp(t, map[string]any{"k": "v", "m": "x"}), mp(t, map[string]any{"log": "x"})))
	d.Next()
	ev := d.Event()
	buf := make([]byte, 0, 256)
	h := HeadEdit{SetTime: true, Sec: 1, MarkKey: "m", MarkValue: "0123456789abcdef"}
	if n := testing.AllocsPerRun(100, func() { buf = AppendHeadEdit(buf[:0], ev, &h) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

package chunk

import (
	"bytes"
	"testing"
)

// FuzzDecoder decodes arbitrary bytes and mutated valid chunks: no
// panic, events tile the input, and AppendJSON handles every body.
func FuzzDecoder(f *testing.F) {
	body := mp(f, map[string]any{"log": "Jun 16 07:37:26 web01 sshd[4409]: Failed password for root from 203.0.113.45 port 50122 ssh2", "n": []any{1, 2.5, nil, true}})
	valid := join([]byte{0x92, 0x92}, eventTime(1700000000, 1), mp(f, map[string]any{"k": "v"}), body)
	f.Add(valid)
	f.Add(append(append([]byte(nil), valid...), valid...))
	f.Add(join([]byte{0x92}, mp(f, 1700000001), body))
	f.Add(join([]byte{0x92, 0x92}, eventTime(0xFFFFFFFF, 0), mp(f, map[string]any{}), mp(f, map[string]any{})))
	f.Add([]byte{})
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add(bytes.Repeat([]byte{0x91}, 200))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder(data)
		end := 0
		for d.Next() {
			ev := d.Event()
			if !bytes.Equal(ev.Raw, data[end:end+len(ev.Raw)]) {
				t.Fatalf("event %d is not the next bytes of the chunk", d.Count())
			}
			end += len(ev.Raw)
			if _, n, err := AppendJSON(nil, ev.Body); err != nil || n != len(ev.Body) {
				t.Fatalf("AppendJSON on a decoded body: %v (%d of %d)", err, n, len(ev.Body))
			}
			var it MapIter
			if it.Reset(ev.Body) {
				for it.Next() {
				}
			}
		}
		if d.Offset() != end || d.Err() == nil && end != len(data) {
			t.Fatalf("decoder stopped at %d of %d without an error", end, len(data))
		}
	})
}

package record

import (
	"encoding/json"
	"reflect"
	"strconv"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sshenrich/sshenrich/plugin/chunk"
)

// withOwnKeys enriches line as a record whose other keys are body, the
// way the plugin does: each member goes through Taken.Add, the ones it
// takes over are left out, and Write writes them back. It does so with
// both encoders and returns the record as msgpack decodes it; the JSON
// encoder must give the same record.
func withOwnKeys(t *testing.T, x *Enricher, body map[string]any, line string) map[string]any {
	t.Helper()
	raw, err := msgpack.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	ev := x.Classify([]byte(line))
	var taken Taken
	var mp Msgpack
	var js JSON
	mp.Buf = append(mp.Buf, 0xdf, 0, 0, 0, 0)
	js.Reset()
	js.Buf = append(js.Buf, '{')
	n := 0
	var it chunk.MapIter
	it.Reset(raw)
	for it.Next() {
		if taken.Add(it.Key(), it.Value(), x.opts.Style) {
			continue
		}
		n++
		mp.Buf = append(mp.Buf, raw[it.MemberStart():it.MemberEnd()]...)
		js.Key(string(it.Key()))
		v, _, err := chunk.AppendJSON(nil, it.Value())
		if err != nil {
			t.Fatal(err)
		}
		js.RawValue(v)
	}
	mp.Start(mp.Buf)
	n += x.Write(&mp, ev, &taken)
	mp.Buf[1], mp.Buf[2], mp.Buf[3], mp.Buf[4] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	var fromMP map[string]any
	if err := msgpack.Unmarshal(mp.Buf, &fromMP); err != nil {
		t.Fatalf("msgpack record: %v", err)
	}
	x.Write(&js, ev, &taken)
	js.Buf = append(js.Buf, '}')
	var fromJSON map[string]any
	if err := json.Unmarshal(js.Buf, &fromJSON); err != nil {
		t.Fatalf("JSON record: %v\n%s", err, js.Buf)
	}
	a, _ := json.Marshal(fromMP)
	b, _ := json.Marshal(fromJSON)
	if string(a) != string(b) {
		t.Errorf("the encoders disagree:\nmsgpack %s\n   JSON %s", a, b)
	}
	return fromMP
}

// TestOwnKeysECS: a record's own keys under the names of the groups
// sshenrich writes. Maps are merged, the record's members kept where
// they are; anything else gives the key to the added group and is kept
// under sshenrich.original. Nothing of the record is lost.
func TestOwnKeysECS(t *testing.T) {
	const line = "<38>Jun 16 07:37:30 web1 sshd[9]: Failed password for bob from 192.0.2.1 port 22 ssh2"
	tests := []struct {
		name string
		body map[string]any
		want map[string]any // path (dotted, under the record) -> value; nil: absent
	}{
		{"host as a syslog parser writes it", map[string]any{"host": "web01"}, map[string]any{
			"host.hostname": "web1", "sshenrich.original.host": "web01", "sshenrich.moved": nil}},
		{"host as a number", map[string]any{"host": 42}, map[string]any{
			"host.hostname": "web1", "sshenrich.original.host": int8(42)}},
		{"host as a map with hostname", map[string]any{"host": map[string]any{"hostname": "web01.example", "ip": []any{"192.0.2.9"}}}, map[string]any{
			"host.hostname": "web01.example", "host.ip": []any{"192.0.2.9"}, "sshenrich.host.hostname": "web1",
			"sshenrich.moved": []any{"host.hostname"}, "sshenrich.original": nil}},
		{"host as a map without hostname", map[string]any{"host": map[string]any{"id": "h-1"}}, map[string]any{
			"host.hostname": "web1", "host.id": "h-1", "sshenrich.host": nil, "sshenrich.moved": nil}},
		{"event as a string", map[string]any{"event": "login"}, map[string]any{
			"event.code": "T-0001", "sshenrich.original.event": "login"}},
		{"event as an array", map[string]any{"event": []any{"a", 1}}, map[string]any{
			"event.code": "T-0001", "sshenrich.original.event": []any{"a", int8(1)}}},
		{"event map holding code", map[string]any{"event": map[string]any{"code": "4625", "module": "win"}}, map[string]any{
			"event.code": "4625", "event.module": "win", "event.outcome": "failure", "event.kind": "event",
			"sshenrich.event.code": "T-0001", "sshenrich.moved": []any{"event.code"}}},
		{"event map with nothing in common", map[string]any{"event": map[string]any{"provider": "x"}}, map[string]any{
			"event.code": "T-0001", "event.provider": "x", "sshenrich.event": nil}},
		{"empty event map", map[string]any{"event": map[string]any{}}, map[string]any{"event.code": "T-0001"}},
		{"log as a string that is not the line", map[string]any{"log": "other text"}, map[string]any{
			"log.syslog.priority": int8(38), "sshenrich.original.log": "other text"}},
		{"user as a string, the line names another", map[string]any{"user": "alice"}, map[string]any{
			"user.name": "bob", "sshenrich.original.user": "alice"}},
		{"source as a string", map[string]any{"source": "collector"}, map[string]any{
			"source.ip": "192.0.2.1", "sshenrich.original.source": "collector"}},
		{"process map with pid", map[string]any{"process": map[string]any{"pid": 1}}, map[string]any{
			"process.pid": int8(1), "process.name": "sshd", "sshenrich.process.pid": int8(9)}},
		{"ecs map with its own version", map[string]any{"ecs": map[string]any{"version": "8.11.0"}}, map[string]any{
			"ecs.version": "8.11.0", "sshenrich.ecs.version": ECSVersion}},
		{"tags stay, the added ones go aside", map[string]any{"tags": []any{"mine"}}, map[string]any{
			"tags": []any{"mine"}, "sshenrich.tags": []any{"brute-force"}, "sshenrich.moved": []any{"tags"}}},
		{"a group the line does not write", map[string]any{"group": "wheel"}, map[string]any{
			"group": nil, "sshenrich.original.group": "wheel"}},
		{"a map of a group the line does not write", map[string]any{"destination": map[string]any{"port": 22}}, map[string]any{
			"destination.port": int8(22)}},
		{"two conflicts and a merge", map[string]any{"host": "h", "user": 7, "event": map[string]any{"outcome": "success"}}, map[string]any{
			"host.hostname": "web1", "user.name": "bob", "event.outcome": "success", "sshenrich.event.outcome": "failure",
			"sshenrich.original.host": "h", "sshenrich.original.user": int8(7), "sshenrich.moved": []any{"event.outcome"}}},
		{"unrelated keys untouched", map[string]any{"kubernetes": map[string]any{"pod": "p"}, "stream": "stderr"}, map[string]any{
			"kubernetes.pod": "p", "stream": "stderr", "sshenrich.original": nil}},
	}
	x := testEnricher(t, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := withOwnKeys(t, x, tt.body, line)
			for path, want := range tt.want {
				if got := dig(rec, path); !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %#v, want %#v", path, got, want)
				}
			}
		})
	}
}

// TestOwnKeysBrief: a group a brief record leaves out still gets the
// record's own map back unchanged.
func TestOwnKeysBrief(t *testing.T) {
	x := testEnricher(t, Options{Detail: DetailBrief})
	rec := withOwnKeys(t, x, map[string]any{"observer": map[string]any{"name": "fw1"}, "related": "x"},
		"2023/04/13 18:00:00 openvpn-vtun0 user01/198.51.100.7:12345 PUSH: Received control message: 'PUSH_REQUEST'")
	if dig(rec, "observer.name") != "fw1" || dig(rec, "observer.type") != nil || dig(rec, "sshenrich.original.related") != "x" || rec["related"] != nil {
		t.Errorf("%v", rec)
	}
}

// TestOwnKeysFlat: flat keys never meet a plain group name, so nothing
// is taken over; a key with a group's prefix moves that group.
func TestOwnKeysFlat(t *testing.T) {
	x := testEnricher(t, Options{Style: StyleFlat})
	rec := withOwnKeys(t, x, map[string]any{"host": "web01", "event": map[string]any{"code": "4625"}, "source_ip": "x"},
		"<38>Jun 16 07:37:30 web1 sshd[9]: Failed password for bob from 192.0.2.1 port 22 ssh2")
	for path, want := range map[string]any{
		"host": "web01", "host_hostname": "web1", "event.code": "4625", "event_code": "T-0001",
		"source_ip": "x", "sshenrich_source_ip": "192.0.2.1", "sshenrich_moved": "source", "sshenrich_original_host": nil,
	} {
		if got := dig(rec, path); !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", path, got, want)
		}
	}
}

func TestTakenRelease(t *testing.T) {
	var taken Taken
	if !taken.Add([]byte("log"), []byte{0xa1, 'x'}, StyleECS) {
		t.Fatal("a string log not taken over in ECS style")
	}
	if taken.Add([]byte("log"), []byte{0xa1, 'y'}, StyleECS) {
		t.Error("a repeated key taken over twice")
	}
	taken.Release([]byte("log"))
	if taken.orig[groupLog] != nil {
		t.Error("released member still taken")
	}
	if taken.Add([]byte("host"), []byte{0xa1, 'x'}, StyleFlat) {
		t.Error("a plain key taken over in flat style")
	}
}

// dig follows a dotted path through nested maps.
func dig(m map[string]any, path string) any {
	var v any = m
	start := 0
	for i := 0; i <= len(path); i++ {
		if i < len(path) && path[i] != '.' {
			continue
		}
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[path[start:i]]
		start = i + 1
	}
	return v
}

// TestOwnKeysHugeMap: a map of the record's own too big to take more
// members stays as it is, and the added members go aside.
func TestOwnKeysHugeMap(t *testing.T) {
	big := map[string]any{}
	for i := range 70000 {
		big["k"+strconv.Itoa(i)] = i
	}
	x := testEnricher(t, Options{})
	rec := withOwnKeys(t, x, map[string]any{"event": big}, "Failed password for bob from 192.0.2.1 port 22 ssh2")
	ev, _ := rec["event"].(map[string]any)
	if len(ev) != 70000 || dig(rec, "sshenrich.event.code") != "T-0001" {
		t.Errorf("event has %d members, sshenrich.event.code %v", len(ev), dig(rec, "sshenrich.event.code"))
	}
}

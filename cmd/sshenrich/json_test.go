package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestJSONInputGolden enriches the records of each input shape
// (testdata/json: the tail input as Fluent Bit's stdout output writes
// it, the syslog parsers and input, the systemd input with and without
// Strip_Underscores and Lowercase, journalctl -o json) and compares with
// the reviewed records in testdata/golden/json.
func TestJSONInputGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/json/*.jsonl")
	if err != nil || len(inputs) < 6 {
		t.Fatalf("inputs %v: %v", inputs, err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".jsonl")
		for _, variant := range []struct {
			suffix string
			args   []string
		}{
			{"", nil},
			{".flat", []string{"--style", "flat"}},
			{".keep-full", []string{"--keep-envelope-keys", "--detail", "full", "--event-original"}},
		} {
			t.Run(name+variant.suffix, func(t *testing.T) {
				args := append([]string{"enrich", "--input", "json", "--tz", "UTC", "--now", "2024-07-01T00:00:00Z"}, variant.args...)
				got, stderr, err := runCLI(t, "", append(args, in)...)
				if err != nil {
					t.Fatalf("enrich: %v\n%s", err, stderr)
				}
				for i, line := range strings.Split(strings.TrimSpace(got), "\n") {
					if !json.Valid([]byte(line)) {
						t.Fatalf("record %d is not JSON: %s", i+1, line)
					}
				}
				compareGolden(t, filepath.Join("testdata", "golden", "json", name+variant.suffix+".jsonl"), got)
			})
		}
	}
}

func compareGolden(t *testing.T, golden, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/sshenrich -update, then review the diff)", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("%s line %d differs:\n got %s\nwant %s", golden, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s: %d lines, want %d", golden, len(gl), len(wl))
	}
}

// TestJSONInputShapes holds the records of each shape to what the
// README promises, apart from the golden files.
func TestJSONInputShapes(t *testing.T) {
	in := strings.Join([]string{
		`{"date":1718523446.5,"log":"Jun 16 07:37:26 web01 sshd[4409]: Failed password for root from 203.0.113.45 port 50122 ssh2"}`,
		`{"pri":"38","host":"web01","ident":"sshd","pid":"4409","message":"Failed password for root from 203.0.113.45 port 50122 ssh2"}`,
		`{"_HOSTNAME":"web01","SYSLOG_IDENTIFIER":"sshd","_PID":"4409","PRIORITY":"6","MESSAGE":"Failed password for root from 203.0.113.45 port 50122 ssh2","_SYSTEMD_UNIT":"ssh.service"}`,
	}, "\n")
	out, stderr, err := runCLI(t, in, "enrich", "--input", "json", "--tz", "UTC", "--now", "2024-07-01T00:00:00Z")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	recs := decodeLines(t, out)
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	for i, want := range []map[string]any{
		{"date": 1718523446.5, "message": "Jun 16 07:37:26 web01 sshd[4409]: Failed password for root from 203.0.113.45 port 50122 ssh2", "log": nil, "host": map[string]any{"hostname": "web01"}},
		{"date": nil, "pri": "38", "host": map[string]any{"hostname": "web01"}, "ident": nil, "pid": nil},
		{"_HOSTNAME": nil, "SYSLOG_IDENTIFIER": nil, "_PID": nil, "PRIORITY": "6", "_SYSTEMD_UNIT": "ssh.service", "process": map[string]any{"name": "sshd", "pid": 4409.0}},
	} {
		for k, v := range want {
			if got := recs[i][k]; !reflect.DeepEqual(got, v) {
				t.Errorf("record %d: %s = %#v, want %#v", i+1, k, got, v)
			}
		}
		if code, _ := dotted(recs[i], "event.code").(string); code != "SSHD-0032" {
			t.Errorf("record %d: event.code %v", i+1, code)
		}
	}
}

// TestJSONInputBadLines: a line that is not one JSON object is named by
// file and line on stderr and skipped; the others are enriched, blank
// lines are no records, and the exit status says something was wrong.
func TestJSONInputBadLines(t *testing.T) {
	good := `{"log":"Invalid user x from 192.0.2.1 port 22"}`
	in := strings.Join([]string{
		good,
		`not json`,
		``,
		`[1,2,3]`,
		`"a string"`,
		`{"log":"x"} {"log":"y"}`,
		`{"log":"unterminated`,
		strings.Repeat(`{"a":`, 200) + `1` + strings.Repeat(`}`, 200),
		`null`,
		good,
	}, "\n") + "\n"
	dir := t.TempDir()
	file := filepath.Join(dir, "records.jsonl")
	if err := os.WriteFile(file, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runCLI(t, "", "enrich", "--input", "json", "--tz", "UTC", file)
	if err == nil || !strings.Contains(err.Error(), "7 input lines were not JSON objects") {
		t.Errorf("error %v", err)
	}
	if n := len(decodeLines(t, out)); n != 2 {
		t.Errorf("%d records for the 2 good lines", n)
	}
	for _, want := range []string{
		file + ":2: not JSON",
		file + ":4: not a JSON object: the line holds an array",
		file + ":5: not a JSON object: the line holds a string",
		file + ":6: not one JSON object: more follows it on the line",
		file + ":7: not JSON",
		file + ":8: values nested deeper than 100",
		file + ":9: not a JSON object: the line holds null",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, ":3:") || strings.Contains(stderr, ":1:") || strings.Contains(stderr, ":10:") {
		t.Errorf("a good or blank line reported:\n%s", stderr)
	}
}

// TestJSONInputDate: a numeric date is the event time, exact to the
// nanosecond; with time_from_log the line's whole date replaces it; a
// date that is not a number is an ordinary key.
func TestJSONInputDate(t *testing.T) {
	dated := "2024-06-17T01:00:00.123456789Z web1 sshd[1]: Invalid user x from 192.0.2.1 port 22"
	tests := []struct {
		name, in string
		args     []string
		want     string // the output's date member, "" when absent
	}{
		{"fraction kept exactly", `{"date":1718523450.000000001,"log":"Invalid user x from 192.0.2.1 port 22"}`, nil, `"date":1718523450.000000001`},
		{"integer date", `{"date":1718523450,"log":"Invalid user x from 192.0.2.1 port 22"}`, nil, `"date":1718523450`},
		{"the line's date wins", `{"date":1718523450,"log":"` + dated + `"}`, nil, `"date":1718586000.123456789`},
		{"time_from_log off", `{"date":1718523450,"log":"` + dated + `"}`, []string{"--time-from-log=false"}, `"date":1718523450`},
		{"no date, a dated line", `{"log":"` + dated + `"}`, nil, `"date":1718586000.123456789`},
		{"no date, an undated line", `{"log":"Invalid user x from 192.0.2.1 port 22"}`, nil, ``},
		{"a string date is a key", `{"date":"yesterday","log":"Invalid user x from 192.0.2.1 port 22"}`, nil, `"date":"yesterday"`},
		{"a negative date is a key", `{"date":-5,"log":"Invalid user x from 192.0.2.1 port 22"}`, nil, `"date":-5`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, err := runCLI(t, tt.in, append([]string{"enrich", "--input", "json", "--tz", "UTC", "--now", "2024-07-01T00:00:00Z"}, tt.args...)...)
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			if tt.want == "" {
				if strings.Contains(out, `"date"`) {
					t.Errorf("date written: %s", out)
				}
				return
			}
			if !strings.Contains(out, tt.want) || strings.Count(out, `"date"`) != 1 {
				t.Errorf("output lacks %s once: %s", tt.want, out)
			}
		})
	}
}

// TestLinesAreMessageRecords: --input lines writes, for each line, the
// record --input json writes for {"message": line} (less the date that a
// dated line gives): the two modes share the record writer, and the JSON
// mode the plugin's whole path.
func TestLinesAreMessageRecords(t *testing.T) {
	samples, _ := filepath.Glob("../../conf/samples/*.log")
	for _, s := range samples {
		data, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		var records []string
		for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			b, _ := json.Marshal(map[string]string{"message": line})
			records = append(records, string(b))
		}
		for _, detail := range []string{"full", "brief"} {
			args := []string{"enrich", "--tz", "UTC", "--now", "2024-07-01T00:00:00Z", "--detail", detail, "--lang", "both"}
			lines, _, err := runCLI(t, "", append(args, s)...)
			if err != nil {
				t.Fatal(err)
			}
			fromJSON, stderr, err := runCLI(t, strings.Join(records, "\n"), append(args, "--input", "json")...)
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			a, b := decodeLines(t, lines), decodeLines(t, fromJSON)
			if len(a) != len(b) {
				t.Fatalf("%s: %d records from lines, %d from JSON", s, len(a), len(b))
			}
			for i := range a {
				// The JSON mode also writes the event time a dated line
				// gives, and event.id, which identifies an input event:
				// a plain line has no event time or tag to derive it from.
				delete(b[i], "date")
				if ev, _ := b[i]["event"].(map[string]any); ev == nil || len(fmt.Sprint(ev["id"])) != 22 {
					t.Errorf("%s record %d: from JSON, no event.id of 22 characters: %v", filepath.Base(s), i+1, b[i]["event"])
				} else {
					delete(ev, "id")
				}
				if !reflect.DeepEqual(a[i], b[i]) {
					ja, _ := json.Marshal(a[i])
					jb, _ := json.Marshal(b[i])
					t.Errorf("%s record %d differs:\nlines %s\n json %s", filepath.Base(s), i+1, ja, jb)
				}
			}
		}
	}
}

func decodeLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %v: %s", err, line)
		}
		recs = append(recs, m)
	}
	return recs
}

func dotted(m map[string]any, path string) any {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// TestRecordFromJSONPacksShortest: records are packed as Fluent Bit's
// packer packs them, in the shortest forms, so that the CLI hashes the
// plugin's bytes for event.id.
func TestRecordFromJSONPacksShortest(t *testing.T) {
	var sixteen []string
	for i := range 16 {
		sixteen = append(sixteen, fmt.Sprintf(`"k%x":%d`, i, i))
	}
	for _, c := range []struct {
		json string
		want []byte
	}{
		{`{"a":1,"b":[1,-2],"c":{"d":200}}`, []byte{0x83, 0xa1, 'a', 1, 0xa1, 'b', 0x92, 1, 0xfe, 0xa1, 'c', 0x81, 0xa1, 'd', 0xcc, 200}},
		{`{"p":4409,"n":-200,"u":70000,"e":{},"l":[]}`, []byte{0x85, 0xa1, 'p', 0xcd, 0x11, 0x39, 0xa1, 'n', 0xd1, 0xff, 0x38, 0xa1, 'u', 0xce, 0, 1, 0x11, 0x70,
			0xa1, 'e', 0x80, 0xa1, 'l', 0x90}},
	} {
		got, _, _, _, err := recordFromJSON(nil, []byte(c.json))
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("%s: % x (%v), want % x", c.json, got, err, c.want)
		}
	}
	got, _, _, _, err := recordFromJSON(nil, []byte("{"+strings.Join(sixteen, ",")+"}"))
	if err != nil || len(got) < 3 || got[0] != 0xde || got[1] != 0 || got[2] != 16 || len(got) != 3+16*4 {
		t.Errorf("16 members: % x (%v)", got, err)
	}
}

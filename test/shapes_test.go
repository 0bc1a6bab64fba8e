package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// The records Fluent Bit's inputs and parsers make of sshd lines, as
// they reach the plugin. Values are strings, as regex parsers and the
// systemd input write them.
var inputShapes = []struct {
	name string
	body map[string]any
	code string
}{
	{"tail", map[string]any{"log": "Jun 16 07:37:26 web01 sshd[4409]: Failed password for invalid user admin from 203.0.113.45 port 50122 ssh2"}, "SSHD-0032"},
	{"tail, dated line", map[string]any{"log": "2024-06-16T16:37:27.5+09:00 web01 sshd-session[4410]: Accepted password for alice from 198.51.100.7 port 50200 ssh2", "stream": "stdout"}, "SSHD-0003"},
	// Fluent Bit's shipped syslog parsers have Time_Keep On: time stays.
	{"syslog-rfc3164 parser", map[string]any{"pri": "38", "time": "Jun 16 07:37:26", "host": "web01", "ident": "sshd", "pid": "4409",
		"message": "Failed password for root from 203.0.113.45 port 50122 ssh2"}, "SSHD-0032"},
	{"syslog-rfc5424 parser", map[string]any{"pri": "86", "time": "2024-06-16T07:37:26.25Z", "host": "web01", "ident": "sshd", "pid": "4412", "msgid": "-", "extradata": "-",
		"message": "Invalid user guest from 192.0.2.55 port 33022"}, "SSHD-0042"},
	{"syslog input", map[string]any{"pri": "38", "ident": "sshd", "pid": "4409", "message": "Connection closed by 192.0.2.10 port 40022 [preauth]"}, "SSHD-0007"},
	{"systemd input", map[string]any{"_HOSTNAME": "web01", "SYSLOG_IDENTIFIER": "sshd", "_PID": "4409", "PRIORITY": "6", "SYSLOG_FACILITY": "4", "_COMM": "sshd",
		"_SYSTEMD_UNIT": "ssh.service", "MESSAGE": "Accepted publickey for alice from 198.51.100.7 port 50200 ssh2"}, "SSHD-0003"},
	{"systemd input, Strip_Underscores", map[string]any{"HOSTNAME": "web01", "SYSLOG_IDENTIFIER": "sshd", "PID": "4409", "PRIORITY": "6", "COMM": "sshd",
		"MESSAGE": "Invalid user guest from 192.0.2.55 port 33022"}, "SSHD-0042"},
	{"systemd input, Lowercase", map[string]any{"_hostname": "web01", "syslog_identifier": "sshd", "_pid": "4409", "priority": "6", "_comm": "sshd",
		"message": "Invalid user guest from 192.0.2.55 port 33022"}, "SSHD-0042"},
	{"bad: host as a number", map[string]any{"message": "Invalid user guest from 192.0.2.55 port 33022", "host": 42}, "SSHD-0042"},
	{"bad: host as a map with hostname", map[string]any{"message": "Invalid user guest from 192.0.2.55 port 33022", "host": map[string]any{"hostname": "h1"}, "_HOSTNAME": "j1"}, "SSHD-0042"},
	{"bad: event as a string", map[string]any{"message": "Invalid user guest from 192.0.2.55 port 33022", "event": "login"}, "SSHD-0042"},
	{"bad: event as an array", map[string]any{"message": "Invalid user guest from 192.0.2.55 port 33022", "event": []any{"a", "b"}}, "SSHD-0042"},
	{"bad: event holding code", map[string]any{"message": "Invalid user guest from 192.0.2.55 port 33022", "event": map[string]any{"code": "4625"}}, ""},
}

// ecsObjectKeys are held as objects by an index with ECS mappings.
var ecsObjectKeys = []string{"event", "rule", "source", "destination", "user", "group", "process", "host", "observer", "log", "error", "network", "threat", "related", "ecs"}

// TestInputShapesEndToEnd flushes each shape through the host and holds
// the re-emitted records to three things: the line is classified with
// the record's envelope keys; in ECS style no key an ECS index holds as
// an object is anything else; and the CLI's --input json writes the
// very same record for the same input.
func TestInputShapesEndToEnd(t *testing.T) {
	build(t)
	dir := t.TempDir()
	const sec, nsec = 1718523450, 123
	var chunkData []byte
	var jsonLines []string
	for _, sh := range inputShapes {
		chunkData = append(chunkData, v2(eventTime(sec, nsec), mp(map[string]any{}), packedLikeFluentBit(t, sh.body))...)
		rec := map[string]any{"date": json.Number(fmt.Sprintf("%d.%09d", sec, nsec))}
		for k, v := range sh.body {
			rec[k] = v
		}
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		jsonLines = append(jsonLines, string(b))
	}
	raw := filepath.Join(dir, "shapes.bin")
	if err := os.WriteFile(raw, chunkData, 0o644); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "shapes.jsonl")
	if err := os.WriteFile(in, []byte(strings.Join(jsonLines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, variant := range []struct {
		name  string
		props []string
		flags []string
	}{
		{"ecs brief", nil, nil},
		{"flat brief", []string{"output_style=flat"}, []string{"--style", "flat"}},
		{"ecs full, envelope keys kept, event.original", []string{"detail=full", "keep_envelope_keys=on", "event_original=on"},
			[]string{"--detail", "full", "--keep-envelope-keys", "--event-original"}},
	} {
		t.Run(variant.name, func(t *testing.T) {
			args := []string{"-p", "emit=stdout", "-p", "time_zone=UTC", "-r", raw, "-T", "ssh.raw"}
			for _, p := range variant.props {
				args = append(args, "-p", p)
			}
			r := runHost(t, 60*time.Second, args...)
			if r.exit != 0 {
				t.Fatalf("host exit %d\n%s", r.exit, r.stderr)
			}
			type hostRecord struct {
				Time   string
				Record map[string]any
			}
			var fromHost []hostRecord
			for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
				var h hostRecord
				if err := unmarshalNumbers(l, &h); err != nil {
					t.Fatalf("host output: %v: %s", err, l)
				}
				fromHost = append(fromHost, h)
			}
			// With the chunk's tag, the CLI derives the plugin's event.id.
			cli := exec.Command(artifacts.cli, append(append([]string{"enrich", "--input", "json", "--tz", "UTC", "--tag", "ssh.raw"}, variant.flags...), in)...)
			out, err := cli.Output()
			if err != nil {
				t.Fatalf("CLI: %v", err)
			}
			var fromCLI []map[string]any
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				var m map[string]any
				if err := unmarshalNumbers(l, &m); err != nil {
					t.Fatalf("CLI output: %v: %s", err, l)
				}
				fromCLI = append(fromCLI, m)
			}
			if len(fromHost) != len(inputShapes) || len(fromCLI) != len(inputShapes) {
				t.Fatalf("%d records from the plugin, %d from the CLI, for %d inputs", len(fromHost), len(fromCLI), len(inputShapes))
			}
			flat := strings.Contains(variant.name, "flat")
			for i, sh := range inputShapes {
				got, cliRec := fromHost[i].Record, fromCLI[i]
				code, id := path(got, "event", "code"), path(got, "event", "id")
				if flat {
					code, id = got["event_code"], got["event_id"]
				}
				if s, _ := id.(string); len(s) != 22 {
					t.Errorf("%s: event.id %v, want 22 characters", sh.name, id)
				}
				if want := sh.code; want != "" && code != want {
					t.Errorf("%s: event.code %v, want %s", sh.name, code, want)
				}
				if !flat {
					for _, k := range ecsObjectKeys {
						if v, ok := got[k]; ok {
							if _, isMap := v.(map[string]any); !isMap {
								t.Errorf("%s: %s is %v: an ECS index refuses the record", sh.name, k, v)
							}
						}
					}
				}
				// The plugin's time, and the CLI's date, are the line's
				// own when it has a whole date, the input's otherwise.
				hostTime, err := time.Parse(time.RFC3339Nano, fromHost[i].Time)
				if err != nil {
					t.Fatal(err)
				}
				if date, _ := cliRec["date"].(json.Number); string(date) != trimFraction(hostTime) {
					t.Errorf("%s: the CLI's date %s, the plugin's time %s", sh.name, date, fromHost[i].Time)
				}
				delete(cliRec, "date")
				// event.ingested is when each processed it.
				for _, rec := range []map[string]any{got, cliRec} {
					if ev, ok := rec["event"].(map[string]any); ok {
						delete(ev, "ingested")
					}
				}
				if !reflect.DeepEqual(got, cliRec) {
					a, _ := json.Marshal(got)
					b, _ := json.Marshal(cliRec)
					t.Errorf("%s: the plugin and the CLI differ:\nplugin %s\n   CLI %s", sh.name, a, b)
				}
			}
		})
	}
}

// packedLikeFluentBit packs a record as Fluent Bit's packer does (the
// shortest forms), with its keys in the order json.Marshal writes them,
// so that the CLI, reading the JSON, hashes the same bytes for event.id.
func packedLikeFluentBit(t *testing.T, body map[string]any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := msgpack.NewEncoder(&b)
	enc.SetSortMapKeys(true)
	enc.UseCompactInts(true)
	if err := enc.Encode(body); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// unmarshalNumbers decodes JSON keeping numbers as written.
func unmarshalNumbers(s string, v any) error {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	return d.Decode(v)
}

// trimFraction writes a time as the CLI writes a date: seconds, and the
// fraction without trailing zeros.
func trimFraction(t time.Time) string {
	s := fmt.Sprintf("%d", t.Unix())
	if t.Nanosecond() == 0 {
		return s
	}
	return s + "." + strings.TrimRight(fmt.Sprintf("%09d", t.Nanosecond()), "0")
}

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"testing"
)

// FuzzJSONInput feeds arbitrary lines to --input json. A line is either
// enriched into JSON records or refused with an error; it never panics.
func FuzzJSONInput(f *testing.F) {
	for _, seed := range []string{
		`{"date":1718523446.5,"log":"Jun 16 07:37:26 web01 sshd[4409]: Failed password for root from 203.0.113.45 port 50122 ssh2"}`,
		`{"pri":"38","host":"web01","ident":"sshd","pid":"4409","message":"Invalid user x from 192.0.2.1 port 22"}`,
		`{"_HOSTNAME":"j1","MESSAGE":[1,2,3],"event":{"code":1},"host":42}`,
		`{"log":"> show ssh logging\nDate 2024/06/16 08:00:00 UTC\n2024/06/16 07:37:31 sshd[1] Accepted password for a from 10.0.0.1 port 1\n"}`,
		`{"date":"x","date":1e400,"sshenrich":{}}`, `[1]`, `{`, `{"a":1}{"b":2}`, `{"a":18446744073709551615,"b":-1.5e-300}`,
	} {
		f.Add([]byte(seed))
	}
	o := enrichOptions{style: "ecs", lang: "both", tz: "UTC", now: "2024-07-01T00:00:00Z", detail: "full", actionMin: "notice",
		maskUser: "off", maskIP: "off", messageKey: "log", timeFromLog: true}
	var out bytes.Buffer
	j, err := o.jsonEnricher(bufio.NewWriter(&out), io.Discard)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		out.Reset()
		j.out.Reset(&out)
		if err := j.record(line); err != nil {
			return
		}
		if err := j.out.Flush(); err != nil {
			t.Fatal(err)
		}
		for _, rec := range bytes.Split(bytes.TrimSuffix(out.Bytes(), []byte("\n")), []byte("\n")) {
			if !json.Valid(rec) {
				t.Fatalf("not JSON: %s", rec)
			}
		}
	})
}

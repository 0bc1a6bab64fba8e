package record

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// TestMsgpackMatchesJSON: the plugin's msgpack and the CLI's JSON are the
// same record, for every sample line in both styles, also when the
// fragment cache replays an entry's static fields (the second pass).
func TestMsgpackMatchesJSON(t *testing.T) {
	samples, _ := filepath.Glob("../../conf/samples/*.log")
	if len(samples) == 0 {
		t.Fatal("no samples")
	}
	var lines []string
	for _, s := range samples {
		f, err := os.Open(s)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		f.Close()
	}
	for _, style := range []Style{StyleECS, StyleFlat} {
		x := builtinEnricher(t, Options{Style: style, Lang: LangBoth})
		for pass := range 2 {
			for _, line := range lines {
				ev := x.Classify([]byte(line))
				var j JSON
				j.Reset()
				j.Buf = append(j.Buf, '{')
				x.Write(&j, ev, nil)
				j.Buf = append(j.Buf, '}')
				var fromJSON map[string]any
				if err := json.Unmarshal(j.Buf, &fromJSON); err != nil {
					t.Fatalf("%q: %v", line, err)
				}
				var m Msgpack
				m.Reset()
				n := x.Write(&m, ev, nil)
				body := append(AppendMapHeader(nil, n), m.Buf...)
				var fromMsgpack map[string]any
				if err := msgpack.Unmarshal(body, &fromMsgpack); err != nil {
					t.Fatalf("%q: %v", line, err)
				}
				// Compare through JSON, which erases msgpack's integer widths.
				b, _ := json.Marshal(fromMsgpack)
				var norm map[string]any
				_ = json.Unmarshal(b, &norm)
				if !reflect.DeepEqual(norm, fromJSON) {
					t.Fatalf("style %d pass %d, %q:\nmsgpack %s\njson    %s", style, pass, line, b, j.Buf)
				}
			}
		}
	}
}

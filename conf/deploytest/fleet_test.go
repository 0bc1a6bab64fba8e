package deploytest

import (
	"testing"

	"github.com/sshenrich/sshenrich/correlate"
)

// TestFleetConfigs: the node and aggregator configurations of a fleet
// (docs/correlation.md, Fleets) pass the pipeline checks, and split the
// work: the node follows sessions and leaves the alerts, the aggregator
// raises the alerts from the nodes' records.
func TestFleetConfigs(t *testing.T) {
	tests := []struct {
		file             string
		sessions, alerts bool
		tagPrefix        string
	}{
		{"conf/fleet/node.conf", true, false, "enriched."},
		{"conf/fleet/aggregator.conf", false, true, "correlated."},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			files := Files{
				"/etc/fb/fluent-bit.conf":              read(t, tt.file),
				"/etc/fb/plugins.conf":                 read(t, "conf/plugins.conf"),
				"/usr/lib/fluent-bit/out_sshenrich.so": nil,
			}
			cfg, err := LoadFluentBit(files, "/etc/fb/fluent-bit.conf", "/etc/fb")
			if err != nil {
				t.Fatal(err)
			}
			p, errs := CheckPipeline(cfg, Runtime{Env: map[string]string{"SSHENRICH_AGGREGATOR": "aggregator.example.net"}, Files: files, TempDir: t.TempDir()})
			noErrors(t, tt.file, errs)
			if len(p.Sshenrich) != 1 {
				t.Fatalf("%d sshenrich outputs", len(p.Sshenrich))
			}
			for _, c := range p.Sshenrich {
				k := c.Correlation
				if !k.Enabled || k.Sessions != tt.sessions || k.Alerts != tt.alerts || k.Dedup != correlate.DedupMark || c.TagPrefix != tt.tagPrefix {
					t.Errorf("correlation %+v, tag_prefix %q", k, c.TagPrefix)
				}
			}
		})
	}
}

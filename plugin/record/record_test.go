package record

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/sshenrich/sshenrich/rules"
)

const testRules = `
capture: host
type: host
field: source.host

capture: port
type: port
field: source.port

capture: user
type: user
field: user.name

capture: authentication method
type: word
field: auth_method

capture: their offer
type: list
field: their_offer

capture: push options
type: rest
field: push_reply
kind: push_reply

capture: status
type: int
field: status

capture: packet
type: rest
field: -

group: invalid user
field: invalid_user
kind: bool

family: openssh
programs: sshd

family: openvpn
programs: openvpn*

family: firewall
programs: kernel

code: T-0001
name: login-failed
family: openssh
category: authentication
event.category: authentication
event.type: start
event.outcome: failure
event.action: ssh-login
severity: warning
attack: T1110.001
tags: brute-force
source: test
template: Failed <authentication method> for [invalid user] <user> from <host> port <port> [ssh2]
description.en: A login failed.
description.ja: ログインに失敗しました。
remediation.en: Check the source.
remediation.ja: 接続元を確認してください。
remediation.ax.en: Check the switch.
remediation.ax.ja: スイッチを確認してください。

code: T-0002
name: negotiation
family: openssh
category: negotiation
event.category: network
event.type: protocol
event.outcome: failure
severity: warning
source: test
template: Unable to negotiate with <host> port <port>: no matching cipher found. Their offer: <their offer>
description.en: No common cipher.
remediation.en: Update the client.

code: T-0003
name: push-reply
family: openvpn
category: vpn-tunnel
event.category: network
event.type: info
event.outcome: success
severity: info
source: test
template: SENT CONTROL \[<user>\]: 'PUSH_REPLY,<push options>' (status=<status>)
description.en: Options pushed.
remediation.en: None.

code: T-0004
name: fw-reject
family: firewall
category: firewall
event.category: network
event.type: denied
event.outcome: failure
severity: notice
source: test
template: filter_IN_public_REJECT: <packet>
description.en: Rejected.
remediation.en: Check the firewall.
`

func testEnricher(t *testing.T, opts Options) *Enricher {
	t.Helper()
	cat, err := rules.Compile(rules.Source{Name: "test.rules", Data: []byte(testRules)})
	if err != nil {
		t.Fatal(err)
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	x := New(cat, opts)
	x.SetNow(time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC))
	return x
}

// enrichJSON runs one line and returns the added fields as a JSON object.
func enrichJSON(x *Enricher, line string, taken *Taken) string {
	var j JSON
	j.Reset()
	j.Buf = append(j.Buf, '{')
	x.Write(&j, x.Classify([]byte(line)), taken)
	j.Buf = append(j.Buf, '}')
	return string(j.Buf)
}

func sameJSON(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expectation: %v", err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Errorf("\n got %s\nwant %s", gb, wb)
	}
}

func TestWriteECS(t *testing.T) {
	tests := []struct {
		name, line string
		opts       Options
		want       string
	}{
		{
			name: "failed login over syslog",
			line: "<38>Jun 16 07:37:30 web1 sshd[4409]: Failed password for invalid user admin from ::ffff:203.0.113.9 port 50022 ssh2 [preauth]",
			want: `{"ecs":{"version":"9.5.0-dev"},"event":{"ingested":"2024-07-01T00:00:00Z","kind":"event","code":"T-0001","category":["authentication"],"type":["start"],"action":"ssh-login","outcome":"failure","severity":4,"dataset":"sshenrich.openssh"},
				"rule":{"id":"T-0001","name":"login-failed","category":"authentication","ruleset":"sshenrich","description":"A login failed.","reference":"test"},
				"source":{"ip":"203.0.113.9","port":50022},"user":{"name":"admin"},"process":{"name":"sshd","pid":4409},"host":{"hostname":"web1"},
				"log":{"syslog":{"facility":{"name":"auth","code":4},"severity":{"name":"info","code":6},"priority":38}},
				"network":{"protocol":"ssh"},
				"threat":{"framework":"MITRE ATT&CK","technique":{"id":["T1110"],"subtechnique":{"id":["T1110.001"]}}},
				"tags":["brute-force"],"related":{"ip":["203.0.113.9"],"user":["admin"]},
				"sshenrich":{"envelope":"rfc3164","platform":"linux","timestamp":"2024-06-16T07:37:30Z","family":"openssh","severity":"warning","remediation":"Check the source.",
					"auth_method":"password","invalid_user":true,"preauth":true}}`,
		},
		{
			name: "ax platform remediation in Japanese, host name source",
			line: "2024/06/16 07:37:26 sshd[4409] Failed none for staff from sw-admin.example.net port 4226",
			opts: Options{Lang: LangJA},
			want: `{"ecs":{"version":"9.5.0-dev"},"event":{"ingested":"2024-07-01T00:00:00Z","kind":"event","code":"T-0001","category":["authentication"],"type":["start"],"action":"ssh-login","outcome":"failure","severity":4,"dataset":"sshenrich.openssh"},
				"rule":{"id":"T-0001","name":"login-failed","category":"authentication","ruleset":"sshenrich","description":"ログインに失敗しました。","reference":"test"},
				"source":{"domain":"sw-admin.example.net","port":4226},"user":{"name":"staff"},"process":{"name":"sshd","pid":4409},
				"observer":{"type":"switch"},"network":{"protocol":"ssh"},
				"threat":{"framework":"MITRE ATT&CK","technique":{"id":["T1110"],"subtechnique":{"id":["T1110.001"]}}},
				"tags":["brute-force"],"related":{"user":["staff"],"hosts":["sw-admin.example.net"]},
				"sshenrich":{"envelope":"ax","platform":"ax","timestamp":"2024-06-16T07:37:26Z","family":"openssh","severity":"warning","remediation":"スイッチを確認してください。",
					"auth_method":"none"}}`,
		},
		{
			name: "both languages, redacted host, bad host dropped",
			line: "Failed password for root from port 22",
			opts: Options{Lang: LangBoth},
			want: `{"ecs":{"version":"9.5.0-dev"},"event":{"ingested":"2024-07-01T00:00:00Z","kind":"event","code":"T-0001","category":["authentication"],"type":["start"],"action":"ssh-login","outcome":"failure","severity":4,"dataset":"sshenrich.openssh"},
				"rule":{"id":"T-0001","name":"login-failed","category":"authentication","ruleset":"sshenrich","description":"A login failed.","reference":"test"},
				"source":{"port":22},"user":{"name":"root"},"network":{"protocol":"ssh"},
				"threat":{"framework":"MITRE ATT&CK","technique":{"id":["T1110"],"subtechnique":{"id":["T1110.001"]}}},
				"tags":["brute-force"],"related":{"user":["root"]},
				"sshenrich":{"envelope":"bare","family":"openssh","severity":"warning","remediation":"Check the source.","description_ja":"ログインに失敗しました。","remediation_ja":"接続元を確認してください。",
					"auth_method":"password","host_elided":true}}`,
		},
		{
			name: "list capture and missing Japanese falls back to English",
			line: "Unable to negotiate with 192.0.2.5 port 1022: no matching cipher found. Their offer: 3des-cbc,aes128-cbc",
			opts: Options{Lang: LangJA},
			want: `{"ecs":{"version":"9.5.0-dev"},"event":{"ingested":"2024-07-01T00:00:00Z","kind":"event","code":"T-0002","category":["network"],"type":["protocol"],"action":"negotiation","outcome":"failure","severity":4,"dataset":"sshenrich.openssh"},
				"rule":{"id":"T-0002","name":"negotiation","category":"negotiation","ruleset":"sshenrich","description":"No common cipher.","reference":"test"},
				"source":{"ip":"192.0.2.5","port":1022},"network":{"protocol":"ssh"},"related":{"ip":["192.0.2.5"]},
				"sshenrich":{"envelope":"bare","family":"openssh","severity":"warning","remediation":"Update the client.","their_offer":["3des-cbc","aes128-cbc"]}}`,
		},
		{
			name: "push reply through the vpn gateway",
			line: "2023/04/13 18:00:00 openvpn-vtun0 user01/198.51.100.7:12345 SENT CONTROL [user01]: 'PUSH_REPLY,route 192.168.10.0 255.255.255.0,route-gateway 10.8.0.1,topology subnet,ping 10,ping-restart 60,ifconfig 10.8.0.6 255.255.255.0,peer-id 0,cipher AES-256-GCM,dhcp-option DNS 10.8.0.1' (status=1)",
			want: `{"ecs":{"version":"9.5.0-dev"},"event":{"ingested":"2024-07-01T00:00:00Z","kind":"event","code":"T-0003","category":["network"],"type":["info"],"action":"push-reply","outcome":"success","severity":6,"dataset":"sshenrich.openvpn"},
				"rule":{"id":"T-0003","name":"push-reply","category":"vpn-tunnel","ruleset":"sshenrich","description":"Options pushed.","reference":"test"},
				"source":{"ip":"198.51.100.7","port":12345},"user":{"name":"user01"},"observer":{"type":"vpn"},"network":{"protocol":"openvpn"},
				"related":{"ip":["198.51.100.7"],"user":["user01"]},
				"sshenrich":{"envelope":"vpn-gateway","platform":"vpn-gateway","timestamp":"2023-04-13T18:00:00Z","family":"openvpn","severity":"info","remediation":"None.",
					"route_gateway":"10.8.0.1","topology":"subnet","ping":10,"ping_restart":60,"pool_ip":"10.8.0.6","pool_netmask":"255.255.255.0","peer_id":0,"cipher":"AES-256-GCM",
					"vpn_routes":[{"network":"192.168.10.0","netmask":"255.255.255.0"}],"dns_servers":["10.8.0.1"],"status":1,"tunnel":"openvpn-vtun0"}}`,
		},
		{
			name: "firewall packet fields",
			line: "Jul 19 19:21:07 vbox kernel: filter_IN_public_REJECT: IN=enp0s8 OUT= SRC=192.168.11.115 DST=192.168.11.108 LEN=64 PROTO=TCP SPT=62290 DPT=22 URGP=0",
			want: `{"ecs":{"version":"9.5.0-dev"},"event":{"ingested":"2024-07-01T00:00:00Z","kind":"event","code":"T-0004","category":["network"],"type":["denied"],"action":"fw-reject","outcome":"failure","severity":5,"dataset":"sshenrich.firewall"},
				"rule":{"id":"T-0004","name":"fw-reject","category":"firewall","ruleset":"sshenrich","description":"Rejected.","reference":"test"},
				"source":{"ip":"192.168.11.115","port":62290},"destination":{"ip":"192.168.11.108","port":22},"process":{"name":"kernel"},"host":{"hostname":"vbox"},
				"network":{"transport":"tcp"},"related":{"ip":["192.168.11.115","192.168.11.108"]},
				"sshenrich":{"envelope":"rfc3164","platform":"linux","timestamp":"2023-07-19T19:21:07Z","family":"firewall","severity":"notice","remediation":"Check the firewall.",
					"fw_prefix":"filter_IN_public_REJECT:","fw_in":"enp0s8"}}`,
		},
		{
			name: "unclassified keeps its envelope",
			line: "Jun 16 07:37:30 web1 CRON[77]: (root) CMD (run-parts /etc/cron.hourly)",
			want: `{"ecs":{"version":"9.5.0-dev"},"event":{"ingested":"2024-07-01T00:00:00Z","kind":"event","code":"UNCLASSIFIED","outcome":"unknown","dataset":"sshenrich.unclassified"},
				"process":{"name":"CRON","pid":77},"host":{"hostname":"web1"},
				"sshenrich":{"envelope":"rfc3164","platform":"linux","timestamp":"2024-06-16T07:37:30Z","unclassified_reason":"no_match"}}`,
		},
		{
			name: "empty line",
			line: "   ",
			want: `{"ecs":{"version":"9.5.0-dev"},"event":{"ingested":"2024-07-01T00:00:00Z","kind":"event","code":"UNCLASSIFIED","outcome":"unknown","dataset":"sshenrich.unclassified"},"sshenrich":{"envelope":"bare","unclassified_reason":"empty"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := testEnricher(t, tt.opts)
			sameJSON(t, enrichJSON(x, tt.line, nil), tt.want)
		})
	}
}

func TestWriteFlat(t *testing.T) {
	x := testEnricher(t, Options{Style: StyleFlat})
	got := enrichJSON(x, "<38>Jun 16 07:37:30 web1 sshd[4409]: Failed password for invalid user admin from 203.0.113.9 port 50022 ssh2", nil)
	sameJSON(t, got, `{"event_ingested":"2024-07-01T00:00:00Z","event_kind":"event","event_code":"T-0001","event_category":"authentication","event_type":"start","event_action":"ssh-login","event_outcome":"failure","event_severity":4,"event_dataset":"sshenrich.openssh",
		"rule_id":"T-0001","rule_name":"login-failed","rule_category":"authentication","rule_ruleset":"sshenrich","rule_description":"A login failed.","rule_reference":"test",
		"source_ip":"203.0.113.9","source_port":50022,"user_name":"admin","process_name":"sshd","process_pid":4409,"host_hostname":"web1",
		"log_syslog_facility_name":"auth","log_syslog_facility_code":4,"log_syslog_severity_name":"info","log_syslog_severity_code":6,"log_syslog_priority":38,
		"network_protocol":"ssh","threat_framework":"MITRE ATT&CK","threat_technique_id":"T1110","threat_technique_subtechnique_id":"T1110.001",
		"tags":"brute-force","related_ip":"203.0.113.9","related_user":"admin",
		"sshenrich_envelope":"rfc3164","sshenrich_platform":"linux","sshenrich_timestamp":"2024-06-16T07:37:30Z","sshenrich_family":"openssh","sshenrich_severity":"warning",
		"sshenrich_remediation":"Check the source.","sshenrich_auth_method":"password","sshenrich_invalid_user":true}`)

	var taken Taken
	taken.Add([]byte("source_ip"), []byte{0xa1, 'x'}, StyleFlat)
	got = enrichJSON(x, "Failed password for bob from 192.0.2.1 port 22", &taken)
	var m map[string]any
	if err := json.Unmarshal([]byte(got), &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["source_ip"]; ok {
		t.Errorf("flat source_ip written although the record has it: %s", got)
	}
	if m["sshenrich_source_ip"] != "192.0.2.1" || m["sshenrich_moved"] != "source" {
		t.Errorf("flat source group not moved under sshenrich: %s", got)
	}
}

func TestTakenMarksEnriched(t *testing.T) {
	for _, k := range []string{"sshenrich", "sshenrich_envelope", "sshenrich_family"} {
		var taken Taken
		taken.Add([]byte(k), []byte{0x80}, StyleECS)
		if !taken.Enriched() {
			t.Errorf("key %q does not mark the record as enriched", k)
		}
	}
	var taken Taken
	taken.Add([]byte("eventually"), []byte{0x80}, StyleFlat)
	taken.Add([]byte("sourcefoo"), []byte{0x80}, StyleFlat)
	taken.Add([]byte("sshenrichment"), []byte{0x80}, StyleFlat)
	if taken.Enriched() {
		t.Errorf("a key that only starts like sshenrich marks the record as enriched")
	}
	if taken.groups != 0 {
		t.Errorf("keys that only share a prefix taken: %b", taken.groups)
	}
}

func TestInvalidUTF8(t *testing.T) {
	x := testEnricher(t, Options{})
	line := "Failed password for invalid user \xff\xfeadm from 192.0.2.1 port 22 ssh2"
	got := enrichJSON(x, line, nil)
	var m struct {
		User      struct{ Name string }
		Sshenrich struct {
			InvalidUTF8 bool `json:"invalid_utf8"`
		}
	}
	if err := json.Unmarshal([]byte(got), &m); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if m.User.Name != "\ufffd\ufffdadm" || !m.Sshenrich.InvalidUTF8 {
		t.Errorf("invalid UTF-8 not repaired and flagged: %s", got)
	}
	var mp Msgpack
	x.Write(&mp, x.Classify([]byte(line)), nil)
	if bytes.Contains(mp.Buf, []byte("\xff")) {
		t.Errorf("msgpack output keeps invalid UTF-8")
	}
}

func TestJSONEscapes(t *testing.T) {
	var j JSON
	j.Reset()
	j.Buf = append(j.Buf, '{')
	j.Key("k")
	j.String("q\"b\\n\n\t\x01\u2028é")
	j.Buf = append(j.Buf, '}')
	var m map[string]string
	if err := json.Unmarshal(j.Buf, &m); err != nil || m["k"] != "q\"b\\n\n\t\x01\u2028é" {
		t.Errorf("round trip failed: %s (%v)", j.Buf, err)
	}
}

func TestClassifyHost(t *testing.T) {
	tests := []struct {
		in   string
		typ  rules.Type
		ip   string
		name string
	}{
		{"192.0.2.1", rules.TypeHost, "192.0.2.1", ""},
		{"::ffff:192.0.2.1", rules.TypeHost, "192.0.2.1", ""},
		{"2001:db8::1", rules.TypeHost, "2001:db8::1", ""},
		{"fe80::1%eth0", rules.TypeHost, "fe80::1%eth0", ""},
		{"host.example.com", rules.TypeHost, "", "host.example.com"},
		{"host.example.com", rules.TypeIP, "", ""},
		{"UNKNOWN", rules.TypeHost, "", ""},
		{"999.1.1.1", rules.TypeHost, "", ""},
		{"-bad.example", rules.TypeHost, "", ""},
		{"1234", rules.TypeHost, "", ""},
		{"", rules.TypeHost, "", ""},
	}
	for _, tt := range tests {
		h := classifyHost([]byte(tt.in), tt.typ)
		ip := ""
		if h.ip.IsValid() {
			ip = h.ip.String()
		}
		if ip != tt.ip || string(h.domain) != tt.name {
			t.Errorf("classifyHost(%q) = ip %q name %q, want %q %q", tt.in, ip, h.domain, tt.ip, tt.name)
		}
	}
}

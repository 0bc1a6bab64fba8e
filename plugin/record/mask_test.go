package record

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
)

var testMaskKey = []byte("0123456789abcdef-test-key")

// pseudonymOf is the documented user pseudonym: "u-" and the first 8
// bytes of HMAC-SHA256(key, name) in hex.
func pseudonymOf(key []byte, prefix, v string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(v))
	return prefix + hex.EncodeToString(m.Sum(nil)[:8])
}

// maskedRecord enriches line with mask and returns the record as a map
// and the masked line (empty when the line is not rewritten).
func maskedRecord(t *testing.T, mask Mask, line string) (map[string]any, string) {
	t.Helper()
	x := builtinEnricher(t, Options{Style: StyleECS, Mask: mask})
	ev := x.Classify([]byte(line))
	if !ev.Classified() {
		t.Fatalf("not classified: %q", line)
	}
	masked := string(x.MaskedLine(ev))
	var j JSON
	j.Reset()
	j.Buf = append(j.Buf, '{')
	x.Write(&j, ev, nil)
	j.Buf = append(j.Buf, '}')
	var m map[string]any
	if err := json.Unmarshal(j.Buf, &m); err != nil {
		t.Fatalf("%v: %s", err, j.Buf)
	}
	return m, masked
}

// field follows a dotted path through nested maps.
func field(m map[string]any, path string) any {
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

func TestMask(t *testing.T) {
	hmacAll := Mask{User: MaskHMAC, IP: MaskHMAC, Key: testMaskKey, Message: true}
	prefix := Mask{IP: MaskPrefix, Message: true}
	tests := []struct {
		name   string
		mask   Mask
		line   string
		want   map[string]any // path -> value; nil means absent
		line2  string         // the masked line; "" when not rewritten
		absent []string       // substrings that must not appear in the record
	}{{
		name: "user hmac, ip off",
		mask: Mask{User: MaskHMAC, Key: testMaskKey},
		line: "Jun 16 07:37:30 web1 sshd[4409]: Failed password for invalid user hunter2 from 203.0.113.77 port 51234 ssh2",
		want: map[string]any{
			"user.name":             pseudonymOf(testMaskKey, "u-", "hunter2"),
			"related.user":          []any{pseudonymOf(testMaskKey, "u-", "hunter2")},
			"source.ip":             "203.0.113.77",
			"source.port":           float64(51234),
			"event.code":            "SSHD-0032",
			"event.outcome":         "failure",
			"sshenrich.auth_method": "password",
		},
		absent: []string{"hunter2"},
	}, {
		name: "ipv4 prefix and line",
		mask: prefix,
		line: "Jun 16 07:37:30 web1 sshd[4409]: Failed password for root from 203.0.113.77 port 51234 ssh2",
		want: map[string]any{
			"user.name":  "root",
			"source.ip":  "203.0.113.0",
			"related.ip": []any{"203.0.113.0"},
		},
		line2:  "Jun 16 07:37:30 web1 sshd[4409]: Failed password for root from 203.0.113.0 port 51234 ssh2",
		absent: []string{"203.0.113.77"},
	}, {
		name: "ipv6 prefix",
		mask: prefix,
		line: "Jun 16 07:37:30 web1 sshd[4409]: Accepted password for alice from 2001:db8:1:2::5 port 2222 ssh2",
		want: map[string]any{
			"user.name": "alice",
			"source.ip": "2001:db8:1::",
		},
		line2: "Jun 16 07:37:30 web1 sshd[4409]: Accepted password for alice from 2001:db8:1:: port 2222 ssh2",
	}, {
		name: "host name keeps its parent domain",
		mask: prefix,
		line: "Jun 16 07:37:30 web1 sshd[4409]: reverse mapping checking getaddrinfo for pc-17.dsl.example.net [198.51.100.4] failed - POSSIBLE BREAK-IN ATTEMPT!",
		want: map[string]any{
			"source.ip":          "198.51.100.0",
			"sshenrich.ptr_name": "dsl.example.net",
		},
		line2:  "Jun 16 07:37:30 web1 sshd[4409]: reverse mapping checking getaddrinfo for dsl.example.net [198.51.100.0] failed - POSSIBLE BREAK-IN ATTEMPT!",
		absent: []string{"pc-17", "198.51.100.4"},
	}, {
		name: "hmac: users and addresses everywhere, pam extras too",
		mask: hmacAll,
		line: "Jun 16 07:37:30 web1 sshd[4409]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser=mallory rhost=198.51.100.4  user=root",
		want: map[string]any{
			"user.name":           pseudonymOf(testMaskKey, "u-", "root"),
			"sshenrich.pam_ruser": pseudonymOf(testMaskKey, "u-", "mallory"),
		},
		absent: []string{"mallory", "198.51.100.4", `"root"`},
	}, {
		name: "openvpn pool address",
		mask: Mask{IP: MaskPrefix},
		line: "Jun 16 07:37:30 vpn1 openvpn[812]: client1/203.0.113.9:1194 MULTI_sva: pool returned IPv4=10.8.0.6, IPv6=(Not enabled)",
		want: map[string]any{
			"sshenrich.pool_ip": "10.8.0.0",
			"source.ip":         "203.0.113.0",
		},
		absent: []string{"10.8.0.6", "203.0.113.9"},
	}, {
		name: "off leaves everything",
		mask: Mask{},
		line: "Jun 16 07:37:30 web1 sshd[4409]: Failed password for root from 203.0.113.77 port 51234 ssh2",
		want: map[string]any{"user.name": "root", "source.ip": "203.0.113.77"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, line := maskedRecord(t, tt.mask, tt.line)
			for path, want := range tt.want {
				got, _ := json.Marshal(field(rec, path))
				w, _ := json.Marshal(want)
				if string(got) != string(w) {
					t.Errorf("%s = %s, want %s", path, got, w)
				}
			}
			if tt.line2 != "" && line != tt.line2 {
				t.Errorf("masked line:\n got %q\nwant %q", line, tt.line2)
			}
			if tt.mask.Message && tt.line2 == "" && line == "" {
				t.Errorf("mask_message on but the line was not rewritten")
			}
			all, _ := json.Marshal(rec)
			for _, s := range tt.absent {
				if strings.Contains(string(all), s) {
					t.Errorf("record still holds %q: %s", s, all)
				}
				if tt.mask.Message && strings.Contains(line, strings.Trim(s, `"`)) {
					t.Errorf("masked line still holds %q: %s", s, line)
				}
			}
		})
	}
}

// TestMaskHMACIsStableAndKeyed: equal inputs give equal pseudonyms under
// one key (so failed logins can still be counted per user and address),
// and another key gives others.
func TestMaskHMACIsStableAndKeyed(t *testing.T) {
	line := "Jun 16 07:37:30 web1 sshd[4409]: Failed password for root from 203.0.113.77 port 51234 ssh2"
	k2 := []byte("another-key-of-16+bytes")
	a, _ := maskedRecord(t, Mask{User: MaskHMAC, IP: MaskHMAC, Key: testMaskKey}, line)
	b, _ := maskedRecord(t, Mask{User: MaskHMAC, IP: MaskHMAC, Key: testMaskKey}, line)
	c, _ := maskedRecord(t, Mask{User: MaskHMAC, IP: MaskHMAC, Key: k2}, line)
	for _, path := range []string{"user.name", "source.ip"} {
		if field(a, path) != field(b, path) {
			t.Errorf("%s differs under one key: %v, %v", path, field(a, path), field(b, path))
		}
		if field(a, path) == field(c, path) {
			t.Errorf("%s is the same under two keys: %v", path, field(a, path))
		}
	}
	ip, err := netip.ParseAddr(field(a, "source.ip").(string))
	if err != nil || !netip.MustParsePrefix("fd00::/8").Contains(ip) {
		t.Errorf("source.ip %v is not a unique local address", field(a, "source.ip"))
	}
}

func TestParseMaskMode(t *testing.T) {
	tests := []struct {
		in       string
		prefixOK bool
		want     MaskMode
		err      string
	}{
		{"off", false, MaskOff, ""},
		{"", true, MaskOff, ""},
		{"hmac", false, MaskHMAC, ""},
		{"prefix", true, MaskPrefix, ""},
		{"prefix", false, 0, "use off or hmac"},
		{"sha1", true, 0, "use off, hmac or prefix"},
	}
	for _, tt := range tests {
		got, err := ParseMaskMode(tt.in, tt.prefixOK)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseMaskMode(%q) error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseMaskMode(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

// BenchmarkMask: masking costs one HMAC per masked value.
func BenchmarkMask(b *testing.B) {
	x := builtinEnricher(b, Options{Style: StyleECS, Mask: Mask{User: MaskHMAC, IP: MaskHMAC, Key: testMaskKey, Message: true}})
	line := []byte("Jun 16 07:37:30 web1 sshd[4409]: Failed password for invalid user admin from 203.0.113.77 port 51234 ssh2")
	var m Msgpack
	b.ReportAllocs()
	for b.Loop() {
		ev := x.Classify(line)
		x.MaskedLine(ev)
		m.Reset()
		x.Write(&m, ev, nil)
	}
}

// TestEventOriginalMasked: event.original holds the line as the message
// key does, masked when mask_message is on, and as written otherwise.
func TestEventOriginalMasked(t *testing.T) {
	line := "Jun 16 07:37:26 web01 sshd[4409]: Failed password for invalid user hunter2 from 203.0.113.45 port 50122 ssh2"
	for _, tt := range []struct {
		mask Mask
		want string
	}{
		{Mask{}, line},
		{Mask{User: MaskHMAC, Key: testMaskKey}, line},
		{Mask{User: MaskHMAC, IP: MaskPrefix, Key: testMaskKey, Message: true},
			"Jun 16 07:37:26 web01 sshd[4409]: Failed password for invalid user " + pseudonymOf(testMaskKey, "u-", "hunter2") + " from 203.0.113.0 port 50122 ssh2"},
	} {
		x := builtinEnricher(t, Options{Mask: tt.mask, EventOriginal: true})
		var j JSON
		j.Reset()
		j.Buf = append(j.Buf, '{')
		x.Write(&j, x.Classify([]byte(line)), nil)
		j.Buf = append(j.Buf, '}')
		var m struct{ Event struct{ Original string } }
		if err := json.Unmarshal(j.Buf, &m); err != nil {
			t.Fatal(err)
		}
		if m.Event.Original != tt.want {
			t.Errorf("mask %+v: event.original %q, want %q", tt.mask, m.Event.Original, tt.want)
		}
	}
}

// TestMaskIDKey: the id key is derived from the mask key (not the key
// itself), the same for the same key, and absent when nothing is masked
// or there is no key.
func TestMaskIDKey(t *testing.T) {
	a := Mask{IP: MaskPrefix, Key: []byte("0123456789abcdef")}
	b := a
	b.Key = []byte("0123456789abcdeF")
	switch {
	case len(a.IDKey()) != 32 || string(a.IDKey()) != string((&Mask{IP: MaskHMAC, Key: a.Key}).IDKey()):
		t.Errorf("id key %x: not 32 bytes, or not the same for the same key", a.IDKey())
	case string(a.IDKey()) == string(a.Key) || string(a.IDKey()) == string(b.IDKey()):
		t.Errorf("the id key is the mask key, or two keys give one id key")
	}
	if k := (&Mask{Key: a.Key}).IDKey(); k != nil {
		t.Errorf("nothing masked: id key %x", k)
	}
	if k := (&Mask{User: MaskHMAC}).IDKey(); k != nil {
		t.Errorf("no key: id key %x", k)
	}
}

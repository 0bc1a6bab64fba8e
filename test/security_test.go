package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sshenrich/sshenrich/test/fwdserver"
	"github.com/sshenrich/sshenrich/test/testpki"
)

// TestTLS: verification is on by default and refuses an unknown CA;
// turning it off works but logs a warning; mutual TLS reads an
// encrypted client key with a passphrase from a file and never logs it.
func TestTLS(t *testing.T) {
	pki := testpki.New(t)
	file := filepath.Join(repoRoot(), "conf", "samples", "secure.log")
	const warning = "forward_tls_verify is off"
	tests := []struct {
		name       string
		clientAuth bool
		props      []string
		ok         bool
		logWant    string
		logNot     string
	}{
		{"verified with the CA", false, []string{"forward_tls_ca_file=" + pki.CAFile}, true, "", warning},
		{"unknown CA refused by default", false, nil, false, "certificate signed by unknown authority", ""},
		{"verification off warns", false, []string{"forward_tls_verify=off"}, true, warning, ""},
		{"mutual TLS with an encrypted key", true, []string{
			"forward_tls_ca_file=" + pki.CAFile, "forward_tls_crt_file=" + pki.ClientCrt,
			"forward_tls_key_file=" + pki.ClientKey, "forward_tls_key_passwd_file=" + pki.PassFile,
		}, true, "", pki.Passphrase},
		{"mutual TLS without a client certificate", true, []string{"forward_tls_ca_file=" + pki.CAFile}, false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, fwdserver.Options{TLS: pki.ServerConfig(tt.clientAuth)})
			args := []string{"-p", "forward_address=" + s.URL(), "-p", "forward_tls=on", "-p", "connect_timeout=2s",
				"-p", "ack_timeout=2s", "-f", file, "-R", "1", "-B", "50"}
			for _, p := range tt.props {
				args = append(args, "-p", p)
			}
			r := runHost(t, 60*time.Second, args...)
			if tt.ok {
				if r.exit != 0 || r.summary["records"] == 0 || !s.WaitCount(int64(r.summary["records"]), 5*time.Second) {
					t.Fatalf("exit %d summary %v server %d\n%s", r.exit, r.summary, s.Count(), r.stderr)
				}
			} else if r.exit == 0 || r.summary["retry"] == 0 || s.Count() != 0 {
				t.Errorf("exit %d summary %v server %d: want retries and nothing delivered\n%s", r.exit, r.summary, s.Count(), r.stderr)
			}
			if tt.logWant != "" && !strings.Contains(r.stderr, tt.logWant) {
				t.Errorf("log lacks %q:\n%s", tt.logWant, r.stderr)
			}
			if tt.logNot != "" && strings.Contains(r.stderr+r.stdout, tt.logNot) {
				t.Errorf("log holds %q:\n%s", tt.logNot, r.stderr)
			}
		})
	}
}

// TestBadTLSKeyStopsInit: a wrong passphrase stops start-up with the key
// named, and the passphrase is not in the message.
func TestBadTLSKeyStopsInit(t *testing.T) {
	pki := testpki.New(t)
	r := runHost(t, 30*time.Second, "-p", "forward_address=tcp://127.0.0.1:1", "-p", "forward_tls=on",
		"-p", "forward_tls_crt_file="+pki.ClientCrt, "-p", "forward_tls_key_file="+pki.ClientKey,
		"-p", "forward_tls_key_passwd=not-the-"+pki.Passphrase, "-f", filepath.Join(repoRoot(), "conf", "samples", "secure.log"))
	if r.exit == 0 || !strings.Contains(r.stderr, "forward_tls_key_file: cannot decrypt") {
		t.Fatalf("exit %d, want Init to fail naming forward_tls_key_file:\n%s", r.exit, r.stderr)
	}
	if strings.Contains(r.stderr, pki.Passphrase) {
		t.Errorf("the passphrase appears in the log:\n%s", r.stderr)
	}
}

// TestSecretsFromEnvAndFile: shared_key from ${ENV} (which Fluent Bit
// expands in its configuration) and from shared_key_file both work, and
// the key is never logged, even with stats and debug-level lines on.
func TestSecretsFromEnvAndFile(t *testing.T) {
	const key = "env-Secret-42-abcdefgh"
	t.Setenv("SSHENRICH_TEST_SHARED_KEY", key)
	keyFile := filepath.Join(t.TempDir(), "shared_key")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(repoRoot(), "conf", "samples", "secure.log")
	for _, prop := range []string{"shared_key=${SSHENRICH_TEST_SHARED_KEY}", "shared_key_file=" + keyFile} {
		t.Run(strings.SplitN(prop, "=", 2)[0], func(t *testing.T) {
			s := startServer(t, fwdserver.Options{SharedKey: key})
			r := runHost(t, 60*time.Second, "-p", "forward_address="+s.URL(), "-p", prop, "-p", "stats_interval=1s",
				"-L", "debug", "-f", file, "-R", "1", "-B", "50")
			if r.exit != 0 || r.summary["records"] == 0 || !s.WaitCount(int64(r.summary["records"]), 5*time.Second) {
				t.Fatalf("exit %d summary %v server %d\n%s", r.exit, r.summary, s.Count(), r.stderr)
			}
			if strings.Contains(r.stderr+r.stdout, key) {
				t.Errorf("the shared key appears in the output:\n%s", r.stderr)
			}
		})
	}
}

// TestMaskedIDs: with mask_ip on, a record's event.id and session id
// are keyed, so that the address prefix masking hides cannot be found
// again by hashing guesses: with mask_key they are the same on every
// run (a replay keeps its ids) and differ from the unmasked ones;
// without it they are keyed at random per start, with a warning.
func TestMaskedIDs(t *testing.T) {
	build(t)
	file := filepath.Join(repoRoot(), "conf", "samples", "secure.log")
	const warning = "without mask_key: event.id and sshenrich.session.id are keyed with a random key"
	ids := func(props ...string) ([]string, string) {
		t.Helper()
		args := []string{"-p", "emit=stdout", "-p", "time_zone=UTC", "-f", file}
		for _, p := range props {
			args = append(args, "-p", p)
		}
		r := runHost(t, 60*time.Second, args...)
		if r.exit != 0 {
			t.Fatalf("host exit %d\n%s", r.exit, r.stderr)
		}
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			var rec struct{ Record map[string]any }
			if err := json.Unmarshal([]byte(l), &rec); err != nil {
				t.Fatalf("stdout line is not JSON (%v): %s", err, l)
			}
			id, _ := path(rec.Record, "event", "id").(string)
			session, _ := path(rec.Record, "sshenrich", "session", "id").(string)
			out = append(out, id+"/"+session)
		}
		return out, r.stderr
	}
	plain, _ := ids()
	masked := []string{"mask_ip=prefix", "mask_message=on"}
	k1, log1 := ids(append(masked, "mask_key=0123456789abcdef")...)
	k2, _ := ids(append(masked, "mask_key=0123456789abcdef")...)
	r1, log2 := ids(masked...)
	r2, _ := ids(masked...)
	if !slices.Equal(k1, k2) {
		t.Errorf("mask_key: two runs give different ids")
	}
	sessions := 0
	for i := range plain {
		if strings.HasSuffix(plain[i], "/") != strings.HasSuffix(k1[i], "/") {
			t.Fatalf("record %d: %s unmasked, %s masked: not the same records", i, plain[i], k1[i])
		}
		if !strings.HasSuffix(plain[i], "/") {
			sessions++
		}
		if k1[i] == plain[i] || r1[i] == plain[i] || r1[i] == r2[i] || r1[i] == k1[i] {
			t.Errorf("record %d: ids unmasked %s, keyed %s, random %s and %s", i, plain[i], k1[i], r1[i], r2[i])
		}
	}
	if sessions == 0 {
		t.Errorf("no record had a session id")
	}
	if strings.Contains(log1, warning) || !strings.Contains(log2, warning) {
		t.Errorf("the warning should appear without mask_key only:\nwith:\n%s\nwithout:\n%s", log1, log2)
	}
}

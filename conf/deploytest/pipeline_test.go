package deploytest

import (
	"testing"

	"github.com/sshenrich/sshenrich/plugin/config"
)

// The shipped configurations, where the image puts them: conf/fluent-bit.conf
// is its default, conf/fluent-bit.yaml is mounted beside it.
func TestShippedConfigs(t *testing.T) {
	img := image(t)
	files := Files{}
	for p, d := range img.Files {
		files[p] = d
	}
	files["/fluent-bit/etc/fluent-bit.yaml"] = read(t, "conf/fluent-bit.yaml")
	for _, main := range []string{ImageConfig, "/fluent-bit/etc/fluent-bit.yaml"} {
		t.Run(main, func(t *testing.T) {
			cfg, err := LoadFluentBit(files, main, ImageWorkdir)
			if err != nil {
				t.Fatal(err)
			}
			p, errs := CheckPipeline(cfg, Runtime{Files: files, TempDir: t.TempDir()})
			noErrors(t, main, errs)
			if len(p.Sshenrich) != 1 {
				t.Fatalf("%d sshenrich outputs", len(p.Sshenrich))
			}
			for _, c := range p.Sshenrich {
				if c.Emit != config.EmitForward || c.Forward.Network != "unix" || c.Forward.Address != "/run/fluent-bit/enriched.sock" {
					t.Errorf("emit %s to %s://%s", c.Emit, c.Forward.Network, c.Forward.Address)
				}
			}
		})
	}
}

// basePipeline is a correct pipeline that the cases below break one way
// each.
const basePipeline = `[SERVICE]
    Flush             1
    Plugins_File      /etc/fb/plugins.conf
    storage.path      /var/lib/fb/storage
    Hot_Reload.Ensure_Thread_Safety Off
    Hot_Reload.Timeout 30

[INPUT]
    Name              tail
    Path              /var/log/secure
    Tag               ssh.raw
    Key               message
    storage.type      filesystem

[OUTPUT]
    Name              sshenrich
    Match             ssh.*
    Workers           1
    message_key       message
    forward_address   unix:///run/fb/enriched.sock
    tag_prefix        enriched.
    shared_key        ${KEY}
    mask_user         hmac
    mask_key_file     /secret/mask_key

[INPUT]
    Name              forward
    Unix_Path         /run/fb/enriched.sock
    Shared_Key        ${KEY}

[OUTPUT]
    Name              stdout
    Match             enriched.*
`

func checkBase(t *testing.T, text string, extra Files) []error {
	t.Helper()
	files := Files{
		"/etc/fb/fluent-bit.conf":         []byte(text),
		"/etc/fb/plugins.conf":            []byte("[PLUGINS]\n    Path /usr/lib/fb/out_sshenrich.so\n"),
		"/usr/lib/fb/out_sshenrich.so":    nil,
		"/secret/mask_key":                []byte("0123456789abcdef0123\n"),
		"/etc/fb/site.rules":              []byte("code:           SITE-0001\nname:           break-glass-login\nseverity:       warning\ntemplate:       Break-glass access opened for <user> from <host>\ndescription.en: A login on a host that only accepts break-glass access.\n"),
		"/etc/fb/bad.rules":               []byte("code: SITE-0002\ntemplate: Accepted <nonsense\n"),
		"/etc/fb/plugins-elsewhere.conf":  []byte("[PLUGINS]\n    Path /usr/lib/fb/out_other.so\n"),
		"/etc/fb/plugins-not-loaded.conf": []byte("[PLUGINS]\n    Path /usr/lib/fb/missing/out_sshenrich.so\n"),
	}
	for p, d := range extra {
		files[p] = d
	}
	cfg, err := LoadFluentBit(files, "/etc/fb/fluent-bit.conf", "/")
	if err != nil {
		return []error{err}
	}
	_, errs := CheckPipeline(cfg, Runtime{Env: map[string]string{"KEY": "s3cret"}, Files: files, TempDir: t.TempDir()})
	return errs
}

func TestPipelineBase(t *testing.T) {
	noErrors(t, "base pipeline", checkBase(t, basePipeline, nil))
	withRules := replace(t, basePipeline, "    mask_user ", "    rules_file        /etc/fb/site.rules\n    mask_user ")
	noErrors(t, "base pipeline with a rules file", checkBase(t, withRules, nil))
	threaded := replace(t, replace(t, basePipeline, "    Workers           1\n", ""), "    Shared_Key        ${KEY}\n", "    Shared_Key        ${KEY}\n    threaded          on\n")
	noErrors(t, "Workers 0 with a threaded forward input", checkBase(t, threaded, nil))
}

func TestPipelineMistakes(t *testing.T) {
	cases := []struct{ name, old, new, want string }{
		{"deadlock", "Workers           1", "Workers           0", "no ack ever arrives"},
		{"no workers", "    Workers           1\n", "", "no ack ever arrives"},
		{"loop", "Match             ssh.*", "Match             *", "go round forever"},
		{"loop by prefix", "tag_prefix        enriched.", "tag_prefix        ssh.", "go round forever"},
		{"forward input with a Tag", "Unix_Path         /run/fb/enriched.sock\n", "Unix_Path         /run/fb/enriched.sock\n    Tag               x\n", "has a Tag"},
		{"wrong socket", "forward_address   unix:///run/fb/enriched.sock", "forward_address   unix:///run/fb/other.sock", "no forward input of this configuration listens there"},
		{"no loopback listener", "forward_address   unix:///run/fb/enriched.sock", "forward_address   tcp://127.0.0.1:24224", "no forward input"},
		{"misspelt key", "message_key ", "mesage_key  ", "mesage_key: not a key of sshenrich"},
		{"Fluent Bit's host", "    message_key ", "    Host              127.0.0.1\n    message_key ", "Host: not a key of sshenrich"},
		{"bad value", "message_key       message", "message_key       message\n    output_style      xml", `output_style: "xml" is not valid`},
		{"bad address", "unix:///run/fb/enriched.sock\n    tag_prefix", "unix://run/fb/enriched.sock\n    tag_prefix", "three slashes"},
		{"memory buffer", "    storage.type      filesystem\n", "", "not on the filesystem buffer"},
		{"no storage.path", "    storage.path      /var/lib/fb/storage\n", "", "needs storage.path"},
		{"enriched records go nowhere", "Match             enriched.*", "Match             other.*", "go nowhere"},
		{"caught by a second sshenrich", "Match             enriched.*", "Match             enriched.*\n\n[OUTPUT]\n    Name              sshenrich\n    Match             enriched.*\n    emit              stdout", "caught by another sshenrich output"},
		{"key mismatch", "    Shared_Key        ${KEY}\n", "", "shared key differs"},
		{"unset variable", "shared_key        ${KEY}", "shared_key        ${NO_SUCH_KEY}", "${NO_SUCH_KEY} is not set"},
		{"key file missing", "/secret/mask_key", "/secret/other_key", "/secret/other_key is not a file of the container"},
		{"key file and key", "    mask_user ", "    mask_key          0123456789abcdef0123\n    mask_user ", "mask_key and mask_key_file: set one of them"},
		{"bad rules file", "    mask_user ", "    rules_file        /etc/fb/bad.rules\n    mask_user ", "rules_file"},
		{"Match catches nothing", "Tag               ssh.raw", "Tag               auth.raw", "catches no input"},
		{"untagged source", "    Tag               ssh.raw\n", "", "Match ssh.* catches no input"},
		{"plugin not loaded", "Plugins_File      /etc/fb/plugins.conf", "Plugins_File      /etc/fb/plugins-elsewhere.conf", "no plugins entry loads out_sshenrich.so"},
		{"plugin file absent", "Plugins_File      /etc/fb/plugins.conf", "Plugins_File      /etc/fb/plugins-not-loaded.conf", "is not in the image"},
		{"Match_Regex", "Match             ssh.*", "Match_Regex       ^ssh", "set Match"},
		{"no Name", "    Name              stdout\n", "", "no Name"},
		{"reload waits for every chunk", "    Hot_Reload.Ensure_Thread_Safety Off\n", "", "Hot_Reload.Ensure_Thread_Safety is on"},
		{"reload thread safety on", "Hot_Reload.Ensure_Thread_Safety Off", "Hot_Reload.Ensure_Thread_Safety On", "the reload hangs"},
		{"no reload watchdog", "    Hot_Reload.Timeout 30\n", "", "Hot_Reload.Timeout must be more than Grace + ack_timeout (15s)"},
		{"watchdog shorter than a stop", "Hot_Reload.Timeout 30", "Hot_Reload.Timeout 30\n    Grace 25", "Hot_Reload.Timeout must be more than Grace + ack_timeout (35s)"},
		{"two services", "[INPUT]\n    Name              tail", "[SERVICE]\n    Flush 2\n\n[INPUT]\n    Name              tail", "2 [SERVICE] sections"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, checkBase(t, replace(t, basePipeline, tc.old, tc.new), nil), tc.want)
		})
	}
}

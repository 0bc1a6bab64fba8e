package rules

import "testing"

// BenchmarkMatch times the matcher on messages of each common shape.
func BenchmarkMatch(b *testing.B) {
	c, err := Builtin()
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, msg string }{
		{"failed-password", "Failed password for root from 203.0.113.33 port 20281 ssh2"},
		{"failed-invalid-user", "Failed password for invalid user admin from 203.0.113.135 port 32668 ssh2"},
		{"accepted-publickey", "Accepted publickey for deploy from 2001:db8::25 port 51234 ssh2: ED25519 SHA256:uJx0cLQ1bTqNfX2m8Pz3Yw5eK7dV9sR4hG6aB1cD2eF"},
		{"closed-preauth", "Connection closed by authenticating user root 192.0.2.3 port 22 [preauth]"},
		{"pam-auth-failure", "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.1  user=root"},
		{"firewall", "filter_IN_public_REJECT: IN=enp0s8 OUT= MAC=08:00:27:40:b7:96:d0:11:e5:1a:ce:3b:08:00 SRC=192.168.11.77 DST=192.168.11.108 LEN=64 TOS=0x00 PREC=0x00 TTL=64 ID=0 DF PROTO=TCP SPT=4242 DPT=443 WINDOW=65535 RES=0x00 CWR ECE SYN URGP=0"},
		{"no-match", "(root) CMD (run-parts /etc/cron.hourly)"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := c.NewMatcher()
			msg := []byte(bc.msg)
			var r Result
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				m.Match(msg, &r)
			}
		})
	}
}

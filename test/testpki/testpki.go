// Package testpki makes a throwaway certificate authority for TLS tests:
// a server certificate for 127.0.0.1 and fwd.test, and a client
// certificate whose key is encrypted with a passphrase, all written as
// PEM files into a test's temporary directory.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// ServerName is the DNS name in the server certificate, beside 127.0.0.1.
const ServerName = "fwd.test"

// PKI is a CA with one server and one client certificate.
type PKI struct {
	CAFile     string          // the CA certificate (PEM)
	Pool       *x509.CertPool  // the CA, for a server that verifies clients
	Server     tls.Certificate // the server's certificate and key
	ClientCrt  string          // the client certificate (PEM)
	ClientKey  string          // its key, encrypted with Passphrase (legacy PEM encryption)
	PlainKey   string          // the same key unencrypted
	Passphrase string
	PassFile   string // Passphrase and a newline
}

// New writes a fresh PKI into t's temporary directory.
func New(t testing.TB) *PKI {
	t.Helper()
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		must(os.WriteFile(p, data, 0o600))
		return p
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sshenrich test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	must(err)
	ca, err := x509.ParseCertificate(caDER)
	must(err)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature,
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{ServerName},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		must(err)
		return der, k
	}
	p := &PKI{Passphrase: "pass-phrase-XYZZY", Pool: x509.NewCertPool()}
	p.Pool.AddCert(ca)
	p.CAFile = write("ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))

	srvDER, srvKey := leaf(2, ServerName, x509.ExtKeyUsageServerAuth)
	p.Server = tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}

	cliDER, cliKey := leaf(3, "fluent-bit", x509.ExtKeyUsageClientAuth)
	p.ClientCrt = write("client.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cliDER}))
	keyDER, err := x509.MarshalECPrivateKey(cliKey)
	must(err)
	p.PlainKey = write("client-key-plain.pem", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	//nolint:staticcheck // legacy PEM encryption is the form the plugin must read
	block, err := x509.EncryptPEMBlock(rand.Reader, "EC PRIVATE KEY", keyDER, []byte(p.Passphrase), x509.PEMCipherAES256)
	must(err)
	p.ClientKey = write("client-key.pem", pem.EncodeToMemory(block))
	p.PassFile = write("passphrase", []byte(p.Passphrase+"\n"))
	return p
}

// ServerConfig is a TLS server configuration with the server
// certificate; with clientAuth it also requires a client certificate
// from the CA.
func (p *PKI) ServerConfig(clientAuth bool) *tls.Config {
	c := &tls.Config{Certificates: []tls.Certificate{p.Server}, MinVersion: tls.VersionTLS12}
	if clientAuth {
		c.ClientAuth, c.ClientCAs = tls.RequireAndVerifyClientCert, p.Pool
	}
	return c
}

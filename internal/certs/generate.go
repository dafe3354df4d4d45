// Package certs gives the manager's webhook server a TLS identity without cert-manager:
// it keeps a self-signed CA and a serving certificate in a Secret shared by all
// replicas, writes them where the webhook server reads them, renews them before they
// expire and injects the CA bundle into the webhook configurations.
package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"time"
)

// keyPair is a PEM certificate and key.
type keyPair struct {
	Cert []byte
	Key  []byte
}

func newSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
}

// newCA creates a self-signed CA valid from now-1h (clock skew) for validity.
func newCA(commonName string, now time.Time, validity time.Duration) (keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return keyPair{}, err
	}
	serial, err := newSerial()
	if err != nil {
		return keyPair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return keyPair{}, err
	}
	return encode(der, key)
}

// newServing creates a serving certificate for hosts (DNS names or IPs) signed by ca.
func newServing(ca keyPair, hosts []string, now time.Time, validity time.Duration) (keyPair, error) {
	caCert, caKey, err := ca.parse()
	if err != nil {
		return keyPair{}, fmt.Errorf("parsing CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return keyPair{}, err
	}
	serial, err := newSerial()
	if err != nil {
		return keyPair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return keyPair{}, err
	}
	return encode(der, key)
}

func encode(der []byte, key *ecdsa.PrivateKey) (keyPair, error) {
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return keyPair{}, err
	}
	return keyPair{
		Cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		Key:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

func (k keyPair) parse() (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cert, err := parseCert(k.Cert)
	if err != nil {
		return nil, nil, err
	}
	b, _ := pem.Decode(k.Key)
	if b == nil {
		return nil, nil, errors.New("no PEM key")
	}
	key, err := x509.ParseECPrivateKey(b.Bytes)
	if err != nil {
		return nil, nil, err
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, nil, errors.New("key does not match certificate")
	}
	return cert, key, nil
}

func parseCert(p []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(p)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(b.Bytes)
}

// servingValid reports whether serving is a usable certificate signed by ca, for
// exactly hosts, that stays valid for at least renewBefore after now.
func servingValid(ca, serving keyPair, hosts []string, now time.Time, renewBefore time.Duration) bool {
	caCert, _, err := ca.parse()
	if err != nil || now.Add(renewBefore).After(caCert.NotAfter) {
		return false
	}
	cert, _, err := serving.parse()
	if err != nil || now.Add(renewBefore).After(cert.NotAfter) || now.Before(cert.NotBefore) {
		return false
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return false
	}
	var have []string
	have = append(have, cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		have = append(have, ip.String())
	}
	want := slices.Clone(hosts)
	slices.Sort(have)
	slices.Sort(want)
	return slices.Equal(have, want)
}

// caValid reports whether ca parses and outlives renewBefore.
func caValid(ca keyPair, now time.Time, renewBefore time.Duration) bool {
	c, _, err := ca.parse()
	return err == nil && c.IsCA && !now.Add(renewBefore).After(c.NotAfter)
}

// bundle joins PEM certificates, skipping empty ones and duplicates.
func bundle(certs ...[]byte) []byte {
	var out [][]byte
	for _, c := range certs {
		c = bytes.TrimSpace(c)
		if len(c) == 0 || slices.ContainsFunc(out, func(o []byte) bool { return bytes.Equal(o, c) }) {
			continue
		}
		out = append(out, c)
	}
	return append(bytes.Join(out, []byte("\n")), '\n')
}

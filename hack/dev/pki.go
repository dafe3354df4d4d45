package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki is the key material of one dev environment, generated fresh on every start so no
// secret outlives the run that created it.
type pki struct {
	// CA signs the apiserver's serving certificate and the client certificates the
	// apiserver accepts (--client-ca-file); the controller manager signs CSRs with it.
	CA *certAuthority
	// FrontProxyCA signs only the apiserver's proxy client certificate. It is separate
	// because a certificate it signs may assert any identity in request headers, so it
	// must never be reachable through CSR signing.
	FrontProxyCA *certAuthority
	Serving      keyPair // kube-apiserver's serving certificate
	ProxyClient  keyPair // kube-apiserver's client certificate towards aggregated APIs
	// Service-account token signing key pair (RSA: every SA token consumer supports RS256).
	SAKeyFile string
	SAPubFile string
}

// certAuthority is a CA certificate and key, kept in memory to issue and on disk for
// the processes.
type certAuthority struct {
	keyPair
	cert *x509.Certificate
	key  crypto.Signer
	dir  string
}

// keyPair names a certificate and its key on disk.
type keyPair struct {
	CertFile, KeyFile string
	CertPEM, KeyPEM   []byte
}

// certValidity is generous for a dev cluster but bounded: the material is thrown away
// on the next start anyway.
const certValidity = 30 * 24 * time.Hour

// frontProxyClientName is the only CN the apiserver accepts from the front-proxy CA.
const frontProxyClientName = "front-proxy-client"

// newPKI writes the CAs, the apiserver's certificates and the service-account key into dir.
func newPKI(dir string) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	p := &pki{}
	var err error
	if p.CA, err = newCertAuthority(dir, "ca", "kubeask-dev-ca"); err != nil {
		return nil, err
	}
	if p.FrontProxyCA, err = newCertAuthority(dir, "front-proxy-ca", "kubeask-dev-front-proxy-ca"); err != nil {
		return nil, err
	}
	// The SANs cover every way the apiserver is reached: from the host (127.0.0.1,
	// localhost) and, for completeness, from inside the cluster through the first IP of
	// the service range and the kubernetes service names.
	p.Serving, err = p.CA.issue("apiserver", &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(serviceIP)},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
	})
	if err != nil {
		return nil, err
	}
	if p.ProxyClient, err = p.FrontProxyCA.clientCert(frontProxyClientName, frontProxyClientName); err != nil {
		return nil, err
	}

	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generating service-account key: %w", err)
	}
	saKeyPEM, err := encodeKey(saKey)
	if err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		return nil, fmt.Errorf("encoding service-account public key: %w", err)
	}
	p.SAKeyFile = filepath.Join(dir, "sa.key")
	p.SAPubFile = filepath.Join(dir, "sa.pub")
	if err := writeFiles(map[string][]byte{
		p.SAKeyFile: saKeyPEM,
		p.SAPubFile: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}),
	}); err != nil {
		return nil, err
	}
	return p, nil
}

// newCertAuthority creates a self-signed CA and writes <name>.crt and <name>.key.
func newCertAuthority(dir, name, commonName string) (*certAuthority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating %s key: %w", name, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(certValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("creating %s certificate: %w", name, err)
	}
	ca := &certAuthority{key: key, dir: dir}
	if ca.cert, err = x509.ParseCertificate(der); err != nil {
		return nil, fmt.Errorf("parsing %s certificate: %w", name, err)
	}
	ca.CertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if ca.KeyPEM, err = encodeKey(key); err != nil {
		return nil, err
	}
	ca.CertFile = filepath.Join(dir, name+".crt")
	ca.KeyFile = filepath.Join(dir, name+".key")
	if err := writeFiles(map[string][]byte{ca.CertFile: ca.CertPEM, ca.KeyFile: ca.KeyPEM}); err != nil {
		return nil, err
	}
	return ca, nil
}

// clientCert issues a client certificate for user in groups (CN and O are how the
// apiserver's x509 authenticator reads them).
func (ca *certAuthority) clientCert(name, user string, groups ...string) (keyPair, error) {
	return ca.issue(name, &x509.Certificate{
		Subject:     pkix.Name{CommonName: user, Organization: groups},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

// issue signs tmpl with the CA and writes <name>.crt and <name>.key.
func (ca *certAuthority) issue(name string, tmpl *x509.Certificate) (keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return keyPair{}, fmt.Errorf("generating %s key: %w", name, err)
	}
	tmpl.SerialNumber = randomSerial()
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(certValidity)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return keyPair{}, fmt.Errorf("signing %s certificate: %w", name, err)
	}
	kp := keyPair{
		CertFile: filepath.Join(ca.dir, name+".crt"),
		KeyFile:  filepath.Join(ca.dir, name+".key"),
		CertPEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}
	if kp.KeyPEM, err = encodeKey(key); err != nil {
		return keyPair{}, err
	}
	if err := writeFiles(map[string][]byte{kp.CertFile: kp.CertPEM, kp.KeyFile: kp.KeyPEM}); err != nil {
		return keyPair{}, err
	}
	return kp, nil
}

func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// randomSerial returns a random 128-bit serial number. crypto/rand cannot fail since
// Go 1.24 (it crashes instead), so the fallback only keeps the signature error-free.
func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

// writeFiles writes private files (0600): keys, tokens and kubeconfigs are credentials.
func writeFiles(files map[string][]byte) error {
	for path, data := range files {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return nil
}

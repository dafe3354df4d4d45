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

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// hack/dev has the same kind of PKI, but it is a main package and cannot be imported;
// this one differs where a node needs it to: the API server's certificate names the node
// address and the Service IP pods dial, and the kubelet gets serving and client
// certificates.

// ca is a certificate authority kept in memory to issue certificates.
type ca struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM []byte
	dir     string
}

// certFile is the CA certificate on disk.
func (c *ca) certFile() string { return filepath.Join(c.dir, "ca.crt") }

// newCA creates a CA in dir, valid for the length of a run (and some margin).
func newCA(dir string) (*ca, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "kubeask-e2e-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(48 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	c := &ca{key: key, dir: dir, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	if c.cert, err = x509.ParseCertificate(der); err != nil {
		return nil, err
	}
	return c, os.WriteFile(c.certFile(), c.certPEM, 0o600)
}

// keyPair is an issued certificate, in memory and on disk.
type keyPair struct {
	certFile, keyFile string
	certPEM, keyPEM   []byte
}

// serving issues a server certificate for the given IPs and DNS names.
func (c *ca) serving(name string, ips []string, dns ...string) (keyPair, error) {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: name},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    dns,
	}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	return c.issue(name, tmpl)
}

// client issues a client certificate: CN is the user name, O the groups, which is how
// the API server's x509 authenticator reads them.
func (c *ca) client(name, user string, groups ...string) (keyPair, error) {
	return c.issue(name, &x509.Certificate{
		Subject:     pkix.Name{CommonName: user, Organization: groups},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

func (c *ca) issue(name string, tmpl *x509.Certificate) (keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return keyPair{}, err
	}
	tmpl.SerialNumber = serial()
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(48 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, key.Public(), c.key)
	if err != nil {
		return keyPair{}, fmt.Errorf("signing %s: %w", name, err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return keyPair{}, err
	}
	kp := keyPair{
		certFile: filepath.Join(c.dir, name+".crt"),
		keyFile:  filepath.Join(c.dir, name+".key"),
		certPEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:   keyPEM,
	}
	if err := os.WriteFile(kp.certFile, kp.certPEM, 0o600); err != nil {
		return keyPair{}, err
	}
	return kp, os.WriteFile(kp.keyFile, kp.keyPEM, 0o600)
}

// serviceAccountKey writes the RSA key pair the API server signs tokens with (RS256:
// every token consumer supports it) and returns the key and public key files.
func serviceAccountKey(dir string) (keyFile, pubFile string, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return "", "", err
	}
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return "", "", err
	}
	keyFile, pubFile = filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return "", "", err
	}
	return keyFile, pubFile, os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600)
}

func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

// writeKubeconfig writes a self-contained kubeconfig for one identity: a bearer token,
// or a client certificate.
func writeKubeconfig(path, server string, caPEM []byte, user, token string, cert *keyPair) error {
	cfg := clientcmdapi.NewConfig()
	cluster := clientcmdapi.NewCluster()
	cluster.Server = server
	cluster.CertificateAuthorityData = caPEM
	cfg.Clusters["e2e"] = cluster
	auth := clientcmdapi.NewAuthInfo()
	auth.Token = token
	if cert != nil {
		auth.ClientCertificateData, auth.ClientKeyData = cert.certPEM, cert.keyPEM
	}
	cfg.AuthInfos[user] = auth
	kctx := clientcmdapi.NewContext()
	kctx.Cluster, kctx.AuthInfo = "e2e", user
	cfg.Contexts["e2e"] = kctx
	cfg.CurrentContext = "e2e"
	return clientcmd.WriteToFile(*cfg, path)
}

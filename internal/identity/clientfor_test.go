package identity_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubeask/kubeask/internal/identity"
	"github.com/kubeask/kubeask/internal/testcluster"
)

// ClientFor's config locates the API server and nothing else: whatever credentials
// the operator's config holds, none of them is in it.
func TestClientForConfigHoldsNoCredentials(t *testing.T) {
	certPEM, keyPEM := selfSigned(t)
	server := func() *rest.Config {
		return &rest.Config{
			Host: "https://10.0.0.1:6443", APIPath: "/api",
			TLSClientConfig: rest.TLSClientConfig{ServerName: "kubernetes.default.svc", CAData: slices.Clone(certPEM), CAFile: "/ca.crt"},
			QPS:             100, Burst: 200, UserAgent: "kubeask", Timeout: time.Minute,
		}
	}
	// client-go refuses some credentials in combination, so each base holds a
	// compatible set.
	bearer := server()
	bearer.BearerToken, bearer.BearerTokenFile = "operator-token", "/var/run/secrets/token"
	bearer.CertData, bearer.KeyData, bearer.CertFile, bearer.KeyFile = certPEM, keyPEM, "/tls.crt", "/tls.key"
	bearer.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return rt }
	basic := server()
	basic.Username, basic.Password = "admin", "secret"
	exec := server()
	exec.ExecProvider = &clientcmdapi.ExecConfig{Command: "get-token", APIVersion: "client.authentication.k8s.io/v1", InteractiveMode: clientcmdapi.NeverExecInteractiveMode}

	for name, base := range map[string]*rest.Config{"token, client certificate, wrapped transport": bearer, "basic auth": basic, "exec plugin": exec} {
		t.Run(name, func(t *testing.T) {
			f, err := identity.NewFactory(base, identity.Policy{ExtraAllowList: []string{"*"}})
			if err != nil {
				t.Fatal(err)
			}
			cfg, _, err := f.ClientFor(identity.Identity{Username: "alice", UID: "u-1", Groups: []string{"dev"}, Extra: map[string][]string{"scopes": {"view"}}})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.BearerToken != "" || cfg.BearerTokenFile != "" || cfg.Username != "" || cfg.Password != "" {
				t.Error("the config carries a token or basic auth")
			}
			if cfg.CertData != nil || cfg.KeyData != nil || cfg.CertFile != "" || cfg.KeyFile != "" {
				t.Error("the config carries the operator's client certificate")
			}
			if cfg.ExecProvider != nil || cfg.AuthProvider != nil || cfg.WrapTransport != nil || cfg.Transport != nil {
				t.Error("the config carries a credential plugin or a transport")
			}
			if !reflect.DeepEqual(cfg.Impersonate, rest.ImpersonationConfig{}) {
				t.Errorf("the config impersonates: %+v", cfg.Impersonate)
			}
			if cfg.Host != base.Host || cfg.APIPath != base.APIPath || cfg.ServerName != base.ServerName ||
				!bytes.Equal(cfg.CAData, certPEM) || cfg.CAFile != base.CAFile || cfg.QPS != base.QPS || cfg.Burst != base.Burst {
				t.Errorf("the config lost the server's settings: host %q, path %q, server name %q, QPS %v, burst %d", cfg.Host, cfg.APIPath, cfg.ServerName, cfg.QPS, cfg.Burst)
			}
			// Nothing is shared with the operator's config.
			cfg.CAData[0] = 'X'
			if !bytes.Equal(base.CAData, certPEM) {
				t.Error("the config shares its CA bytes with the operator's config")
			}
			// Every other field is empty, so that a credential field added to
			// rest.Config later cannot slip through unnoticed.
			allowed := map[string]bool{"Host": true, "APIPath": true, "ContentConfig": true,
				"QPS": true, "Burst": true, "UserAgent": true, "Timeout": true}
			allowedTLS := map[string]bool{"ServerName": true, "CAData": true, "CAFile": true}
			for field, value := range fields(*cfg) {
				if !allowed[field] && field != "TLSClientConfig" && !value.IsZero() {
					t.Errorf("the config sets %s", field)
				}
			}
			for field, value := range fields(cfg.TLSClientConfig) {
				if !allowedTLS[field] && !value.IsZero() {
					t.Errorf("the config sets TLSClientConfig.%s", field)
				}
			}
		})
	}
}

// selfSigned returns a PEM certificate and key, usable both as a CA and as a client
// certificate: client-go parses both when it builds a transport.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "operator"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// fields yields a struct's fields by name.
func fields(v any) map[string]reflect.Value {
	rv := reflect.ValueOf(v)
	out := make(map[string]reflect.Value, rv.NumField())
	for i := range rv.NumField() {
		out[rv.Type().Field(i).Name] = rv.Field(i)
	}
	return out
}

// Against a real API server: the client acts as the requester, and the config alone,
// given a transport of its own, is anonymous, although the operator's config
// authenticates with a cluster-admin client certificate.
func TestClientForConfigAloneIsAnonymous(t *testing.T) {
	c, err := testcluster.Start(testcluster.Options{SkipCRDs: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	if c.Admin.CertData == nil && c.Admin.BearerToken == "" {
		t.Fatal("the premise: the admin config should carry a credential")
	}
	f, err := identity.NewFactory(c.Admin, identity.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, httpClient, err := f.ClientFor(identity.Identity{Username: "alice", UID: "u-alice", Groups: []string{"dev"}})
	if err != nil {
		t.Fatal(err)
	}
	paired, err := kubernetes.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		t.Fatal(err)
	}
	if who := whoAmI(t.Context(), t, paired); who != "alice" {
		t.Errorf("the impersonating client is %q, want alice", who)
	}
	alone, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = alone.CoreV1().Namespaces().List(t.Context(), metav1.ListOptions{})
	if !apierrors.IsUnauthorized(err) && !apierrors.IsForbidden(err) {
		t.Fatalf("the config alone listed namespaces (err %v): it carries the operator's rights", err)
	}
	if apierrors.IsForbidden(err) {
		if who := whoAmI(t.Context(), t, alone); who != "system:anonymous" && who != "" {
			t.Errorf("the config alone is %q, want system:anonymous", who)
		}
	}
}

// whoAmI asks the API server who the client is; "" when it may not ask.
func whoAmI(ctx context.Context, t *testing.T, cs kubernetes.Interface) string {
	t.Helper()
	r, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return r.Status.UserInfo.Username
}

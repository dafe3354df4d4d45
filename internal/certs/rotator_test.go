package certs

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeask/kubeask/internal/testcluster"
)

func TestRotatorAgainstAPIServer(t *testing.T) {
	c, err := testcluster.Start(testcluster.Options{SkipCRDs: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	k, err := c.Client(c.Admin)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	url := "https://127.0.0.1:9443/x"
	none := admissionregistrationv1.SideEffectClassNone
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kubeask-system"}},
		&admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "kubeask"},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{Name: "a.kubeask.dev", SideEffects: &none, AdmissionReviewVersions: []string{"v1"},
				ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url}}}},
		&admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "kubeask"},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{Name: "a.kubeask.dev", SideEffects: &none, AdmissionReviewVersions: []string{"v1"},
				ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url}}}},
	} {
		if err := k.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	now := start
	clock := func() time.Time { return now }
	newRotator := func(dir string, hosts ...string) *Rotator {
		return &Rotator{Reader: k, Writer: k, Namespace: "kubeask-system", SecretName: "webhook-certs",
			Hosts: hosts, CertDir: dir, WebhookConfigName: "kubeask", Now: clock}
	}
	dir := t.TempDir()
	r := newRotator(dir, "kubeask-webhook.kubeask-system.svc", "127.0.0.1")

	secret := func() *corev1.Secret {
		s := &corev1.Secret{}
		if err := k.Get(ctx, client.ObjectKey{Namespace: "kubeask-system", Name: "webhook-certs"}, s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	// verify checks that the served files are a certificate for host that the injected
	// bundles of both configurations trust, and returns the serving certificate.
	verify := func(host string) *x509.Certificate {
		t.Helper()
		certPEM, err := os.ReadFile(filepath.Join(dir, "tls.crt"))
		if err != nil {
			t.Fatal(err)
		}
		keyPEM, err := os.ReadFile(filepath.Join(dir, "tls.key"))
		if err != nil {
			t.Fatal(err)
		}
		cert, _, err := keyPair{Cert: certPEM, Key: keyPEM}.parse()
		if err != nil {
			t.Fatalf("served pair: %v", err)
		}
		m := &admissionregistrationv1.MutatingWebhookConfiguration{}
		v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if err := k.Get(ctx, client.ObjectKey{Name: "kubeask"}, m); err != nil {
			t.Fatal(err)
		}
		if err := k.Get(ctx, client.ObjectKey{Name: "kubeask"}, v); err != nil {
			t.Fatal(err)
		}
		for _, b := range [][]byte{m.Webhooks[0].ClientConfig.CABundle, v.Webhooks[0].ClientConfig.CABundle} {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(b) {
				t.Fatal("CA bundle not injected")
			}
			if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: host, CurrentTime: now}); err != nil {
				t.Fatalf("served certificate not trusted by the injected bundle for %s: %v", host, err)
			}
		}
		return cert
	}

	if err := r.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	first := verify("127.0.0.1")
	verify("kubeask-webhook.kubeask-system.svc")
	rv := secret().ResourceVersion
	firstCA := secret().Data[keyCA]

	t.Run("idempotent", func(t *testing.T) {
		if err := r.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		if got := secret().ResourceVersion; got != rv {
			t.Errorf("secret rewritten without need: %s -> %s", rv, got)
		}
	})

	t.Run("serving certificate renewed before it expires, CA kept", func(t *testing.T) {
		now = start.Add(340 * 24 * time.Hour)
		if err := r.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		renewed := verify("127.0.0.1")
		if renewed.SerialNumber.Cmp(first.SerialNumber) == 0 {
			t.Error("serving certificate not renewed 25 days before expiry")
		}
		if string(secret().Data[keyCA]) != string(firstCA) {
			t.Error("CA replaced although it is far from expiry")
		}
	})

	t.Run("CA renewed; the old one stays trusted until it expires", func(t *testing.T) {
		now = start.Add((9*365 + 200) * 24 * time.Hour) // within the CA's last year
		if err := r.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		s := secret()
		if string(s.Data[keyCA]) == string(firstCA) {
			t.Fatal("CA not renewed within its last year")
		}
		if string(s.Data[keyPreviousCA]) != string(firstCA) {
			t.Fatal("previous CA not kept")
		}
		verify("127.0.0.1")
		m := &admissionregistrationv1.MutatingWebhookConfiguration{}
		if err := k.Get(ctx, client.ObjectKey{Name: "kubeask"}, m); err != nil {
			t.Fatal(err)
		}
		if want := bundle(s.Data[keyCA], firstCA); string(m.Webhooks[0].ClientConfig.CABundle) != string(want) {
			t.Error("bundle does not hold both the new and the previous CA")
		}
	})

	t.Run("new hosts get a new certificate", func(t *testing.T) {
		r.Hosts = append(r.Hosts, "webhook.example.internal")
		if err := r.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		verify("webhook.example.internal")
	})

	t.Run("replicas racing agree on one certificate", func(t *testing.T) {
		if err := k.Delete(ctx, secret()); err != nil {
			t.Fatal(err)
		}
		dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
		var wg sync.WaitGroup
		errs := make([]error, len(dirs))
		for i, d := range dirs {
			wg.Go(func() { errs[i] = newRotator(d, r.Hosts...).Ensure(ctx) })
		}
		wg.Wait()
		want := string(secret().Data[keyCert])
		for i, d := range dirs {
			if errs[i] != nil {
				t.Errorf("replica %d: %v", i, errs[i])
				continue
			}
			got, err := os.ReadFile(filepath.Join(d, "tls.crt"))
			if err != nil || string(got) != want {
				t.Errorf("replica %d serves a certificate other than the Secret's", i)
			}
		}
	})
}

package certs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// Keys of the Secret that holds the webhook's TLS material.
const (
	keyCA         = "ca.crt"
	keyCAKey      = "ca.key"
	keyPreviousCA = "ca-previous.crt"
	keyCert       = corev1.TLSCertKey
	keyKey        = corev1.TLSPrivateKeyKey
)

// Rotator keeps the webhook serving certificate valid. Every replica runs one (each
// replica serves the webhook); they agree through the Secret, using its
// resourceVersion for optimistic concurrency, so one CA and one certificate are shared.
type Rotator struct {
	// Reader reads the Secret and webhook configurations straight from the API server:
	// the manager's cache must not hold Secrets.
	Reader client.Reader
	// Writer creates and updates them.
	Writer client.Client

	Namespace  string
	SecretName string
	// Hosts are the serving certificate's DNS names and IP addresses; the first one is
	// its common name.
	Hosts []string
	// CertDir receives tls.crt and tls.key for the webhook server, which reloads them.
	CertDir string
	// WebhookConfigName names the Mutating- and ValidatingWebhookConfiguration that get
	// the CA bundle. Empty skips injection.
	WebhookConfigName string

	// The zero values mean: CA for 10 years, renewed a year before it ends (the old CA
	// stays in the bundle until it expires); serving certificate for 1 year, renewed 30
	// days before it ends; checked every hour.
	CAValidity, CARenewBefore, CertValidity, CertRenewBefore, CheckInterval time.Duration
	Now                                                                     func() time.Time
}

func (r *Rotator) defaults() {
	if r.CAValidity == 0 {
		r.CAValidity = 10 * 365 * 24 * time.Hour
	}
	if r.CARenewBefore == 0 {
		r.CARenewBefore = 365 * 24 * time.Hour
	}
	if r.CertValidity == 0 {
		r.CertValidity = 365 * 24 * time.Hour
	}
	if r.CertRenewBefore == 0 {
		r.CertRenewBefore = 30 * 24 * time.Hour
	}
	if r.CheckInterval == 0 {
		r.CheckInterval = time.Hour
	}
	if r.Now == nil {
		r.Now = time.Now
	}
}

// NeedLeaderElection is false: every replica serves the webhook and needs the files.
func (r *Rotator) NeedLeaderElection() bool { return false }

// Start runs Ensure at once and then every CheckInterval until ctx ends; a failed
// attempt (for example a webhook configuration not created yet) is retried within
// seconds. Call PrepareFiles before starting the webhook server, so that it finds its
// files.
func (r *Rotator) Start(ctx context.Context) error {
	r.defaults()
	wait := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		if err := r.Ensure(ctx); err != nil {
			log.FromContext(ctx).Error(err, "ensuring webhook certificates; will retry", "secret", r.SecretName)
			wait = 5 * time.Second
			continue
		}
		wait = r.CheckInterval
	}
}

// PrepareFiles makes sure the Secret holds valid certificates and writes them to
// CertDir, without touching the webhook configurations.
func (r *Rotator) PrepareFiles(ctx context.Context) error {
	_, err := r.prepare(ctx)
	return err
}

// Ensure makes the Secret hold a valid CA and serving certificate for Hosts, writes
// them to CertDir and injects the CA bundle. It is idempotent.
func (r *Rotator) Ensure(ctx context.Context) error {
	sec, err := r.prepare(ctx)
	if err != nil {
		return err
	}
	if r.WebhookConfigName == "" {
		return nil
	}
	return r.injectCABundle(ctx, bundle(sec.Data[keyCA], sec.Data[keyPreviousCA]))
}

func (r *Rotator) prepare(ctx context.Context) (*corev1.Secret, error) {
	r.defaults()
	if len(r.Hosts) == 0 {
		return nil, fmt.Errorf("no hosts for the webhook serving certificate")
	}
	var sec *corev1.Secret
	var err error
	// A conflict means another replica renewed at the same time: read its result.
	for attempt := 0; attempt < 5; attempt++ {
		sec, err = r.ensureSecret(ctx)
		if err == nil || (!apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err)) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return sec, r.writeFiles(sec)
}

func (r *Rotator) ensureSecret(ctx context.Context) (*corev1.Secret, error) {
	now := r.Now()
	sec := &corev1.Secret{}
	err := r.Reader.Get(ctx, types.NamespacedName{Namespace: r.Namespace, Name: r.SecretName}, sec)
	exists := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("reading secret %s/%s: %w", r.Namespace, r.SecretName, err)
	}
	if !exists {
		sec = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: r.Namespace, Name: r.SecretName,
				Labels: map[string]string{"app.kubernetes.io/name": "kubeask", "app.kubernetes.io/component": "webhook"}},
			Type: corev1.SecretTypeOpaque,
		}
	}
	if sec.Data == nil {
		sec.Data = map[string][]byte{}
	}
	ca := keyPair{Cert: sec.Data[keyCA], Key: sec.Data[keyCAKey]}
	serving := keyPair{Cert: sec.Data[keyCert], Key: sec.Data[keyKey]}
	previous := sec.Data[keyPreviousCA]
	changed := false

	if !caValid(ca, now, r.CARenewBefore) {
		if c, err := parseCert(ca.Cert); err == nil && now.Before(c.NotAfter) {
			previous = ca.Cert // still trusted by clients until it expires
		}
		if ca, err = newCA("kubeask-webhook-ca", now, r.CAValidity); err != nil {
			return nil, fmt.Errorf("creating CA: %w", err)
		}
		changed = true
	}
	if changed || !servingValid(ca, serving, r.Hosts, now, r.CertRenewBefore) {
		if serving, err = newServing(ca, r.Hosts, now, r.CertValidity); err != nil {
			return nil, fmt.Errorf("creating serving certificate: %w", err)
		}
		changed = true
	}
	if c, err := parseCert(previous); len(previous) > 0 && (err != nil || !now.Before(c.NotAfter)) {
		previous, changed = nil, true
	}
	if !changed {
		return sec, nil
	}
	sec.Data = map[string][]byte{keyCA: ca.Cert, keyCAKey: ca.Key, keyCert: serving.Cert, keyKey: serving.Key}
	if len(previous) > 0 {
		sec.Data[keyPreviousCA] = previous
	}
	if exists {
		err = r.Writer.Update(ctx, sec)
	} else {
		err = r.Writer.Create(ctx, sec)
	}
	if err != nil {
		return nil, fmt.Errorf("writing secret %s/%s: %w", r.Namespace, r.SecretName, err)
	}
	log.FromContext(ctx).Info("webhook certificates renewed", "secret", r.SecretName, "hosts", r.Hosts)
	return sec, nil
}

// writeFiles writes tls.crt and tls.key atomically when they differ, so that the
// webhook server's certificate watcher never reads a half-written pair.
func (r *Rotator) writeFiles(sec *corev1.Secret) error {
	if err := os.MkdirAll(r.CertDir, 0o700); err != nil {
		return err
	}
	for _, name := range []string{keyKey, keyCert} {
		path := filepath.Join(r.CertDir, name)
		if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, sec.Data[name]) { //nolint:gosec // G304: the manager's own --webhook-cert-dir and a constant file name
			continue
		}
		tmp, err := os.CreateTemp(r.CertDir, "."+name+"-*")
		if err != nil {
			return err
		}
		_, werr := tmp.Write(sec.Data[name])
		cerr := tmp.Close()
		if werr != nil || cerr != nil {
			_ = os.Remove(tmp.Name())
			return fmt.Errorf("writing %s: %w", path, errors.Join(werr, cerr))
		}
		if err := os.Chmod(tmp.Name(), 0o600); err != nil {
			return err
		}
		if err := os.Rename(tmp.Name(), path); err != nil {
			return err
		}
	}
	return nil
}

func (r *Rotator) injectCABundle(ctx context.Context, caBundle []byte) error {
	mwc := &admissionregistrationv1.MutatingWebhookConfiguration{}
	err := r.setBundles(ctx, mwc, caBundle, func() (out []*[]byte) {
		for i := range mwc.Webhooks {
			out = append(out, &mwc.Webhooks[i].ClientConfig.CABundle)
		}
		return out
	})
	if err != nil {
		return err
	}
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	return r.setBundles(ctx, vwc, caBundle, func() (out []*[]byte) {
		for i := range vwc.Webhooks {
			out = append(out, &vwc.Webhooks[i].ClientConfig.CABundle)
		}
		return out
	})
}

// setBundles reads the webhook configuration obj and sets every CA bundle that
// bundles points at (after the read) to caBundle, updating obj if any differed. A
// conflict (another replica, or a deployment tool, wrote it meanwhile) is retried on a
// fresh read.
func (r *Rotator) setBundles(ctx context.Context, obj client.Object, caBundle []byte, bundles func() []*[]byte) error {
	kind := fmt.Sprintf("%T", obj)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := r.Reader.Get(ctx, types.NamespacedName{Name: r.WebhookConfigName}, obj); err != nil {
			return fmt.Errorf("reading %s %s: %w", kind, r.WebhookConfigName, err)
		}
		changed := false
		for _, b := range bundles() {
			if !bytes.Equal(*b, caBundle) {
				*b = caBundle
				changed = true
			}
		}
		if !changed {
			return nil
		}
		return r.Writer.Update(ctx, obj)
	})
	if err != nil {
		return fmt.Errorf("injecting the CA bundle into %s %s: %w", kind, r.WebhookConfigName, err)
	}
	return nil
}

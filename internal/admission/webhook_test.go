package admission_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	admissionwebhook "github.com/kubeask/kubeask/internal/admission/webhook"
	"github.com/kubeask/kubeask/internal/manager"
	"github.com/kubeask/kubeask/internal/testcluster"
)

// TestWebhookPath enforces the same rules with the manager's webhooks, served with the
// manager's self-managed CA, for clusters without admission policies.
func TestWebhookPath(t *testing.T) {
	c, err := testcluster.Start(testcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	u := setupUsers(t, c)
	port := freePort(t)
	// setupUsers made namespace kubeask-system, with the operator's user.
	create(t, u.admin, webhookConfigurations(fmt.Sprintf("https://127.0.0.1:%d", port))...)

	opts := manager.NewOptions()
	opts.Admission = manager.AdmissionWebhook
	opts.WebhookPort = port
	opts.WebhookHosts = []string{"127.0.0.1"}
	opts.WebhookCertDir = t.TempDir()
	opts.MetricsAddr, opts.ProbeAddr = "0", "0"
	opts.Namespace = "kubeask-system"
	opts.Complete()
	if err := opts.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctrl.LoggerInto(context.Background(), ctrl.Log))
	done := make(chan error, 1)
	go func() { done <- opts.Run(ctx, c.Admin) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("manager: %v", err)
		}
	})

	runScenarios(t, u)
	runTriggerScenarios(t, u)
	runTrustScenarios(t, u)

	t.Run("the CA bundle was injected", func(t *testing.T) {
		m := get(t, u.admin, &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "kubeask"}})
		if len(m.Webhooks[0].ClientConfig.CABundle) == 0 {
			t.Fatal("mutating webhook has no CA bundle")
		}
	})
}

// webhookConfigurations mirrors the chart's webhook mode, with URLs instead of a
// Service because the manager runs outside the cluster here. No caBundle: the
// manager injects it.
func webhookConfigurations(base string) []client.Object {
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	rules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
		Rule: admissionregistrationv1.Rule{
			APIGroups: []string{"agents.kubeask.dev"}, APIVersions: []string{"*"},
			Resources: []string{"agentqueries", "agentsessions", "agenttriggers"},
		},
	}}
	// The validating webhook sees status writes too, as in the chart.
	statusRule := admissionregistrationv1.RuleWithOperations{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
		Rule: admissionregistrationv1.Rule{
			APIGroups: []string{"agents.kubeask.dev"}, APIVersions: []string{"*"},
			Resources: []string{"agentqueries/status", "agentsessions/status"},
		},
	}
	mutate := base + admissionwebhook.MutatePath
	validate := base + admissionwebhook.ValidatePath
	return []client.Object{
		&admissionregistrationv1.MutatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: "kubeask"},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{
				Name: "requester.agents.kubeask.dev", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &mutate},
				Rules: rules, FailurePolicy: &fail, SideEffects: &none, AdmissionReviewVersions: []string{"v1"},
			}},
		},
		&admissionregistrationv1.ValidatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: "kubeask"},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{
				Name: "requester.agents.kubeask.dev", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &validate},
				Rules: append(slices.Clip(rules), statusRule), FailurePolicy: &fail, SideEffects: &none, AdmissionReviewVersions: []string{"v1"},
			}},
		},
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

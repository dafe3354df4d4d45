package testcluster

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/admission/policy"
	"github.com/kubeask/kubeask/internal/manifest"
)

// InstallAdmissionPolicies applies kubeask's admission policies and waits until the API
// server enforces them in namespace ns: policies, and the CRD schemas the mutating one
// needs, take effect a few seconds after they are created.
func (c *Cluster) InstallAdmissionPolicies(ctx context.Context, ns string) error {
	admin, err := c.Client(c.Admin)
	if err != nil {
		return err
	}
	objs, err := policy.Objects()
	if err != nil {
		return err
	}
	if err := manifest.Apply(ctx, admin, "kubeask-test", objs); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		probe := &agentsv1alpha1.AgentSession{ObjectMeta: metav1.ObjectMeta{GenerateName: "probe-", Namespace: ns}}
		err := admin.Create(ctx, probe, client.DryRunAll)
		if err == nil && probe.Spec.Requester != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("admission policies not enforced after 60s (last error: %w)", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

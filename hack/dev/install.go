package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/manifest"
)

// fieldManager owns the demo objects the dev environment applies (kubeask itself is the
// chart's, installed by Helm).
const fieldManager = "kubeask-dev"

// demoManifests are the demo namespaces, their RBAC and a few workloads to ask about.
//
//go:embed demo.yaml
var demoManifests []byte

func newScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, agentsv1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("building the scheme: %w", err)
		}
	}
	return s, nil
}

func newClient(cfg *rest.Config) (client.Client, error) {
	s, err := newScheme()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		return nil, fmt.Errorf("creating a client: %w", err)
	}
	return c, nil
}

// waitForPolicies waits until the chart's admission policies act. Policies are loaded
// by the apiserver asynchronously after they are stored; declaring the environment ready
// before that would let a first query through without spec.requester.
func waitForPolicies(ctx context.Context, c client.Client) error {
	return waitFor(ctx, "the admission policies to stamp spec.requester", requesterStamped(c))
}

// requesterStamped dry-runs the creation of an AgentQuery (admission runs, nothing is
// stored) and checks that admission stamped the caller as requester.
func requesterStamped(c client.Client) func(context.Context) error {
	return func(ctx context.Context) error {
		q := &agentsv1alpha1.AgentQuery{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "dev-policy-probe-", Namespace: metav1.NamespaceDefault},
			Spec:       agentsv1alpha1.AgentQuerySpec{Prompt: "probe"},
		}
		if err := c.Create(ctx, q, client.DryRunAll); err != nil {
			return err
		}
		if q.Spec.Requester == nil || q.Spec.Requester.Username == "" {
			return errors.New("spec.requester not stamped yet")
		}
		return nil
	}
}

// installDemo applies demo.yaml.
func installDemo(ctx context.Context, c client.Client) error {
	objs, err := manifest.Decode(demoManifests)
	if err != nil {
		return fmt.Errorf("decoding demo.yaml: %w", err)
	}
	if err := manifest.Apply(ctx, c, fieldManager, objs); err != nil {
		return fmt.Errorf("installing the demo objects: %w", err)
	}
	return nil
}

// demoWorkloadsSettled checks that every Deployment of demo.yaml has all its pods and
// that the scheduler has seen each of them (with no nodes it marks them unschedulable
// and records a FailedScheduling Warning event in their namespace), so that the first
// question about them sees what the README promises.
func demoWorkloadsSettled(c client.Client) func(context.Context) error {
	return func(ctx context.Context) error {
		objs, err := manifest.Decode(demoManifests)
		if err != nil {
			return err
		}
		for _, o := range objs {
			if o.GetKind() != "Deployment" {
				continue
			}
			var d appsv1.Deployment
			if err := c.Get(ctx, client.ObjectKeyFromObject(o), &d); err != nil {
				return err
			}
			var pods corev1.PodList
			if err := c.List(ctx, &pods, client.InNamespace(d.Namespace), client.MatchingLabels(d.Spec.Selector.MatchLabels)); err != nil {
				return err
			}
			want := 1
			if d.Spec.Replicas != nil {
				want = int(*d.Spec.Replicas)
			}
			if len(pods.Items) < want {
				return fmt.Errorf("deployment %s/%s has %d of %d pods", d.Namespace, d.Name, len(pods.Items), want)
			}
			for _, p := range pods.Items {
				if !hasCondition(p.Status.Conditions, corev1.PodScheduled) {
					return fmt.Errorf("pod %s/%s is not seen by the scheduler yet", p.Namespace, p.Name)
				}
			}
			var events corev1.EventList
			if err := c.List(ctx, &events, client.InNamespace(d.Namespace)); err != nil {
				return err
			}
			if !slices.ContainsFunc(events.Items, func(e corev1.Event) bool { return e.Reason == "FailedScheduling" }) {
				return fmt.Errorf("no FailedScheduling event in namespace %s yet", d.Namespace)
			}
		}
		return nil
	}
}

func hasCondition(conds []corev1.PodCondition, t corev1.PodConditionType) bool {
	return slices.ContainsFunc(conds, func(c corev1.PodCondition) bool { return c.Type == t })
}

package tools

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// RolloutInput names a workload.
type RolloutInput struct {
	Kind      string `json:"kind" jsonschema:"deployment, statefulset or daemonset"`
	Name      string `json:"name" jsonschema:"workload name"`
	Namespace string `json:"namespace,omitempty" jsonschema:"namespace (default: default)"`
}

func (in RolloutInput) namespace() string {
	if in.Namespace == "" {
		return metav1.NamespaceDefault
	}
	return in.Namespace
}

// workloadKind normalizes kind names and short names.
func workloadKind(kind string) (string, error) {
	switch strings.ToLower(strings.TrimSuffix(strings.ToLower(kind), ".apps")) {
	case "deployment", "deployments", "deploy":
		return "deployment", nil
	case "statefulset", "statefulsets", "sts":
		return "statefulset", nil
	case "daemonset", "daemonsets", "ds":
		return "daemonset", nil
	}
	return "", ArgumentError{Reason: fmt.Sprintf("kind %q has no rollout: use deployment, statefulset or daemonset", kind)}
}

// rolloutStatus follows kubectl rollout status's rules, once, without waiting.
func rolloutStatus(ctx context.Context, env *Env, in RolloutInput) (*Result, error) {
	kind, err := workloadKind(in.Kind)
	if err != nil {
		return nil, err
	}
	ns := in.namespace()
	cs, err := env.Clientset()
	if err != nil {
		return nil, err
	}
	apps := cs.AppsV1()
	env.record("get", kind+"s", ns, in.Name)
	var msg string
	switch kind {
	case "deployment":
		d, err := apps.Deployments(ns).Get(ctx, in.Name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		msg = deploymentStatus(d)
	case "statefulset":
		s, err := apps.StatefulSets(ns).Get(ctx, in.Name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		want := int32(1)
		if s.Spec.Replicas != nil {
			want = *s.Spec.Replicas
		}
		switch {
		case s.Status.ObservedGeneration < s.Generation:
			msg = "waiting for the statefulset spec update to be observed"
		case s.Status.ReadyReplicas < want:
			msg = fmt.Sprintf("waiting: %d of %d pods ready", s.Status.ReadyReplicas, want)
		case s.Status.UpdateRevision != s.Status.CurrentRevision:
			msg = fmt.Sprintf("waiting: %d pods at the new revision %s", s.Status.UpdatedReplicas, s.Status.UpdateRevision)
		default:
			msg = fmt.Sprintf("rolled out: %d pods at revision %s", s.Status.CurrentReplicas, s.Status.CurrentRevision)
		}
	case "daemonset":
		d, err := apps.DaemonSets(ns).Get(ctx, in.Name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		switch {
		case d.Status.ObservedGeneration < d.Generation:
			msg = "waiting for the daemonset spec update to be observed"
		case d.Status.UpdatedNumberScheduled < d.Status.DesiredNumberScheduled:
			msg = fmt.Sprintf("waiting: %d of %d updated pods scheduled", d.Status.UpdatedNumberScheduled, d.Status.DesiredNumberScheduled)
		case d.Status.NumberAvailable < d.Status.DesiredNumberScheduled:
			msg = fmt.Sprintf("waiting: %d of %d updated pods available", d.Status.NumberAvailable, d.Status.DesiredNumberScheduled)
		default:
			msg = fmt.Sprintf("rolled out: %d pods available", d.Status.NumberAvailable)
		}
	}
	return &Result{Text: fmt.Sprintf("%s %s/%s: %s", kind, ns, in.Name, msg)}, nil
}

func deploymentStatus(d *appsv1.Deployment) string {
	if d.Generation > d.Status.ObservedGeneration {
		return "waiting for the deployment spec update to be observed"
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return "failed: the rollout exceeded its progress deadline: " + c.Message
		}
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	switch {
	case d.Status.UpdatedReplicas < want:
		return fmt.Sprintf("waiting: %d of %d new replicas updated", d.Status.UpdatedReplicas, want)
	case d.Status.Replicas > d.Status.UpdatedReplicas:
		return fmt.Sprintf("waiting: %d old replicas pending termination", d.Status.Replicas-d.Status.UpdatedReplicas)
	case d.Status.AvailableReplicas < d.Status.UpdatedReplicas:
		return fmt.Sprintf("waiting: %d of %d updated replicas available", d.Status.AvailableReplicas, d.Status.UpdatedReplicas)
	}
	return "successfully rolled out"
}

// rolloutHistory lists a deployment's revisions from its ReplicaSets.
func rolloutHistory(ctx context.Context, env *Env, in RolloutInput) (*Result, error) {
	kind, err := workloadKind(in.Kind)
	if err != nil {
		return nil, err
	}
	if kind != "deployment" {
		return nil, ArgumentError{Reason: "rollout_history supports deployments; for " + kind + "s list their controllerrevisions"}
	}
	ns := in.namespace()
	env.record("get", "deployments", ns, in.Name)
	cs, err := env.Clientset()
	if err != nil {
		return nil, err
	}
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, in.Name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment %s selector: %w", in.Name, err)
	}
	env.record("list", "replicasets", ns, "")
	rsList, err := cs.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, err
	}
	type rev struct {
		n    int64
		line string
	}
	var revs []rev
	for _, rs := range rsList.Items {
		if !metav1.IsControlledBy(&rs, d) {
			continue
		}
		n, _ := strconv.ParseInt(rs.Annotations["deployment.kubernetes.io/revision"], 10, 64)
		var images []string
		for _, c := range rs.Spec.Template.Spec.Containers {
			images = append(images, c.Image)
		}
		cause := rs.Annotations["kubernetes.io/change-cause"]
		if cause == "" {
			cause = "<none>"
		}
		revs = append(revs, rev{n, fmt.Sprintf("%d\t%s\t%s\treplicas=%d\tchange-cause=%s", n, rs.Name, strings.Join(images, ","), rs.Status.Replicas, cause)})
	}
	if len(revs) == 0 {
		return &Result{Text: "no revisions recorded for deployment " + in.Name}, nil
	}
	sort.Slice(revs, func(i, j int) bool { return revs[i].n < revs[j].n })
	var b strings.Builder
	fmt.Fprintf(&b, "deployment %s/%s revisions (REVISION REPLICASET IMAGES REPLICAS CHANGE-CAUSE):\n", ns, in.Name)
	for _, r := range revs {
		b.WriteString(r.line + "\n")
	}
	return &Result{Text: b.String()}, nil
}

func appsResource(kind string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: kind + "s"}
}

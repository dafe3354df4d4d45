// Package redacttest plants secret values in a cluster, in every place the redaction
// rules know of, and finds them again in text: the leak checks of the tools, the
// agent and the MCP endpoint share it.
package redacttest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeask/kubeask/internal/redact"
)

// Names of the planted objects.
const (
	OpaqueSecret   = "planted-opaque"
	AppliedSecret  = "planted-applied"
	Deployment     = "planted-app"
	Pod            = "planted-pod"
	ReplicaSet     = "planted-app-1"
	ServiceAccount = "planted-sa"
)

// Plants are the values planted in one namespace, by where they are.
type Plants struct {
	Namespace string
	// Values maps where a value is planted to the value.
	Values map[string]string
}

// New returns the values to plant in ns; suffix makes them unique to one test.
func New(ns, suffix string) *Plants {
	v := func(name string) string { return "planted-" + name + "-" + suffix }
	return &Plants{Namespace: ns, Values: map[string]string{
		"Secret data (a key that does not look like a credential)": v("secret-data"),
		"Secret stringData":                   v("secret-string"),
		"a Secret's last-applied annotation":  v("applied-secret"),
		"a Deployment's env value":            v("env-value"),
		"a Deployment's last-applied env":     v("applied-env"),
		"a URL's password in an env value":    v("url-pass"),
		"a Pod's env value":                   v("pod-env"),
		"a ReplicaSet's env value":            v("rs-env"),
		"a credential flag in container args": v("arg-value"),
	}}
}

// Objects are the objects that hold the values.
func (p *Plants) Objects() []client.Object {
	ns, val := p.Namespace, p.Values
	labels := map[string]string{"app": Deployment}
	lastApplied := func(obj any) string {
		b, err := json.Marshal(obj)
		if err != nil {
			panic(err) // plain maps always encode
		}
		return string(b)
	}
	container := func(envName, envValue string) corev1.Container {
		return corev1.Container{Name: "app", Image: "app:1",
			Env: []corev1.EnvVar{{Name: envName, Value: envValue}, {Name: "MODE", Value: "fast"},
				{Name: "DATABASE_URL", Value: "postgres://app:" + val["a URL's password in an env value"] + "@db:5432/app"}},
			Args: []string{"--db-password=" + val["a credential flag in container args"], "--port=8080"},
		}
	}
	return []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: ServiceAccount, Namespace: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: OpaqueSecret, Namespace: ns},
			Data:       map[string][]byte{"blob": []byte(val["Secret data (a key that does not look like a credential)"])},
			StringData: map[string]string{"config": val["Secret stringData"]}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: AppliedSecret, Namespace: ns, Annotations: map[string]string{
			redact.LastApplied: lastApplied(map[string]any{"apiVersion": "v1", "kind": "Secret",
				"metadata": map[string]any{"name": AppliedSecret, "namespace": ns},
				"data":     map[string]any{"blob": base64.StdEncoding.EncodeToString([]byte(val["a Secret's last-applied annotation"]))}}),
		}}, Data: map[string][]byte{"blob": []byte("rotated")}},
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: Deployment, Namespace: ns, Annotations: map[string]string{
				redact.LastApplied: lastApplied(map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
					"metadata": map[string]any{"name": Deployment, "namespace": ns},
					"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{
						map[string]any{"name": "app", "env": []any{map[string]any{"name": "DB_PASSWORD", "value": val["a Deployment's last-applied env"]}}},
					}}}}}),
			}},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{container("DB_PASSWORD", val["a Deployment's env value"])}},
				},
			},
		},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: Pod, Namespace: ns},
			Spec: corev1.PodSpec{Containers: []corev1.Container{container("API_TOKEN", val["a Pod's env value"])}}},
	}
}

// Plant creates the objects with c, and a ReplicaSet that the Deployment owns (there is
// no controller manager to make one), so that rollout history has a revision to show.
func (p *Plants) Plant(ctx context.Context, c client.Client) error {
	for _, o := range p.Objects() {
		if err := c.Create(ctx, o); err != nil {
			return fmt.Errorf("planting %T %s: %w", o, o.GetName(), err)
		}
	}
	d := &appsv1.Deployment{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: Deployment}, d); err != nil {
		return err
	}
	labels := map[string]string{"app": Deployment, "pod-template-hash": "1"}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: ReplicaSet, Namespace: p.Namespace, Labels: labels,
			Annotations:     map[string]string{"deployment.kubernetes.io/revision": "1"},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, appsv1.SchemeGroupVersion.WithKind("Deployment"))}},
		Spec: appsv1.ReplicaSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "app", Image: "app:1", Env: []corev1.EnvVar{{Name: "DB_PASSWORD", Value: p.Values["a ReplicaSet's env value"]}}}},
			}},
		},
	}
	if err := c.Create(ctx, rs); err != nil {
		return fmt.Errorf("planting the ReplicaSet: %w", err)
	}
	return nil
}

// token matches a JSON Web Token, such as a service account token.
var token = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+`)

// Leaks says which planted values text holds, as they are or base64-encoded, and
// whether it holds a bearer token.
func (p *Plants) Leaks(text string) []string {
	var found []string
	for where, v := range p.Values {
		if strings.Contains(text, v) || strings.Contains(text, base64.StdEncoding.EncodeToString([]byte(v))) {
			found = append(found, where)
		}
	}
	if token.MatchString(text) {
		found = append(found, "a bearer token")
	}
	sort.Strings(found)
	return found
}

// Seen says which planted values text holds, like Leaks: a test that expects the
// values to be shown checks that they are, so that it can fail.
func (p *Plants) Seen(text string) map[string]bool {
	seen := map[string]bool{}
	for _, where := range p.Leaks(text) {
		seen[where] = true
	}
	return seen
}

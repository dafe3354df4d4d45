package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubeask/kubeask/internal/manifest"
)

// ApplyInput are the arguments of resources_apply.
type ApplyInput struct {
	Manifest  string `json:"manifest" jsonschema:"one or more YAML or JSON documents, each a complete object with apiVersion, kind and metadata.name"`
	Namespace string `json:"namespace,omitempty" jsonschema:"namespace for namespaced objects that do not set one (default: default)"`
	DryRun    bool   `json:"dryRun,omitempty" jsonschema:"validate on the server without persisting"`
}

func applyResources(ctx context.Context, env *Env, in ApplyInput) (*Result, error) {
	objs, err := manifest.Decode([]byte(in.Manifest))
	if err != nil {
		return nil, ArgumentError{Reason: err.Error()}
	}
	if len(objs) == 0 {
		return nil, ArgumentError{Reason: "the manifest holds no object"}
	}
	var lines []string
	for _, obj := range objs {
		m, err := env.Mapper.Resolve(obj.GetKind(), obj.GetAPIVersion())
		if err != nil {
			return nil, err
		}
		ns := ""
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			ns = obj.GetNamespace()
			if ns == "" {
				ns = in.Namespace
			}
			if ns == "" {
				ns = metav1.NamespaceDefault
			}
			obj.SetNamespace(ns)
		}
		obj.SetManagedFields(nil)
		obj.SetResourceVersion("")
		body, err := json.Marshal(obj.Object)
		if err != nil {
			return nil, fmt.Errorf("encoding %s: %w", obj.GetName(), err)
		}
		opts := metav1.PatchOptions{FieldManager: env.FieldManager}
		if in.DryRun {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		env.record("patch", m.Resource.Resource, ns, obj.GetName())
		out, err := env.Dynamic.Resource(m.Resource).Namespace(ns).Patch(ctx, obj.GetName(), types.ApplyPatchType, body, opts)
		if err != nil {
			return nil, err
		}
		verb := "applied"
		if in.DryRun {
			verb = "applied (dry run)"
		}
		lines = append(lines, fmt.Sprintf("%s %s (generation %d)", objectRef(m.Resource.Resource, m.Resource.Group, ns, out.GetName()), verb, out.GetGeneration()))
	}
	return &Result{Text: strings.Join(lines, "\n")}, nil
}

func objectRef(resource, group, ns, name string) string {
	r := resource
	if group != "" {
		r += "." + group
	}
	if ns != "" {
		return fmt.Sprintf("%s %s/%s", r, ns, name)
	}
	return r + " " + name
}

// PatchInput are the arguments of resources_patch.
type PatchInput struct {
	ObjectInput
	PatchType string `json:"patchType,omitempty" jsonschema:"strategic (default; built-in kinds only), merge or json"`
	Patch     string `json:"patch" jsonschema:"the patch document, as JSON"`
}

func patchResource(ctx context.Context, env *Env, in PatchInput) (*Result, error) {
	var pt types.PatchType
	switch in.PatchType {
	case "", "strategic":
		pt = types.StrategicMergePatchType
	case "merge":
		pt = types.MergePatchType
	case "json":
		pt = types.JSONPatchType
	default:
		return nil, ArgumentError{Reason: fmt.Sprintf("patchType %q: use strategic, merge or json", in.PatchType)}
	}
	if !json.Valid([]byte(in.Patch)) {
		return nil, ArgumentError{Reason: "patch is not valid JSON"}
	}
	m, err := env.Mapper.Resolve(in.Resource, in.APIVersion)
	if err != nil {
		return nil, err
	}
	ns := namespaceFor(m, in.Namespace)
	env.record("patch", m.Resource.Resource, ns, in.Name)
	out, err := env.Dynamic.Resource(m.Resource).Namespace(ns).Patch(ctx, in.Name, pt, []byte(in.Patch), metav1.PatchOptions{FieldManager: env.FieldManager})
	if err != nil {
		return nil, err
	}
	return &Result{Text: fmt.Sprintf("%s patched (generation %d)", objectRef(m.Resource.Resource, m.Resource.Group, ns, out.GetName()), out.GetGeneration())}, nil
}

func deleteResource(ctx context.Context, env *Env, in ObjectInput) (*Result, error) {
	m, err := env.Mapper.Resolve(in.Resource, in.APIVersion)
	if err != nil {
		return nil, err
	}
	ns := namespaceFor(m, in.Namespace)
	env.record("delete", m.Resource.Resource, ns, in.Name)
	bg := metav1.DeletePropagationBackground
	if err := env.Dynamic.Resource(m.Resource).Namespace(ns).Delete(ctx, in.Name, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
		return nil, err
	}
	return &Result{Text: objectRef(m.Resource.Resource, m.Resource.Group, ns, in.Name) + " deleted"}, nil
}

// ScaleInput are the arguments of resources_scale.
type ScaleInput struct {
	ObjectInput
	Replicas int32 `json:"replicas" jsonschema:"the desired number of replicas"`
}

func scaleResource(ctx context.Context, env *Env, in ScaleInput) (*Result, error) {
	if in.Replicas < 0 {
		return nil, ArgumentError{Reason: "replicas must not be negative"}
	}
	m, err := env.Mapper.Resolve(in.Resource, in.APIVersion)
	if err != nil {
		return nil, err
	}
	ns := namespaceFor(m, in.Namespace)
	patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, in.Replicas)
	env.record("patch", m.Resource.Resource+"/scale", ns, in.Name)
	if _, err := env.Dynamic.Resource(m.Resource).Namespace(ns).Patch(ctx, in.Name, types.MergePatchType, []byte(patch),
		metav1.PatchOptions{FieldManager: env.FieldManager}, "scale"); err != nil {
		return nil, err
	}
	return &Result{Text: fmt.Sprintf("%s scaled to %d replicas", objectRef(m.Resource.Resource, m.Resource.Group, ns, in.Name), in.Replicas)}, nil
}

// restartAnnotation is the pod-template annotation kubectl rollout restart sets.
const restartAnnotation = "kubectl.kubernetes.io/restartedAt"

func rolloutRestart(ctx context.Context, env *Env, in RolloutInput) (*Result, error) {
	kind, err := workloadKind(in.Kind)
	if err != nil {
		return nil, err
	}
	ns := in.namespace()
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, restartAnnotation, time.Now().UTC().Format(time.RFC3339))
	env.record("patch", kind+"s", ns, in.Name)
	if _, err := env.Dynamic.Resource(appsResource(kind)).Namespace(ns).Patch(ctx, in.Name, types.StrategicMergePatchType, []byte(patch),
		metav1.PatchOptions{FieldManager: env.FieldManager}); err != nil {
		return nil, err
	}
	return &Result{Text: fmt.Sprintf("%s %s/%s restarted", kind, ns, in.Name)}, nil
}

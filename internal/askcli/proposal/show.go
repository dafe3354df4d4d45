// Package proposal shows a proposed step's exact change before a person decides on it,
// and records the decision. Live objects are read, and dry runs made, with the user's
// own credentials: what they see is what the change would do when run as them.
package proposal

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/kube"
	"github.com/kubeask/kubeask/internal/askcli/render"
)

// fieldManager is the one the agent's tools use, so that a dry run conflicts exactly
// where the real change would.
const fieldManager = "kubeask"

// Show writes what step would do: the command, and for apply and patch the manifest or
// patch and a diff of the live object against the server's dry run of the change. It
// shows the step's full arguments, the ones an approval's digest names.
func Show(ctx context.Context, c *kube.Client, w io.Writer, st render.Style, step agentsv1alpha1.Step) {
	arguments := step.Arguments
	if step.FullArguments != "" {
		arguments = step.FullArguments
	}
	fmt.Fprintf(w, "%s %s\n", st.Yellow(step.ID), st.Bold(render.Command(step.Tool, arguments)))
	if step.FullArguments == "" && step.Truncated {
		fmt.Fprintln(w, st.Red("  warning: the arguments were cut to fit the query's status; the change may not be what the model meant"))
	}
	if step.Digest != "" {
		fmt.Fprintln(w, st.Dim("  digest "+step.Digest+" (an approval runs exactly these arguments)"))
	}
	var args map[string]any
	_ = json.Unmarshal([]byte(arguments), &args)
	str := func(k string) string { v, _ := args[k].(string); return v }
	ns := str("namespace")
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	d := &differ{c: c, w: w, st: st}
	switch step.Tool {
	case "resources_apply":
		fmt.Fprintln(w, st.Dim("manifest:"))
		fmt.Fprintln(w, indent(str("manifest")))
		d.apply(ctx, str("manifest"), ns)
	case "resources_patch":
		pt := str("patchType")
		fmt.Fprintln(w, st.Dim("patch ("+cmpOr(pt, "strategic")+"):"))
		fmt.Fprintln(w, indent(prettyJSON(str("patch"))))
		d.patch(ctx, str("resource"), str("apiVersion"), str("name"), ns, patchType(pt), []byte(str("patch")), "")
	case "resources_scale":
		replicas, _ := args["replicas"].(float64)
		d.patch(ctx, str("resource"), str("apiVersion"), str("name"), ns, types.MergePatchType,
			fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, int(replicas)), "scale")
	case "kubectl":
		if in := str("stdin"); in != "" {
			fmt.Fprintln(w, st.Dim("manifest on stdin:"))
			fmt.Fprintln(w, indent(in))
		}
	}
}

type differ struct {
	c  *kube.Client
	w  io.Writer
	st render.Style
}

func (d *differ) notef(format string, args ...any) {
	fmt.Fprintln(d.w, d.st.Dim("  "+fmt.Sprintf(format, args...)))
}

func (d *differ) clients() (meta.RESTMapper, dynamic.Interface, bool) {
	mapper, err := d.c.KubectlMapper()
	if err != nil {
		d.notef("(no diff: %v)", err)
		return nil, nil, false
	}
	dyn, err := d.c.Dynamic()
	if err != nil {
		d.notef("(no diff: %v)", err)
		return nil, nil, false
	}
	return mapper, dyn, true
}

// apply diffs each object of the manifest against the server's dry run of applying it.
func (d *differ) apply(ctx context.Context, manifest, defaultNS string) {
	mapper, dyn, ok := d.clients()
	if !ok {
		return
	}
	for _, doc := range strings.Split("\n"+manifest, "\n---") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil || obj.Object == nil {
			d.notef("(no diff: the manifest does not parse: %v)", err)
			return
		}
		gvk := obj.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			d.notef("(no diff for %s/%s: %v)", gvk.Kind, obj.GetName(), err)
			continue
		}
		ri := dynamic.ResourceInterface(dyn.Resource(m.Resource))
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			if obj.GetNamespace() == "" {
				obj.SetNamespace(defaultNS)
			}
			ri = dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
		}
		body, err := json.Marshal(obj.Object)
		if err != nil {
			continue
		}
		ref := strings.ToLower(gvk.Kind) + "/" + obj.GetName()
		live, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			d.notef("(cannot read the live %s as you: %v)", ref, err)
			live = nil
		} else if err != nil {
			live = nil
		}
		after, err := ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, body,
			metav1.PatchOptions{FieldManager: fieldManager, DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			d.notef("(the server's dry run of this change as you fails, so the change would fail too: %v)", err)
			continue
		}
		d.diff(ref, live, after)
	}
}

// patch diffs the object against the server's dry run of the patch.
func (d *differ) patch(ctx context.Context, resource, apiVersion, name, ns string, pt types.PatchType, patch []byte, subresource string) {
	mapper, dyn, ok := d.clients()
	if !ok {
		return
	}
	gvr, err := resolve(mapper, resource, apiVersion)
	if err != nil {
		d.notef("(no diff: %v)", err)
		return
	}
	ri := dynamic.ResourceInterface(dyn.Resource(gvr.Resource))
	if gvr.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = dyn.Resource(gvr.Resource).Namespace(ns)
	}
	var subs []string
	if subresource != "" {
		subs = []string{subresource}
	}
	ref := gvr.Resource.Resource + "/" + name
	live, err := ri.Get(ctx, name, metav1.GetOptions{}, subs...)
	if err != nil {
		d.notef("(cannot read the live %s as you: %v)", ref, err)
		return
	}
	after, err := ri.Patch(ctx, name, pt, patch, metav1.PatchOptions{FieldManager: fieldManager, DryRun: []string{metav1.DryRunAll}}, subs...)
	if err != nil {
		d.notef("(the server's dry run of this change as you fails, so the change would fail too: %v)", err)
		return
	}
	d.diff(ref, live, after)
}

func (d *differ) diff(ref string, live, after *unstructured.Unstructured) {
	before, name := "", "/dev/null"
	if live != nil {
		before, name = cleanYAML(live), "live "+ref
	}
	text := render.Diff(d.st, before, cleanYAML(after), name, "after the change (server dry run as you)")
	if text == "" {
		d.notef("(no change to %s)", ref)
		return
	}
	fmt.Fprint(d.w, text)
}

// cleanYAML is the object as YAML without the fields that change on every write.
func cleanYAML(o *unstructured.Unstructured) string {
	o = o.DeepCopy()
	o.SetManagedFields(nil)
	o.SetResourceVersion("")
	o.SetGeneration(0)
	o.SetUID("")
	o.SetCreationTimestamp(metav1.Time{})
	unstructured.RemoveNestedField(o.Object, "metadata", "creationTimestamp")
	b, err := yaml.Marshal(o.Object)
	if err != nil {
		return ""
	}
	return string(b)
}

// resolve maps a kubectl-style resource name ("deploy", "deployments.apps", "Deployment")
// to its REST mapping.
func resolve(mapper meta.RESTMapper, resource, apiVersion string) (*meta.RESTMapping, error) {
	gvr, gr := schema.ParseResourceArg(strings.ToLower(resource))
	var gvk schema.GroupVersionKind
	var err error
	if gvr != nil {
		gvk, err = mapper.KindFor(*gvr)
	}
	if gvr == nil || err != nil {
		gvk, err = mapper.KindFor(gr.WithVersion(""))
	}
	if err != nil {
		// A kind name, e.g. "Deployment".
		gk := schema.ParseGroupKind(resource)
		version := ""
		if apiVersion != "" {
			if gv, perr := schema.ParseGroupVersion(apiVersion); perr == nil {
				gk.Group, version = gv.Group, gv.Version
			}
		}
		m, kerr := mapper.RESTMapping(gk, version)
		if kerr != nil {
			return nil, err
		}
		return m, nil
	}
	return mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
}

func patchType(t string) types.PatchType {
	switch t {
	case "merge":
		return types.MergePatchType
	case "json":
		return types.JSONPatchType
	}
	return types.StrategicMergePatchType
}

func prettyJSON(s string) string {
	var v any
	if json.Unmarshal([]byte(s), &v) != nil {
		return s
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return s
	}
	return string(b)
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

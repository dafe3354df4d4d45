// Package output prints kubeask objects for scripts: -o json, yaml or name, as kubectl
// does.
package output

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/yaml"

	"github.com/kubeask/kubeask/internal/askcli/exitcode"
	"github.com/kubeask/kubeask/internal/askcli/kube"
)

// Formats are the values of -o.
var Formats = []string{"json", "yaml", "name"}

// Validate checks an -o value ("" is the human format).
func Validate(format string) error {
	if format == "" {
		return nil
	}
	for _, f := range Formats {
		if f == format {
			return nil
		}
	}
	return exitcode.UsageErrorf("unknown output format %q: use one of %s", format, strings.Join(Formats, ", "))
}

// Print writes obj in format. A list prints every item for "name".
func Print(w io.Writer, format string, obj runtime.Object) error {
	if err := setKind(obj); err != nil {
		return err
	}
	switch format {
	case "json":
		b, err := json.MarshalIndent(obj, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(b))
		return err
	case "yaml":
		b, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	case "name":
		return printNames(w, obj)
	}
	return exitcode.UsageErrorf("unknown output format %q", format)
}

func printNames(w io.Writer, obj runtime.Object) error {
	items := []runtime.Object{obj}
	if list, err := extractList(obj); err == nil {
		items = list
	}
	for _, it := range items {
		if err := setKind(it); err != nil {
			return err
		}
		o, ok := it.(client.Object)
		if !ok {
			continue
		}
		gvk := o.GetObjectKind().GroupVersionKind()
		if _, err := fmt.Fprintf(w, "%s.%s/%s\n", strings.ToLower(gvk.Kind), gvk.Group, o.GetName()); err != nil {
			return err
		}
	}
	return nil
}

// setKind fills apiVersion and kind, which typed clients leave empty.
func setKind(obj runtime.Object) error {
	if !obj.GetObjectKind().GroupVersionKind().Empty() {
		return nil
	}
	gvk, err := apiutil.GVKForObject(obj, kube.Scheme())
	if err != nil {
		return err
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	if list, err := extractList(obj); err == nil {
		for _, it := range list {
			if err := setKind(it); err != nil {
				return err
			}
		}
	}
	return nil
}

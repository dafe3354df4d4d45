package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// tableAccept asks the API server for its own Table rendering, the one kubectl get
// prints: compact, with the columns each resource's authors chose.
const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"

// resourcePath is the REST path of a resource collection.
func resourcePath(m *meta.RESTMapping, namespace string) string {
	var b strings.Builder
	if m.Resource.Group == "" {
		b.WriteString("/api/" + m.Resource.Version)
	} else {
		b.WriteString("/apis/" + m.Resource.Group + "/" + m.Resource.Version)
	}
	if namespace != "" && m.Scope.Name() == meta.RESTScopeNameNamespace {
		b.WriteString("/namespaces/" + namespace)
	}
	b.WriteString("/" + m.Resource.Resource)
	return b.String()
}

// listTable lists a resource as a server-side Table.
func (e *Env) listTable(ctx context.Context, m *meta.RESTMapping, namespace string, opts metav1.ListOptions) (*metav1.Table, error) {
	// Rows carry their object's metadata only when a NAMESPACE column needs it: sending
	// and decoding it (managedFields included) made a 500-pod listing about 1.5x slower
	// (BenchmarkToolOverheadRatio, docs/benchmarks.md).
	include := "None"
	if namespace == "" {
		include = "Metadata"
	}
	req := e.REST.Get().AbsPath(resourcePath(m, namespace)).
		SetHeader("Accept", tableAccept).
		Param("includeObject", include)
	if opts.LabelSelector != "" {
		req = req.Param("labelSelector", opts.LabelSelector)
	}
	if opts.FieldSelector != "" {
		req = req.Param("fieldSelector", opts.FieldSelector)
	}
	if opts.Limit > 0 {
		req = req.Param("limit", strconv.FormatInt(opts.Limit, 10))
	}
	e.record("list", m.Resource.Resource, namespace, "")
	raw, err := req.Do(ctx).Raw()
	if err != nil {
		// The unversioned client cannot decode the API server's Status body itself and
		// reports "unknown"; decode it here so the caller sees the real reason.
		var st metav1.Status
		if json.Unmarshal(raw, &st) == nil && st.Kind == "Status" {
			return nil, &apierrors.StatusError{ErrStatus: st}
		}
		return nil, err
	}
	var t metav1.Table
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("decoding table of %s: %w", m.Resource.Resource, err)
	}
	if t.Kind != "Table" {
		return nil, fmt.Errorf("the API server answered %q, not a Table, for %s", t.Kind, m.Resource.Resource)
	}
	return &t, nil
}

// renderTable prints the table's default columns, with a NAMESPACE column first when
// withNamespace is set.
func renderTable(t *metav1.Table, withNamespace bool) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	var cols []int
	var header []string
	if withNamespace {
		header = append(header, "NAMESPACE")
	}
	for i, c := range t.ColumnDefinitions {
		if c.Priority == 0 {
			cols = append(cols, i)
			header = append(header, strings.ToUpper(c.Name))
		}
	}
	fmt.Fprintln(w, strings.Join(header, "\t"))
	for _, row := range t.Rows {
		var cells []string
		if withNamespace {
			cells = append(cells, rowNamespace(row))
		}
		for _, i := range cols {
			if i < len(row.Cells) {
				cells = append(cells, cellString(row.Cells[i]))
			}
		}
		fmt.Fprintln(w, strings.Join(cells, "\t"))
	}
	_ = w.Flush()
	return b.String()
}

func rowNamespace(row metav1.TableRow) string {
	var m metav1.PartialObjectMetadata
	if len(row.Object.Raw) > 0 && json.Unmarshal(row.Object.Raw, &m) == nil {
		return m.Namespace
	}
	return ""
}

func cellString(v any) string {
	switch t := v.(type) {
	case nil:
		return "<none>"
	case string:
		if t == "" {
			return "<none>"
		}
		return strings.ReplaceAll(t, "\t", " ")
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	default:
		return fmt.Sprint(t)
	}
}

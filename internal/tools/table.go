package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

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

// Bounds of the pages resources_list reads (variables for the tests).
var (
	// listPageSize is the most rows one request asks the API server for.
	listPageSize int64 = 250
	// maxTablePageBytes bounds the answer to one request, should a server not honour
	// the limit (an aggregated API may not).
	maxTablePageBytes int64 = 8 << 20
)

// pageTooLargeError is an answer larger than maxTablePageBytes.
type pageTooLargeError struct {
	resource string
	max      int64
}

func (e *pageTooLargeError) Error() string {
	return fmt.Sprintf("the API server's answer listing %s is larger than %d bytes, and was not read", e.resource, e.max)
}

// listedRows are the rows of a paged listing, rendered to text cells.
type listedRows struct {
	header []string
	rows   [][]string
	// more is set when rows exist beyond rows; moreCount is how many when moreKnown.
	more      bool
	moreKnown bool
	moreCount int64
	// budgetFull is set when the rows fill the output budget.
	budgetFull bool
	// err ended the listing after its first page.
	err error
}

// listRows lists a resource as server-side Tables, page by page (at most listPageSize
// rows a request), until it has limit rows, the API server has no more, or the rows
// fill budget bytes (nothing more could be shown). Only the cells of the rows are
// kept, so memory holds one page and the rows returned.
func (e *Env) listRows(ctx context.Context, m *meta.RESTMapping, namespace string, opts metav1.ListOptions, limit int64, withNamespace bool, budget int) (*listedRows, error) {
	l := &listedRows{}
	var cols []int
	size := 0
	for {
		opts.Limit = min(listPageSize, limit-int64(len(l.rows)))
		t, err := e.listTable(ctx, m, namespace, opts)
		if err != nil {
			if len(l.rows) == 0 {
				return nil, err
			}
			l.more, l.err = true, err
			return l, nil
		}
		if l.header == nil {
			l.header, cols = tableHeader(t, withNamespace)
		}
		var dropped int64
		for i, row := range t.Rows {
			if int64(len(l.rows)) == limit || size >= budget {
				// Rows that cannot be shown, or a server that returned more than asked.
				dropped = int64(len(t.Rows) - i)
				break
			}
			cells := rowCells(row, cols, withNamespace)
			l.rows = append(l.rows, cells)
			size += rowWidth(cells)
		}
		l.budgetFull = size >= budget
		opts.Continue = t.Continue
		switch {
		case opts.Continue == "":
			l.more, l.moreKnown, l.moreCount = dropped > 0, true, dropped
			return l, nil
		case int64(len(l.rows)) >= limit || l.budgetFull:
			l.more = true
			if t.RemainingItemCount != nil {
				l.moreKnown, l.moreCount = true, dropped+*t.RemainingItemCount
			}
			return l, nil
		}
	}
}

// listTable lists one page of a resource as a server-side Table.
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
	if opts.Continue != "" {
		req = req.Param("continue", opts.Continue)
	}
	e.record("list", m.Resource.Resource, namespace, "")
	// Stream, not Do: Do reads the whole answer, however large; this reads at most
	// maxTablePageBytes. An error answer is decoded from its Status either way.
	body, err := req.Stream(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(body, maxTablePageBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the table of %s: %w", m.Resource.Resource, err)
	}
	if int64(len(raw)) > maxTablePageBytes {
		return nil, &pageTooLargeError{resource: m.Resource.Resource, max: maxTablePageBytes}
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

// tableHeader returns the header of the table's default columns, with a NAMESPACE
// column first when withNamespace is set, and the indexes of those columns.
func tableHeader(t *metav1.Table, withNamespace bool) ([]string, []int) {
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
	return header, cols
}

// rowCells renders the cells of cols of one row.
func rowCells(row metav1.TableRow, cols []int, withNamespace bool) []string {
	var cells []string
	if withNamespace {
		cells = append(cells, rowNamespace(row))
	}
	for _, i := range cols {
		if i < len(row.Cells) {
			cells = append(cells, cellString(row.Cells[i]))
		}
	}
	return cells
}

// rowWidth is the least a row takes once rendered: its cells, the padding between
// them and the newline.
func rowWidth(cells []string) int {
	n := 0
	for _, c := range cells {
		n += len(c) + 2
	}
	return n
}

// renderRows aligns the header and the rows in columns.
func renderRows(header []string, rows [][]string) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, strings.Join(header, "\t"))
	for _, cells := range rows {
		fmt.Fprintln(w, strings.Join(cells, "\t"))
	}
	_ = w.Flush()
	return b.String()
}

// fitRows renders the header and as many of the first rows as fit in room bytes, and
// says how many. Fewer rows only narrow the columns, so the rows whose lines fit in the
// rendering of them all still fit once rendered alone.
func fitRows(header []string, rows [][]string, room int) (string, int) {
	text := renderRows(header, rows)
	if len(text) <= room {
		return text, len(rows)
	}
	n := 0
	if room > 0 {
		n = max(strings.Count(text[:room], "\n")-1, 0) // whole lines, less the header
	}
	return renderRows(header, rows[:n]), n
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

package tools

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/kubeask/kubeask/internal/redact"
)

// Bounds of resources_list.
const (
	// DefaultListLimit is how many rows resources_list returns when the caller sets no
	// limit.
	DefaultListLimit = 200
	// MaxListLimit is the most rows resources_list returns: a larger limit is lowered
	// to it, and the result says so.
	MaxListLimit = 500
)

// listNotesBytes is about what the intro and the notes of a listing take.
const listNotesBytes = 256

// ListInput are the arguments of resources_list.
type ListInput struct {
	Resource      string `json:"resource" jsonschema:"resource type: plural, singular, short name or kind, optionally with group (pods, deploy, Deployment, ingresses.networking.k8s.io)"`
	APIVersion    string `json:"apiVersion,omitempty" jsonschema:"group/version to use when several serve the resource, e.g. apps/v1"`
	Namespace     string `json:"namespace,omitempty" jsonschema:"namespace to list in; empty with allNamespaces false means the default namespace"`
	AllNamespaces bool   `json:"allNamespaces,omitempty" jsonschema:"list across all namespaces the requester may read"`
	LabelSelector string `json:"labelSelector,omitempty" jsonschema:"label selector, e.g. app=checkout,tier!=db"`
	FieldSelector string `json:"fieldSelector,omitempty" jsonschema:"field selector, e.g. status.phase=Running"`
	Limit         int64  `json:"limit,omitempty" jsonschema:"maximum number of items (default 200, at most 500: a larger limit is lowered to 500). The result says when more exist; narrow with a selector rather than raising the limit"`
}

func listResources(ctx context.Context, env *Env, in ListInput) (*Result, error) {
	m, err := env.Mapper.Resolve(in.Resource, in.APIVersion)
	if err != nil {
		return nil, err
	}
	ns := in.Namespace
	namespaced := m.Scope.Name() == meta.RESTScopeNameNamespace
	if !namespaced || in.AllNamespaces {
		ns = ""
	} else if ns == "" {
		ns = metav1.NamespaceDefault
	}
	limit := in.Limit
	var notes []string
	switch {
	case limit <= 0:
		limit = DefaultListLimit
	case limit > MaxListLimit:
		notes = append(notes, fmt.Sprintf("[The limit %d is above the maximum of %d: at most %d are listed.]", limit, MaxListLimit, MaxListLimit))
		limit = MaxListLimit
	}
	withNamespace := namespaced && ns == ""
	budget := env.maxBytes()
	// Rows beyond what the output budget can show, less the intro and the notes, are
	// not read.
	l, err := env.listRows(ctx, m, ns, metav1.ListOptions{LabelSelector: in.LabelSelector, FieldSelector: in.FieldSelector}, limit, withNamespace, budget-listNotesBytes)
	if err != nil {
		return nil, err
	}
	where := "cluster-wide"
	if namespaced {
		where = "in namespace " + ns
		if ns == "" {
			where = "in all namespaces"
		}
	}
	if len(l.rows) == 0 && !l.more {
		return &Result{Text: strings.Join(append([]string{fmt.Sprintf("No %s found %s.", m.Resource.Resource, where)}, notes...), "\n")}, nil
	}
	intro := func(n int, complete bool) string {
		if complete {
			return fmt.Sprintf("%s %s:\n", countOf(n, m.Resource.Resource, m.GroupVersionKind.Kind), where)
		}
		return fmt.Sprintf("%s %s (not all of them: see the note at the end):\n", countOf(n, m.Resource.Resource, m.GroupVersionKind.Kind), where)
	}
	table := renderRows(l.header, l.rows)
	shown := len(l.rows)
	if !l.more && len(notes) == 0 && len(intro(shown, true))+len(table) <= budget {
		return &Result{Text: intro(shown, true) + table}, nil
	}
	// The notes after the table say what is missing; the rows shown are cut so that the
	// output bound does not cut the notes off.
	tail := func(shown int) string {
		out := slices.Clone(notes)
		if l.more || shown < len(l.rows) {
			more := "More"
			if l.moreKnown {
				more = strconv.FormatInt(l.moreCount+int64(len(l.rows)-shown), 10) + " more"
			}
			reason := fmt.Sprintf("the limit is %d", limit)
			if shown < len(l.rows) || l.budgetFull {
				reason = fmt.Sprintf("the output budget of %d bytes is full", budget)
			} else if limit < MaxListLimit {
				reason += fmt.Sprintf(" (at most %d)", MaxListLimit)
			}
			out = append(out, fmt.Sprintf("[%s %s not shown: %s. Narrow the request with a namespace, a labelSelector or a fieldSelector.]", more, m.Resource.Resource, reason))
		}
		if l.err != nil {
			out = append(out, "[Listing stopped early: "+l.err.Error()+"]")
		}
		return strings.Join(out, "\n") + "\n"
	}
	room := budget - len(intro(shown, false)) - max(len(tail(0)), len(tail(shown))) - 8
	if len(table) > room {
		table, shown = fitRows(l.header, l.rows, room)
	}
	return &Result{Text: intro(shown, !l.more && shown == len(l.rows)) + table + tail(shown)}, nil
}

// ObjectInput names one object.
type ObjectInput struct {
	Resource   string `json:"resource" jsonschema:"resource type: plural, singular, short name or kind (pod, deploy, Deployment, configmaps)"`
	Name       string `json:"name" jsonschema:"object name"`
	Namespace  string `json:"namespace,omitempty" jsonschema:"namespace of a namespaced object (default: default)"`
	APIVersion string `json:"apiVersion,omitempty" jsonschema:"group/version, when several serve the resource"`
}

// namespaceFor returns the namespace to use for m.
func namespaceFor(m *meta.RESTMapping, ns string) string {
	if m.Scope.Name() != meta.RESTScopeNameNamespace {
		return ""
	}
	if ns == "" {
		return metav1.NamespaceDefault
	}
	return ns
}

func getResource(ctx context.Context, env *Env, in ObjectInput) (*Result, error) {
	m, err := env.Mapper.Resolve(in.Resource, in.APIVersion)
	if err != nil {
		return nil, err
	}
	ns := namespaceFor(m, in.Namespace)
	env.record("get", m.Resource.Resource, ns, in.Name)
	obj, err := env.Dynamic.Resource(m.Resource).Namespace(ns).Get(ctx, in.Name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return env.objectResult(obj)
}

func describeResource(ctx context.Context, env *Env, in ObjectInput) (*Result, error) {
	res, err := getResource(ctx, env, in)
	if err != nil {
		return nil, err
	}
	m, err := env.Mapper.Resolve(in.Resource, in.APIVersion)
	if err != nil {
		return nil, err
	}
	ns := namespaceFor(m, in.Namespace)
	events, err := eventsFor(ctx, env, ns, fields.Set{"involvedObject.name": in.Name, "involvedObject.kind": m.GroupVersionKind.Kind}.String())
	if err != nil {
		// The object is readable but its events may not be: say so instead of failing.
		if r, cerr := Classify(err); cerr == nil {
			return res.with("\nEvents: " + r.Text + "\n"), nil
		}
		return nil, err
	}
	return res.with("\nEvents:\n" + events), nil
}

// with returns res with more appended to what is shown and what is recorded, redacted
// as text (event messages are free text).
func (res *Result) with(more string) *Result {
	more, _ = redact.Text(more)
	out := *res
	out.Text += more
	out.Recorded += more
	return &out
}

// EventsInput are the arguments of events_list.
type EventsInput struct {
	Namespace     string `json:"namespace,omitempty" jsonschema:"namespace (default: default)"`
	AllNamespaces bool   `json:"allNamespaces,omitempty" jsonschema:"events of all namespaces the requester may read"`
	ObjectName    string `json:"objectName,omitempty" jsonschema:"only events about the object with this name"`
	ObjectKind    string `json:"objectKind,omitempty" jsonschema:"only events about objects of this kind, e.g. Pod"`
	WarningsOnly  bool   `json:"warningsOnly,omitempty" jsonschema:"only events of type Warning"`
}

func listEvents(ctx context.Context, env *Env, in EventsInput) (*Result, error) {
	sel := fields.Set{}
	if in.ObjectName != "" {
		sel["involvedObject.name"] = in.ObjectName
	}
	if in.ObjectKind != "" {
		sel["involvedObject.kind"] = in.ObjectKind
	}
	if in.WarningsOnly {
		sel["type"] = corev1.EventTypeWarning
	}
	ns := in.Namespace
	if in.AllNamespaces {
		ns = ""
	} else if ns == "" {
		ns = metav1.NamespaceDefault
	}
	text, err := eventsFor(ctx, env, ns, sel.String())
	if err != nil {
		return nil, err
	}
	return &Result{Text: text}, nil
}

// eventsFor renders the events matching a field selector, oldest first.
func eventsFor(ctx context.Context, env *Env, ns, fieldSelector string) (string, error) {
	env.record("list", "events", ns, "")
	cs, err := env.Clientset()
	if err != nil {
		return "", err
	}
	list, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: fieldSelector, Limit: 500})
	if err != nil {
		return "", err
	}
	if len(list.Items) == 0 {
		return "<none>\n", nil
	}
	items := list.Items
	sort.SliceStable(items, func(i, j int) bool { return eventTime(items[i]).Time.Before(eventTime(items[j]).Time) })
	var b strings.Builder
	for _, e := range items {
		fmt.Fprintf(&b, "%s %s %s/%s %s: %s (x%d)\n", eventTime(e).UTC().Format("2006-01-02T15:04:05Z"), e.Type,
			e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, strings.TrimSpace(e.Message), max(e.Count, 1))
	}
	return b.String(), nil
}

func eventTime(e corev1.Event) metav1.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp
	case !e.EventTime.IsZero():
		return metav1.Time{Time: e.EventTime.Time}
	default:
		return e.CreationTimestamp
	}
}

// LogsInput are the arguments of pods_log.
type LogsInput struct {
	Name         string `json:"name" jsonschema:"pod name"`
	Namespace    string `json:"namespace,omitempty" jsonschema:"namespace (default: default)"`
	Container    string `json:"container,omitempty" jsonschema:"container name, required when the pod has several"`
	Previous     bool   `json:"previous,omitempty" jsonschema:"logs of the previous, crashed instance of the container"`
	TailLines    int64  `json:"tailLines,omitempty" jsonschema:"number of lines from the end (default 200)"`
	SinceSeconds int64  `json:"sinceSeconds,omitempty" jsonschema:"only lines newer than this many seconds"`
}

func podLogs(ctx context.Context, env *Env, in LogsInput) (*Result, error) {
	ns := in.Namespace
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	if in.TailLines <= 0 {
		in.TailLines = 200
	}
	opts := &corev1.PodLogOptions{Container: in.Container, Previous: in.Previous, TailLines: &in.TailLines}
	if in.SinceSeconds > 0 {
		opts.SinceSeconds = &in.SinceSeconds
	}
	env.record("get", "pods/log", ns, in.Name)
	// LimitBytes keeps a chatty container from filling memory; the result is bounded again.
	opts.LimitBytes = new(int64(4 * env.maxBytes()))
	cs, err := env.Clientset()
	if err != nil {
		return nil, err
	}
	b, err := cs.CoreV1().Pods(ns).GetLogs(in.Name, opts).DoRaw(ctx)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return &Result{Text: "(no log lines)"}, nil
	}
	return &Result{Text: string(b)}, nil
}

// APIResourcesInput are the arguments of api_resources.
type APIResourcesInput struct {
	APIGroup   string `json:"apiGroup,omitempty" jsonschema:"only this API group; \"core\" for the core group"`
	Namespaced *bool  `json:"namespaced,omitempty" jsonschema:"only namespaced (true) or cluster-scoped (false) resources"`
}

// apiResources lists the API as the requester sees it: discovery runs with their
// identity, so an API server that denies them discovery (or part of it) answers for
// them, not the operator.
func apiResources(_ context.Context, env *Env, in APIResourcesInput) (*Result, error) {
	dc, err := env.Discovery()
	if err != nil {
		return nil, err
	}
	env.record("get", "discovery", "", "")
	_, lists, err := dc.ServerGroupsAndResources()
	if err != nil && len(lists) == 0 {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintln(&b, "NAME\tSHORTNAMES\tAPIVERSION\tNAMESPACED\tKIND\tVERBS")
	for _, l := range lists {
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") {
				continue
			}
			group := strings.Split(l.GroupVersion, "/")[0]
			if !strings.Contains(l.GroupVersion, "/") {
				group = "core"
			}
			if in.APIGroup != "" && in.APIGroup != group {
				continue
			}
			if in.Namespaced != nil && *in.Namespaced != r.Namespaced {
				continue
			}
			fmt.Fprintf(&b, "%s\t%s\t%s\t%t\t%s\t%s\n", r.Name, strings.Join(r.ShortNames, ","), l.GroupVersion, r.Namespaced, r.Kind, strings.Join(r.Verbs, ","))
		}
	}
	return &Result{Text: b.String()}, nil
}

// CanIInput are the arguments of auth_can_i.
type CanIInput struct {
	Verb        string `json:"verb" jsonschema:"get, list, watch, create, update, patch, delete, ..."`
	Resource    string `json:"resource" jsonschema:"resource type, e.g. pods or deployments.apps"`
	Subresource string `json:"subresource,omitempty" jsonschema:"subresource, e.g. log or scale"`
	Namespace   string `json:"namespace,omitempty" jsonschema:"namespace; empty checks cluster-wide"`
	Name        string `json:"name,omitempty" jsonschema:"a specific object name"`
}

func canI(ctx context.Context, env *Env, in CanIInput) (*Result, error) {
	group, resource := "", in.Resource
	if m, err := env.Mapper.Resolve(in.Resource, ""); err == nil {
		group, resource = m.Resource.Group, m.Resource.Resource
	}
	ssar := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: in.Namespace, Verb: in.Verb, Group: group, Resource: resource,
			Subresource: in.Subresource, Name: in.Name,
		},
	}}
	env.record("create", "selfsubjectaccessreviews", "", "")
	cs, err := env.Clientset()
	if err != nil {
		return nil, err
	}
	out, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, ssar, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	answer := "no"
	if out.Status.Allowed {
		answer = "yes"
	}
	if out.Status.Reason != "" {
		answer += " (" + out.Status.Reason + ")"
	}
	return &Result{Text: answer}, nil
}

// countOf says how many of a resource there are: "2 pods", but "1 pod" (the kind, in
// lower case, names one: "1 configmap", "1 endpoints").
func countOf(n int, plural, kind string) string {
	if n == 1 && kind != "" {
		return "1 " + strings.ToLower(kind)
	}
	return fmt.Sprintf("%d %s", n, plural)
}

package filter

import (
	"errors"
	"fmt"
	"path"
	"slices"

	corev1 "k8s.io/api/core/v1"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// EventTypeWarning is the only event type a trigger watches: the operator keeps only
// Warning events in its cache, to keep its view of events small.
const EventTypeWarning = corev1.EventTypeWarning

// EventFieldError says what is wrong with an event source, so that validation can
// point at spec.events.<Field>[Index].
type EventFieldError struct {
	// Field is "type" or "involvedObject.namePatterns".
	Field string
	// Index is the element of a list field, or -1.
	Index  int
	Value  string
	Detail string
}

func (e *EventFieldError) Error() string {
	field := e.Field
	if e.Index >= 0 {
		field = fmt.Sprintf("%s[%d]", e.Field, e.Index)
	}
	return fmt.Sprintf("%s %q: %s", field, e.Value, e.Detail)
}

// EventFilter says whether an event fires a trigger, apart from its namespace (the
// engine selects namespaces, which needs the API).
type EventFilter struct {
	reasons      []string
	kinds        []string
	namePatterns []string
}

// NewEventFilter compiles an event source's filter. Its errors are *EventFieldError.
func NewEventFilter(spec *agentsv1alpha1.EventSource) (*EventFilter, error) {
	if spec == nil {
		return nil, errors.New("no event source")
	}
	if err := CheckEventType(spec.Type); err != nil {
		return nil, err
	}
	for i, p := range spec.InvolvedObject.NamePatterns {
		if err := CheckNamePattern(p); err != nil {
			var fe *EventFieldError
			if errors.As(err, &fe) {
				fe.Index = i
			}
			return nil, err
		}
	}
	return &EventFilter{
		reasons:      slices.Clone(spec.Reasons),
		kinds:        slices.Clone(spec.InvolvedObject.Kinds),
		namePatterns: slices.Clone(spec.InvolvedObject.NamePatterns),
	}, nil
}

// CheckEventType accepts "" (the default) and Warning.
func CheckEventType(t string) error {
	if t != "" && t != EventTypeWarning {
		return &EventFieldError{Field: "type", Index: -1, Value: t, Detail: "only Warning events can fire a trigger"}
	}
	return nil
}

// CheckNamePattern checks a shell pattern of path.Match (*, ?, [a-z], \ escapes).
func CheckNamePattern(p string) error {
	if p == "" {
		return &EventFieldError{Field: "involvedObject.namePatterns", Index: -1, Value: p, Detail: "must not be empty"}
	}
	// path.Match checks the whole pattern, even past the point where the name stops
	// matching, so matching the empty name finds any syntax error.
	if _, err := path.Match(p, ""); err != nil {
		return &EventFieldError{Field: "involvedObject.namePatterns", Index: -1, Value: p,
			Detail: "is not a valid pattern (use *, ? and [a-z]; close every [ with ])"}
	}
	return nil
}

// Matches says whether ev is a Warning event with one of the reasons, about an object
// of one of the kinds whose name matches one of the patterns (an empty list allows
// anything). Reasons and kinds are compared exactly, as Kubernetes writes them.
func (f *EventFilter) Matches(ev *corev1.Event) bool {
	if ev == nil || ev.Type != EventTypeWarning {
		return false
	}
	if len(f.reasons) > 0 && !slices.Contains(f.reasons, ev.Reason) {
		return false
	}
	if len(f.kinds) > 0 && !slices.Contains(f.kinds, ev.InvolvedObject.Kind) {
		return false
	}
	if len(f.namePatterns) == 0 {
		return true
	}
	for _, p := range f.namePatterns {
		if ok, _ := path.Match(p, ev.InvolvedObject.Name); ok { // patterns were checked
			return true
		}
	}
	return false
}

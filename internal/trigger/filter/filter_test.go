package filter

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

func matcher(name string, op agentsv1alpha1.MatchOperator, value string) agentsv1alpha1.AlertMatcher {
	return agentsv1alpha1.AlertMatcher{Name: name, Op: op, Value: value}
}

func TestMatchers(t *testing.T) {
	crit := map[string]string{"alertname": "KubePodCrashLooping", "severity": "critical", "namespace": "shop"}
	warn := map[string]string{"alertname": "KubePodCrashLooping", "severity": "warning", "namespace": "shop-canary"}
	bare := map[string]string{"alertname": "Watchdog"}
	cases := []struct {
		name     string
		matchers []agentsv1alpha1.AlertMatcher
		labels   map[string]string
		want     bool
	}{
		{"no matchers match everything", nil, bare, true},
		{"no matchers match no labels", nil, nil, true},
		{"equal", []agentsv1alpha1.AlertMatcher{matcher("severity", "=", "critical")}, crit, true},
		{"empty op is equal", []agentsv1alpha1.AlertMatcher{matcher("severity", "", "critical")}, warn, false},
		{"not equal", []agentsv1alpha1.AlertMatcher{matcher("severity", "!=", "critical")}, warn, true},
		{"missing label is empty: not equal matches", []agentsv1alpha1.AlertMatcher{matcher("severity", "!=", "critical")}, bare, true},
		{"missing label is empty: equal to empty", []agentsv1alpha1.AlertMatcher{matcher("severity", "=", "")}, bare, true},
		{"present label is not empty", []agentsv1alpha1.AlertMatcher{matcher("severity", "=", "")}, crit, false},
		{"regexp", []agentsv1alpha1.AlertMatcher{matcher("severity", "=~", "critical|warning")}, warn, true},
		{"regexp is anchored at the start", []agentsv1alpha1.AlertMatcher{matcher("namespace", "=~", "canary")}, warn, false},
		{"regexp is anchored at the end", []agentsv1alpha1.AlertMatcher{matcher("namespace", "=~", "shop")}, warn, false},
		{"anchoring wraps the alternation", []agentsv1alpha1.AlertMatcher{matcher("namespace", "=~", "shop|x")}, warn, false},
		{"regexp over the whole value", []agentsv1alpha1.AlertMatcher{matcher("namespace", "=~", "shop(-.*)?")}, warn, true},
		{"regexp on a missing label", []agentsv1alpha1.AlertMatcher{matcher("team", "=~", ".*")}, bare, true},
		{"regexp needing a value on a missing label", []agentsv1alpha1.AlertMatcher{matcher("team", "=~", ".+")}, bare, false},
		{"not regexp", []agentsv1alpha1.AlertMatcher{matcher("alertname", "!~", "Watchdog|InfoInhibitor")}, bare, false},
		{"not regexp passes others", []agentsv1alpha1.AlertMatcher{matcher("alertname", "!~", "Watchdog|InfoInhibitor")}, crit, true},
		{"all must match", []agentsv1alpha1.AlertMatcher{matcher("alertname", "=", "KubePodCrashLooping"), matcher("severity", "=", "critical")}, warn, false},
		{"all match", []agentsv1alpha1.AlertMatcher{matcher("alertname", "=", "KubePodCrashLooping"), matcher("namespace", "=~", "shop.*")}, warn, true},
		{"case matters", []agentsv1alpha1.AlertMatcher{matcher("severity", "=", "Critical")}, crit, false},
		{"case-insensitive regexp", []agentsv1alpha1.AlertMatcher{matcher("severity", "=~", "(?i)CRITICAL")}, crit, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := CompileMatchers(tc.matchers)
			if err != nil {
				t.Fatal(err)
			}
			if got := ms.Matches(tc.labels); got != tc.want {
				t.Errorf("%s.Matches(%v) = %v, want %v", ms, tc.labels, got, tc.want)
			}
		})
	}
}

func TestCompileMatchersErrors(t *testing.T) {
	ok := matcher("severity", "=", "critical")
	cases := []struct {
		name     string
		matchers []agentsv1alpha1.AlertMatcher
		want     MatcherError
		wantText string
	}{
		{"invalid regexp", []agentsv1alpha1.AlertMatcher{ok, ok, matcher("pod", "=~", "checkout-(")},
			MatcherError{Index: 2, Field: "value", Value: "checkout-("},
			`matchers[2].value "checkout-(": is not a valid regular expression (RE2 syntax): missing closing ): ` + "`^(?:checkout-()$`"},
		{"Perl lookahead is not RE2", []agentsv1alpha1.AlertMatcher{matcher("pod", "!~", "(?!canary)")},
			MatcherError{Index: 0, Field: "value", Value: "(?!canary)"}, "invalid or unsupported Perl syntax"},
		{"unknown op", []agentsv1alpha1.AlertMatcher{ok, matcher("severity", "==", "x")},
			MatcherError{Index: 1, Field: "op", Value: "=="}, `must be "=", "!=", "=~" or "!~"`},
		{"empty name", []agentsv1alpha1.AlertMatcher{matcher("", "=", "x")},
			MatcherError{Index: 0, Field: "name", Value: ""}, "must be a label name"},
		{"name with a dash", []agentsv1alpha1.AlertMatcher{matcher("app-name", "=", "x")},
			MatcherError{Index: 0, Field: "name", Value: "app-name"}, "must be a label name"},
		{"name starting with a digit", []agentsv1alpha1.AlertMatcher{matcher("1abc", "=", "x")},
			MatcherError{Index: 0, Field: "name", Value: "1abc"}, "must be a label name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CompileMatchers(tc.matchers)
			var me *MatcherError
			if !errors.As(err, &me) {
				t.Fatalf("error %v (%T) is not a *MatcherError", err, err)
			}
			if me.Index != tc.want.Index || me.Field != tc.want.Field || me.Value != tc.want.Value {
				t.Errorf("error at matchers[%d].%s %q, want matchers[%d].%s %q", me.Index, me.Field, me.Value, tc.want.Index, tc.want.Field, tc.want.Value)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q does not contain %q", err, tc.wantText)
			}
		})
	}
	for _, name := range []string{"a", "_", "__name__", "severity", "A1_b2"} {
		if _, err := CompileMatchers([]agentsv1alpha1.AlertMatcher{matcher(name, "=", "")}); err != nil {
			t.Errorf("label name %q: %v", name, err)
		}
	}
}

func TestMatchersString(t *testing.T) {
	ms, err := CompileMatchers([]agentsv1alpha1.AlertMatcher{matcher("alertname", "", "X"), matcher("severity", "=~", `crit|"warn"`)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ms.String(), `{alertname="X", severity=~"crit|\"warn\""}`; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
	if (Matcher{}).matches("") {
		t.Errorf("a zero Matcher matches")
	}
}

func event(typ, reason, kind, name string) *corev1.Event {
	return &corev1.Event{Type: typ, Reason: reason, InvolvedObject: corev1.ObjectReference{Kind: kind, Name: name, Namespace: "shop"}}
}

func TestEventFilter(t *testing.T) {
	backoff := event("Warning", "BackOff", "Pod", "checkout-7d9f4b6c8-x2x7q")
	cases := []struct {
		name string
		spec agentsv1alpha1.EventSource
		ev   *corev1.Event
		want bool
	}{
		{"empty filter takes any warning", agentsv1alpha1.EventSource{}, backoff, true},
		{"explicit Warning", agentsv1alpha1.EventSource{Type: "Warning"}, backoff, true},
		{"normal events never", agentsv1alpha1.EventSource{}, event("Normal", "Pulled", "Pod", "x"), false},
		{"events without a type never", agentsv1alpha1.EventSource{}, event("", "BackOff", "Pod", "x"), false},
		{"nil event", agentsv1alpha1.EventSource{}, nil, false},
		{"reason listed", agentsv1alpha1.EventSource{Reasons: []string{"OOMKilling", "BackOff"}}, backoff, true},
		{"reason not listed", agentsv1alpha1.EventSource{Reasons: []string{"FailedScheduling"}}, backoff, false},
		{"reasons are exact", agentsv1alpha1.EventSource{Reasons: []string{"backoff"}}, backoff, false},
		{"kind listed", agentsv1alpha1.EventSource{InvolvedObject: agentsv1alpha1.InvolvedObjectFilter{Kinds: []string{"Deployment", "Pod"}}}, backoff, true},
		{"kind not listed", agentsv1alpha1.EventSource{InvolvedObject: agentsv1alpha1.InvolvedObjectFilter{Kinds: []string{"Node"}}}, backoff, false},
		{"a node's event", agentsv1alpha1.EventSource{Reasons: []string{"OOMKilling"}, InvolvedObject: agentsv1alpha1.InvolvedObjectFilter{Kinds: []string{"Node"}}},
			event("Warning", "OOMKilling", "Node", "node-1"), true},
		{"name pattern", agentsv1alpha1.EventSource{InvolvedObject: agentsv1alpha1.InvolvedObjectFilter{NamePatterns: []string{"checkout-*"}}}, backoff, true},
		{"one of the name patterns", agentsv1alpha1.EventSource{InvolvedObject: agentsv1alpha1.InvolvedObjectFilter{NamePatterns: []string{"cart-*", "checkout-?d9f*"}}}, backoff, true},
		{"name pattern is anchored", agentsv1alpha1.EventSource{InvolvedObject: agentsv1alpha1.InvolvedObjectFilter{NamePatterns: []string{"checkout"}}}, backoff, false},
		{"character class", agentsv1alpha1.EventSource{InvolvedObject: agentsv1alpha1.InvolvedObjectFilter{NamePatterns: []string{"[a-c]*-x2x7q"}}}, backoff, true},
		{"no name pattern matches", agentsv1alpha1.EventSource{InvolvedObject: agentsv1alpha1.InvolvedObjectFilter{NamePatterns: []string{"cart-*", "*-canary"}}}, backoff, false},
		{"everything together", agentsv1alpha1.EventSource{Reasons: []string{"BackOff"},
			InvolvedObject: agentsv1alpha1.InvolvedObjectFilter{Kinds: []string{"Pod"}, NamePatterns: []string{"checkout-*"}}}, backoff, true},
		{"everything but the kind", agentsv1alpha1.EventSource{Reasons: []string{"BackOff"},
			InvolvedObject: agentsv1alpha1.InvolvedObjectFilter{Kinds: []string{"Job"}, NamePatterns: []string{"checkout-*"}}}, backoff, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := NewEventFilter(&tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Matches(tc.ev); got != tc.want {
				t.Errorf("Matches = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEventFilterErrors(t *testing.T) {
	patterns := func(p ...string) agentsv1alpha1.EventSource {
		return agentsv1alpha1.EventSource{InvolvedObject: agentsv1alpha1.InvolvedObjectFilter{NamePatterns: p}}
	}
	cases := []struct {
		name     string
		spec     agentsv1alpha1.EventSource
		want     EventFieldError
		wantText string
	}{
		{"unclosed class", patterns("ok-*", "checkout-[a-"), EventFieldError{Field: "involvedObject.namePatterns", Index: 1, Value: "checkout-[a-"},
			`involvedObject.namePatterns[1] "checkout-[a-": is not a valid pattern`},
		// path.Match stops matching at "x" but still finds the bad class after it.
		{"bad class after a mismatch", patterns("x[", "y"), EventFieldError{Field: "involvedObject.namePatterns", Index: 0, Value: "x["}, "close every ["},
		{"trailing escape", patterns(`abc\`), EventFieldError{Field: "involvedObject.namePatterns", Index: 0, Value: `abc\`}, "is not a valid pattern"},
		{"empty pattern", patterns(""), EventFieldError{Field: "involvedObject.namePatterns", Index: 0, Value: ""}, "must not be empty"},
		{"Normal type", agentsv1alpha1.EventSource{Type: "Normal"}, EventFieldError{Field: "type", Index: -1, Value: "Normal"},
			`type "Normal": only Warning events can fire a trigger`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewEventFilter(&tc.spec)
			var fe *EventFieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T) is not an *EventFieldError", err, err)
			}
			if *fe != (EventFieldError{Field: tc.want.Field, Index: tc.want.Index, Value: tc.want.Value, Detail: fe.Detail}) {
				t.Errorf("error at %s[%d] %q, want %s[%d] %q", fe.Field, fe.Index, fe.Value, tc.want.Field, tc.want.Index, tc.want.Value)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q does not contain %q", err, tc.wantText)
			}
		})
	}
	if _, err := NewEventFilter(nil); err == nil {
		t.Errorf("NewEventFilter(nil) gave no error")
	}
}

// TestEventFilterCopies: changing the spec after compiling does not change the filter.
func TestEventFilterCopies(t *testing.T) {
	spec := agentsv1alpha1.EventSource{Reasons: []string{"BackOff"}}
	f, err := NewEventFilter(&spec)
	if err != nil {
		t.Fatal(err)
	}
	spec.Reasons[0] = "Other"
	if !f.Matches(event("Warning", "BackOff", "Pod", "x")) {
		t.Errorf("the filter changed with its spec")
	}
}

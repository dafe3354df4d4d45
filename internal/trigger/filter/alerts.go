// Package filter decides which alerts and which Kubernetes Events fire an AgentTrigger.
// Compiling checks the spec and says which element is wrong; matching is then cheap
// and cannot fail.
package filter

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// MatcherError says what is wrong with one alert matcher, so that validation can
// point at spec.alerts.matchers[Index].<Field>.
type MatcherError struct {
	Index int
	// Field is "name", "op" or "value".
	Field  string
	Value  string
	Detail string
}

func (e *MatcherError) Error() string {
	return fmt.Sprintf("matchers[%d].%s %q: %s", e.Index, e.Field, e.Value, e.Detail)
}

// Matcher is one compiled alert matcher.
type Matcher struct {
	Name  string
	Op    agentsv1alpha1.MatchOperator
	Value string
	// re is the value anchored at both ends, for =~ and !~.
	re *regexp.Regexp
}

// Matchers are compiled alert matchers, all of which must match.
type Matchers []Matcher

// CompileMatchers compiles alert matchers with Alertmanager's semantics: an empty op
// is =, and the regular expressions of =~ and !~ are RE2, anchored at both ends as
// ^(?:value)$. Its errors are *MatcherError.
func CompileMatchers(specs []agentsv1alpha1.AlertMatcher) (Matchers, error) {
	out := make(Matchers, 0, len(specs))
	for i, spec := range specs {
		m, err := compileMatcher(i, spec)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func compileMatcher(i int, spec agentsv1alpha1.AlertMatcher) (Matcher, error) {
	if !isLabelName(spec.Name) {
		return Matcher{}, &MatcherError{Index: i, Field: "name", Value: spec.Name,
			Detail: "must be a label name: a letter or _, then letters, digits or _"}
	}
	m := Matcher{Name: spec.Name, Op: spec.Op, Value: spec.Value}
	switch spec.Op {
	case "":
		m.Op = agentsv1alpha1.MatchEqual
	case agentsv1alpha1.MatchEqual, agentsv1alpha1.MatchNotEqual:
	case agentsv1alpha1.MatchRegexp, agentsv1alpha1.MatchNotRegex:
		re, err := regexp.Compile("^(?:" + spec.Value + ")$")
		if err != nil {
			return Matcher{}, &MatcherError{Index: i, Field: "value", Value: spec.Value,
				Detail: "is not a valid regular expression (RE2 syntax): " + strings.TrimPrefix(err.Error(), "error parsing regexp: ")}
		}
		m.re = re
	default:
		return Matcher{}, &MatcherError{Index: i, Field: "op", Value: string(spec.Op), Detail: `must be "=", "!=", "=~" or "!~"`}
	}
	return m, nil
}

// isLabelName is Prometheus's classic label name: [a-zA-Z_][a-zA-Z0-9_]*, as in the CRD.
func isLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range []byte(s) {
		letter := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// Matches says whether labels pass every matcher. A missing label is the empty
// string, as in Alertmanager, so {severity!="critical"} matches an alert without
// severity and {severity=""} matches only such alerts.
func (ms Matchers) Matches(labels map[string]string) bool {
	for _, m := range ms {
		if !m.matches(labels[m.Name]) {
			return false
		}
	}
	return true
}

func (m Matcher) matches(v string) bool {
	switch m.Op {
	case agentsv1alpha1.MatchEqual:
		return v == m.Value
	case agentsv1alpha1.MatchNotEqual:
		return v != m.Value
	case agentsv1alpha1.MatchRegexp:
		return m.re.MatchString(v)
	case agentsv1alpha1.MatchNotRegex:
		return !m.re.MatchString(v)
	}
	return false // not compiled: a zero Matcher matches nothing
}

// String writes the matcher as Alertmanager does: severity=~"critical|warning".
func (m Matcher) String() string {
	return m.Name + string(m.Op) + strconv.Quote(m.Value)
}

// String writes the matchers as Alertmanager does: {alertname="X", severity!="info"}.
func (ms Matchers) String() string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

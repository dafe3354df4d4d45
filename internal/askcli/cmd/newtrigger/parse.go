package newtrigger

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"text/template/parse"

	"k8s.io/apimachinery/pkg/util/validation"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/exitcode"
)

// The CRD's patterns, checked here too so that a typo is a usage error that names the
// flag rather than a validation error about a field path.
var (
	reasonPattern      = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)
	kindPattern        = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)
	namePatternChars   = regexp.MustCompile(`^[-a-z0-9.*?\[\]]+$`)
	alertMatcherSyntax = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$`)
)

// secretRef parses flag's SECRET/KEY value; "" is no reference.
func secretRef(flag, v string) (*agentsv1alpha1.SecretKeySelector, error) {
	if v == "" {
		return nil, nil
	}
	name, key, ok := strings.Cut(v, "/")
	if !ok || name == "" || key == "" {
		return nil, exitcode.UsageErrorf("%s %q: want SECRET/KEY, a key of a Secret in the trigger's namespace", flag, v)
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return nil, exitcode.UsageErrorf("%s: %q is not a Secret name: %s", flag, name, strings.Join(errs, "; "))
	}
	if errs := validation.IsConfigMapKey(key); len(errs) > 0 {
		return nil, exitcode.UsageErrorf("%s: %q is not a Secret key: %s", flag, key, strings.Join(errs, "; "))
	}
	return &agentsv1alpha1.SecretKeySelector{Name: name, Key: key}, nil
}

// checkTemplate parses prompt as the operator will, without checking function names:
// which functions a prompt may call is the operator's business, its syntax is not.
func checkTemplate(prompt string) error {
	tr := parse.New("prompt")
	tr.Mode = parse.SkipFuncCheck
	_, err := tr.Parse(prompt, "", "", map[string]*parse.Tree{})
	return err
}

// alertMatcher parses an Alertmanager matcher: name=value, name!=value, name=~re or
// name!~re, the value optionally in double quotes. Regular expressions are anchored,
// as Alertmanager anchors them.
func alertMatcher(s string) (agentsv1alpha1.AlertMatcher, error) {
	m := alertMatcherSyntax.FindStringSubmatch(s)
	if m == nil {
		return agentsv1alpha1.AlertMatcher{}, fmt.Errorf("%q is not a matcher: want name=value, name!=value, name=~regexp or name!~regexp", s)
	}
	value := m[3]
	if len(value) >= 2 && strings.HasPrefix(value, `"`) && strings.HasSuffix(value, `"`) {
		v, err := strconv.Unquote(value)
		if err != nil {
			return agentsv1alpha1.AlertMatcher{}, fmt.Errorf("%q: the quoted value: %w", s, err)
		}
		value = v
	}
	op := agentsv1alpha1.MatchOperator(m[2])
	if op == agentsv1alpha1.MatchRegexp || op == agentsv1alpha1.MatchNotRegex {
		if _, err := regexp.Compile("^(?:" + value + ")$"); err != nil {
			return agentsv1alpha1.AlertMatcher{}, fmt.Errorf("%q: %w", s, err)
		}
	}
	return agentsv1alpha1.AlertMatcher{Name: m[1], Op: op, Value: value}, nil
}

// checkEventFilters checks --reason, --kind and --name-pattern values.
func checkEventFilters(reasons, kinds, names []string) error {
	for _, r := range reasons {
		if !reasonPattern.MatchString(r) {
			return exitcode.UsageErrorf("--reason %q: an event reason is a word of letters and digits, e.g. BackOff", r)
		}
	}
	for _, k := range kinds {
		if !kindPattern.MatchString(k) {
			return exitcode.UsageErrorf("--kind %q: use the object's Kind as written in its manifest, e.g. Pod or Deployment", k)
		}
	}
	for _, n := range names {
		if _, err := path.Match(n, ""); err != nil || !namePatternChars.MatchString(n) {
			return exitcode.UsageErrorf("--name-pattern %q: want a shell pattern of object names, e.g. 'checkout-*' (lower-case letters, digits, '-', '.', *, ?, [a-z])", n)
		}
	}
	return nil
}

package validation

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubeask/kubeask/internal/testcluster"
	"github.com/kubeask/kubeask/internal/trigger/prompt"
	"github.com/kubeask/kubeask/internal/trigger/schedule"
)

// The API server checks a trigger with the CRD's CEL rules before the webhook or the
// controller run Validate. These tests evaluate those rules, as generated into the
// CRD, with Go's regexp (RE2, which CEL's matches and findAll use too) and compare them
// with the Go checks, so the two cannot drift apart unnoticed.

// crdString is a string property of the CRD's schema with what the API server checks
// on it: its length bounds and its CEL rules.
type crdString struct {
	minLength, maxLength int
	rules                []crdRule
}

type crdRule struct {
	rule, message string
	accepts       func(string) bool
}

// accepts says whether the API server would accept s, and if not, which message it
// would give.
func (c crdString) accepts(s string) (bool, string) {
	if len(s) < c.minLength || len(s) > c.maxLength {
		return false, fmt.Sprintf("length not in [%d, %d]", c.minLength, c.maxLength)
	}
	for _, r := range c.rules {
		if !r.accepts(s) {
			return false, r.message
		}
	}
	return true, ""
}

// loadCRDString reads the property at path (below spec) of the AgentTrigger CRD.
func loadCRDString(t *testing.T, path ...string) crdString {
	t.Helper()
	root, err := testcluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "config", "crd", "bases", "agents.kubeask.dev_agenttriggers.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(raw, &crd); err != nil {
		t.Fatal(err)
	}
	var schema *apiextensionsv1.JSONSchemaProps
	for _, v := range crd.Spec.Versions {
		if v.Name == "v1alpha1" && v.Schema != nil {
			schema = v.Schema.OpenAPIV3Schema
		}
	}
	if schema == nil {
		t.Fatal("the CRD has no v1alpha1 schema")
	}
	for _, p := range append([]string{"spec"}, path...) {
		next, ok := schema.Properties[p]
		if !ok {
			t.Fatalf("the CRD has no property %q on the way to spec.%s", p, strings.Join(path, "."))
		}
		schema = &next
	}
	if schema.MinLength == nil || schema.MaxLength == nil {
		t.Fatalf("spec.%s has no minLength or maxLength", strings.Join(path, "."))
	}
	out := crdString{minLength: int(*schema.MinLength), maxLength: int(*schema.MaxLength)}
	for _, v := range schema.XValidations {
		out.rules = append(out.rules, crdRule{rule: v.Rule, message: v.Message, accepts: compileRule(t, v.Rule)})
	}
	if len(out.rules) == 0 {
		t.Fatalf("spec.%s has no x-kubernetes-validations", strings.Join(path, "."))
	}
	return out
}

// compileRule turns a CEL rule of one of the shapes used on strings into Go. The
// rule's string literals are taken out (leaving a skeleton like "!self.matches($)")
// and compiled as RE2; a rule of another shape fails the test, to
// be taught here rather than silently skipped.
func compileRule(t *testing.T, rule string) func(string) bool {
	t.Helper()
	skeleton, literals, err := celStrings(rule)
	if err != nil {
		t.Fatalf("rule %s: %v", rule, err)
	}
	res := make([]*regexp.Regexp, len(literals))
	for i, l := range literals {
		if res[i], err = regexp.Compile(l); err != nil {
			t.Fatalf("rule %s: regexp %q: %v", rule, l, err)
		}
	}
	switch skeleton {
	case "self.matches($) || self.matches($)":
		return func(s string) bool { return res[0].MatchString(s) || res[1].MatchString(s) }
	case "!self.matches($)":
		return func(s string) bool { return !res[0].MatchString(s) }
	case "size(self.findAll($)) == size(self.findAll($))":
		return func(s string) bool { return len(res[0].FindAllString(s, -1)) == len(res[1].FindAllString(s, -1)) }
	}
	t.Fatalf("rule %s has a shape this test does not know (%s); teach compileRule", rule, skeleton)
	return nil
}

// celStrings takes the single-quoted CEL string literals out of a rule, undoing their
// escapes, and returns the rule with each literal replaced by $. Double-quoted, raw
// and triple-quoted literals are refused (the rules use none).
func celStrings(rule string) (skeleton string, literals []string, err error) {
	var sk strings.Builder
	for i := 0; i < len(rule); i++ {
		c := rule[i]
		switch c {
		case '"':
			return "", nil, fmt.Errorf("double-quoted CEL strings are not handled")
		case '\'':
		default:
			sk.WriteByte(c)
			continue
		}
		if strings.HasPrefix(rule[i:], "'''") {
			return "", nil, fmt.Errorf("triple-quoted CEL strings are not handled")
		}
		if i > 0 && (rule[i-1] == 'r' || rule[i-1] == 'R' || rule[i-1] == 'b' || rule[i-1] == 'B') {
			return "", nil, fmt.Errorf("raw or bytes CEL strings are not handled")
		}
		var lit strings.Builder
		i++
		for ; i < len(rule) && rule[i] != '\''; i++ {
			if rule[i] != '\\' {
				lit.WriteByte(rule[i])
				continue
			}
			i++
			if i == len(rule) {
				return "", nil, fmt.Errorf("unterminated escape")
			}
			unescaped, ok := map[byte]string{'\\': `\`, '\'': `'`, '"': `"`, '`': "`", '?': "?",
				'a': "\a", 'b': "\b", 'f': "\f", 'n': "\n", 'r': "\r", 't': "\t", 'v': "\v"}[rule[i]]
			if !ok {
				return "", nil, fmt.Errorf("CEL escape \\%c is not handled", rule[i])
			}
			lit.WriteString(unescaped)
		}
		if i == len(rule) {
			return "", nil, fmt.Errorf("unterminated string")
		}
		literals = append(literals, lit.String())
		sk.WriteString("$")
	}
	return sk.String(), literals, nil
}

func TestCELStrings(t *testing.T) {
	cases := []struct {
		rule, skeleton string
		literals       []string
		err            string
	}{
		{`self.matches('^a$') || self.matches('b')`, "self.matches($) || self.matches($)", []string{"^a$", "b"}, ""},
		{`!self.matches('it\'s \\d')`, "!self.matches($)", []string{`it's \d`}, ""},
		{`self.matches("x")`, "", nil, "double-quoted"},
		{`self.matches(r'x')`, "", nil, "raw or bytes"},
		{`self.matches('\x41')`, "", nil, `escape \x`},
		{`self.matches('x`, "", nil, "unterminated string"},
	}
	for _, tc := range cases {
		skeleton, literals, err := celStrings(tc.rule)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.rule, err, tc.err)
			}
			continue
		}
		if err != nil || skeleton != tc.skeleton || fmt.Sprint(literals) != fmt.Sprint(tc.literals) {
			t.Errorf("%s: (%q, %q, %v), want (%q, %q)", tc.rule, skeleton, literals, err, tc.skeleton, tc.literals)
		}
	}
}

// TestCronRuleAgreesWithParse: the CRD's rule on spec.schedule.cron accepts exactly the
// expressions schedule.Parse accepts, except for the few the rule cannot see, listed
// apart: for those the API server admits the trigger and Validate (in the webhook or
// the controller) refuses it.
func TestCronRuleAgreesWithParse(t *testing.T) {
	cron := loadCRDString(t, "schedule", "cron")
	valid := []string{
		"*/5 * * * *", "0 9 * * 1-5", "@hourly", "0 0 1 jan *", "30 2 * * sun",
		"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight",
		"* * * * *", "0 0 * * 0", "59 23 31 12 6", "00 00 01 01 00", "5 4 * * ?", "0 0 ? * mon",
		"1-59/2,0 */99 1,15 */3 ?", "0 0 1 JAN-Mar,Dec *", "0 0 * * MON-fri", "5/15 * * * *",
		"0 9-17/2 * * 1-5", "*/05 * * * *", "  0 9 * * *  ", "0  9 * * *", "0 0 29 2 *",
	}
	invalid := []string{
		"60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8", "TZ=UTC 0 * * * *", "not a cron", "* * * *",
		"", " ", "* * * * 7", "0 * * * * *", "CRON_TZ=UTC 0 * * * *", "@every 5m", "@HOURLY", " @hourly", "@hourly ",
		"*\t* * * *", "? * * * *", "* ? * * *", "* * * ? *", "*/0 * * * *", "*/00 * * * *", "*/100 * * * *", "*-5 * * * *",
		"1,,2 * * * *", ",1 * * * *", "1, * * * *", "005 * * * *", "+5 * * * *", "-5 * * * *", "5- * * * *",
		"0 0 1 january *", "0 0 * * monday", "0 0 1 1-jan-3 *", "1/2/3 * * * *", "jan * * * *",
		"0 0 32 * *", "0 0 * 0 *", "0 0 00 * *", "0 0 * 00 *", "٣ * * * *",
		"0 " + strings.Repeat("1,", 70) + "1 * * *",
	}
	for _, expr := range valid {
		if _, err := schedule.Parse(expr, ""); err != nil {
			t.Errorf("schedule.Parse(%q) = %v, but this table says it is valid", expr, err)
		}
		if ok, msg := cron.accepts(expr); !ok {
			t.Errorf("the CRD refuses %q (%s), which schedule.Parse accepts", expr, msg)
		}
	}
	for _, expr := range invalid {
		if _, err := schedule.Parse(expr, ""); err == nil {
			t.Errorf("schedule.Parse(%q) accepts it, but this table says it is invalid", expr)
		}
		if ok, _ := cron.accepts(expr); ok {
			t.Errorf("the CRD accepts %q, which schedule.Parse refuses", expr)
		}
	}
	// What a regular expression cannot check: the order of a range's ends, and whether
	// a day exists in a month.
	for _, expr := range []string{"30-10 * * * *", "0 0 1 dec-jan *", "0 0 30 2 *", "0 0 31 4,6 ?"} {
		if _, err := schedule.Parse(expr, ""); err == nil {
			t.Errorf("schedule.Parse(%q) accepts it", expr)
		}
		if ok, _ := cron.accepts(expr); !ok {
			t.Errorf("the CRD refuses %q; move it to the invalid table above", expr)
		}
	}
}

// TestPromptRulesRefuseOnlyInvalidTemplates: every prompt the CRD's CEL rules refuse,
// prompt.Parse refuses too, so the rules never keep out a prompt that would work. The
// converse does not hold and need not: the rules only look for unbalanced braces,
// unclosed blocks and forbidden words, and leave everything else (unknown functions,
// bad syntax inside an action, fields of another source) to Validate.
func TestPromptRulesRefuseOnlyInvalidTemplates(t *testing.T) {
	rules := loadCRDString(t, "query", "prompt")
	celRefuses := []string{
		`{{define "x"}}a{{end}}{{template "x"}}`, `{{ template "x" }}`, `{{- block "x" .}}a{{end}}`, "{{\ncall .F}}",
		`{{call .F 1}}`, `{{if .Reason}}x`, `{{range .Alerts}}x`, `{{with .Event}}x`, `x{{end}}`,
		`{{if .A}}x{{end}}{{end}}`, `{{if .A}}{{range .B}}x{{end}}`, `{{.Reason`, `Why {{`, `{{.Reason}} and {{`,
		`{{.Reason}`, `{{`, `{{{`, `{{}`, `{{if(.A)}}x`,
		"x" + strings.Repeat("y", prompt.MaxTemplateLength),
	}
	celAccepts := []string{
		`Why is {{.Object}} failing?`, `{{if .A}}x{{else if .B}}y{{else}}z{{end}}`, `{{with .A}}x{{else with .B}}y{{end}}`,
		`{{range $i, $a := .Alerts}}{{if $i}}, {{end}}{{$a.Status}}{{end}}`, `{{- if .A -}} x {{- end -}}`,
		`{{if(.A)}}x{{end}}`, `Answer as JSON: {"pod": {"name": "x"}}`, `Answer as JSON: {"pod": {"name": "{{.Name}}"}}`,
		`}}`, `a }} b {{.Reason}} c }}`, `{{"{{"}}`, `{{.Reason}}}}`, `{{/* a comment */}}Ask`, `{{callme}}`, `{{.call}}`,
		`{{templates}}`, `{{ends}}`, `{{ifx}}`,
	}
	// A keyword inside a string or a comment looks like an action to a regular
	// expression: the rules refuse these though prompt.Parse accepts them. Nobody
	// needs to print "{{end}}"; the CRD's message says what to change.
	celOnly := []string{`{{"{{end}}"}}x`, `{{/* {{if */}}x`, `{{"{{define x"}}`}

	for _, text := range append(append(celRefuses, celAccepts...), celOnly...) {
		ok, msg := rules.accepts(text)
		_, parseErr := prompt.Parse(text)
		isCELOnly := false
		for _, c := range celOnly {
			isCELOnly = isCELOnly || c == text
		}
		switch {
		case isCELOnly && (ok || parseErr != nil):
			t.Errorf("%q: CRD accepts: %v, Parse error: %v; the celOnly list expects a refusal by the CRD only", text, ok, parseErr)
		case !ok && parseErr == nil && !isCELOnly:
			t.Errorf("the CRD refuses %q (%s), but prompt.Parse accepts it", text, msg)
		}
	}
	for _, text := range celRefuses {
		if ok, _ := rules.accepts(text); ok {
			t.Errorf("the CRD accepts %q; this table says its rules refuse it", text)
		}
	}
	for _, text := range celAccepts {
		if ok, msg := rules.accepts(text); !ok {
			t.Errorf("the CRD refuses %q (%s); this table says its rules accept it", text, msg)
		}
	}
}

// FuzzCronRuleAgreesWithParse: for any expression, the CRD's rule and schedule.Parse
// agree, but for the two things a regular expression cannot check.
func FuzzCronRuleAgreesWithParse(f *testing.F) {
	for _, seed := range []string{"*/5 * * * *", "0 9 * * 1-5", "@hourly", "0 0 1 jan *", "30 2 * * sun", "60 * * * *",
		"* * * * 7", "*/0 * * * *", "0 0 01 01 ?", "30-10 * * * *", "0 0 30 2 *", "1,,2 * * * *", "*-5 * * * *"} {
		f.Add(seed)
	}
	cron := crdString{}
	loaded := false
	f.Fuzz(func(t *testing.T, expr string) {
		if !loaded {
			cron, loaded = loadCRDString(t, "schedule", "cron"), true
		}
		crdOK, msg := cron.accepts(expr)
		_, err := schedule.Parse(expr, "")
		switch {
		case err == nil && !crdOK:
			t.Errorf("the CRD refuses %q (%s), which schedule.Parse accepts", expr, msg)
		case err != nil && crdOK && !strings.Contains(err.Error(), "runs backwards") && !strings.Contains(err.Error(), "never matches a date"):
			t.Errorf("the CRD accepts %q, which schedule.Parse refuses: %v", expr, err)
		}
	})
}

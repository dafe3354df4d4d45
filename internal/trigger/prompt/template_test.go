package prompt

import (
	"strings"
	"testing"
)

func TestParseRefuses(t *testing.T) {
	cases := []struct {
		name, text string
		// want are substrings of the error, in words a user can act on.
		want []string
	}{
		{"empty", "", []string{"prompt is empty"}},
		{"only space", " \n\t ", []string{"prompt is empty"}},
		{"too long", strings.Repeat("a", MaxTemplateLength+1), []string{"8193 bytes long, more than 8192"}},
		{"invalid UTF-8", "why \xff?", []string{"not valid UTF-8"}},
		{"unclosed action", "Look at {{.Object", []string{"prompt:1:", "unclosed action"}},
		{"if without end", "{{if .Reason}}x", []string{"prompt:1:", "unexpected EOF"}},
		{"end without if", "x{{end}}", []string{"unexpected {{end}}"}},
		{"bad field syntax", "{{.Reason..Message}}", []string{"prompt:1:"}},
		{"error on line 3", "one\ntwo\n{{if}}{{end}}", []string{"prompt:3:", "missing value for if"}},

		{"define", `{{define "x"}}hi{{end}}Ask {{template "x"}}`, []string{"prompt:1:", `defines a template "x"`, "define and block are not allowed"}},
		{"define named like the prompt", `{{define "prompt"}}hi{{end}}`, []string{`defines a template "prompt"`}},
		{"empty define", `{{define "x"}}{{end}}Ask`, []string{`defines a template "x"`}},
		{"block", `{{block "x" .}}hi{{end}}`, []string{"define and block are not allowed"}},
		{"template", `Ask {{template "x" .}}`, []string{"prompt:1:", `{{template "x" .}}`, "template and block are not allowed"}},
		{"call", `{{call .Event}}`, []string{"prompt:1:2:", "call is not allowed"}},
		{"call in a pipeline", "Ask\n{{printf \"%v\" (call .X) | lower}}", []string{"prompt:2:15:", "call is not allowed"}},
		{"call as an argument", `{{printf "%v" call}}`, []string{"call is not allowed"}},
		{"unknown function", `{{env "HOME"}}`, []string{"prompt:1:2:", `function "env" is not available in a prompt`, "available: and, default, eq,"}},
		{"unknown function in range", `{{range .Alerts}}{{exec "id"}}{{end}}`, []string{`function "exec" is not available`}},
		{"the range guard is not for templates", `{{rangeLimit .Alerts}}`, []string{`function "rangeLimit" is not available`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.text)
			if err == nil {
				t.Fatalf("Parse accepted %q", tc.text)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	for _, text := range []string{
		"Why is {{.Object}} failing?",
		`{{- /* a comment */ -}} Ask`,
		`Answer as JSON: {"pod": {"name": "{{.Name}}"}}`,
		`{{if eq .Reason "OOMKilling"}}memory{{else if .Reason}}{{.Reason}}{{else}}?{{end}}`,
		`{{range $i, $a := .Alerts}}{{if $i}}, {{end}}{{index $a.Labels "pod"}}{{break}}{{end}}`,
		`{{with .Alert}}{{.Status}}{{else with .Schedule}}{{.Cron}}{{end}}`,
		`{{printf "%s/%s" .Namespace .Name | upper | quote}} {{len .Message}} {{slice .Message 0 3}}`,
		`{{.Message | truncate 200 | default "no message"}} {{join ", " .Alert.CommonLabels}}`,
		`{{html .Message}} {{js .Message}} {{urlquery .Message}} {{print 1}} {{println 2}}`,
		`{{and .Reason .Message}} {{or .Reason "x"}} {{not .Reason}} {{ne 1 2}} {{lt 1 2}} {{le 1 2}} {{gt 2 1}} {{ge 2 1}} {{trim " x "}} {{lower "X"}}`,
		`{{.Time.Format "2006-01-02 15:04 MST"}}`,
		`{{"{{.Trigger}}"}} prints braces`,
	} {
		if _, err := Parse(text); err != nil {
			t.Errorf("Parse(%q): %v", text, err)
		}
	}
}

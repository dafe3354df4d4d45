package tools

import (
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// bound cuts res.Text to the byte budget at a line boundary and says so, with a hint
// for narrowing the request.
func (e *Env) bound(res *Result) *Result {
	if res == nil {
		return &Result{}
	}
	max := e.maxBytes()
	if len(res.Text) <= max {
		return res
	}
	cut := strings.LastIndexByte(res.Text[:max], '\n')
	if cut < max/2 {
		cut = max
		for cut > 0 && res.Text[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
			cut--
		}
	}
	out := *res
	out.Truncated = true
	out.Text = res.Text[:cut] + fmt.Sprintf("\n[truncated: showed %d of %d bytes. Narrow the request: a namespace, a labelSelector or fieldSelector, a limit, or tailLines for logs.]", cut, len(res.Text))
	return &out
}

// redactedValue replaces a secret value.
func redactedValue(v string) string {
	return fmt.Sprintf("<redacted: %d bytes>", len(v))
}

// credentialName matches names of fields and env vars that usually hold credentials.
var credentialName = regexp.MustCompile(`(?i)(password|passwd|secret|token|api[-_]?key|private[-_]?key|credential|auth)`)

// Redact removes secret values from obj in place, unless allowed: the data and
// stringData of Secrets, the last-applied annotation of Secrets (a copy of the data),
// and the values of container env vars whose names look like credentials.
func Redact(obj *unstructured.Unstructured, allowSecretValues bool) {
	if allowSecretValues {
		return
	}
	if obj.GetKind() == "Secret" && (obj.GetAPIVersion() == "v1" || obj.GetAPIVersion() == "") {
		for _, field := range []string{"data", "stringData"} {
			m, ok := obj.Object[field].(map[string]any)
			if !ok {
				continue
			}
			for k, v := range m {
				s, _ := v.(string)
				m[k] = redactedValue(s)
			}
		}
		ann := obj.GetAnnotations()
		if _, ok := ann["kubectl.kubernetes.io/last-applied-configuration"]; ok {
			ann["kubectl.kubernetes.io/last-applied-configuration"] = "<redacted>"
			obj.SetAnnotations(ann)
		}
	}
	redactEnv(obj.Object)
}

// redactEnv walks any object and redacts env entries {name, value} with a
// credential-like name, wherever they appear (pods, templates of workloads, CRDs).
func redactEnv(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, child := range t {
			if k == "env" {
				if list, ok := child.([]any); ok {
					for _, item := range list {
						if e, ok := item.(map[string]any); ok {
							name, _ := e["name"].(string)
							if val, ok := e["value"].(string); ok && credentialName.MatchString(name) {
								e["value"] = redactedValue(val)
							}
						}
					}
				}
			}
			redactEnv(child)
		}
	case []any:
		for _, child := range t {
			redactEnv(child)
		}
	}
}

// renderObject prints obj as YAML without managedFields (noise for a reader), after
// redaction.
func renderObject(obj *unstructured.Unstructured, allowSecretValues bool) (string, error) {
	obj = obj.DeepCopy()
	obj.SetManagedFields(nil)
	Redact(obj, allowSecretValues)
	b, err := yaml.Marshal(obj.Object)
	if err != nil {
		return "", fmt.Errorf("rendering %s %s: %w", obj.GetKind(), obj.GetName(), err)
	}
	return string(b), nil
}

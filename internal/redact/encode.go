package redact

import (
	"bytes"
	"encoding/json"

	"sigs.k8s.io/yaml"
)

// marshal encodes v as JSON without HTML escaping, so that placeholders read as
// written. v is always encodable here (it was decoded from JSON or YAML); the error
// case returns a placeholder rather than anything of v.
func marshal(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return `"<redacted: not encodable>"`
	}
	return string(bytes.TrimRight(buf.Bytes(), "\n"))
}

// yamlText encodes an object as YAML, or a placeholder when it cannot be.
func yamlText(obj map[string]any) string {
	b, err := yaml.Marshal(obj)
	if err != nil {
		return "<redacted: not encodable>\n"
	}
	return string(b)
}

package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/kubeask/kubeask/internal/manifest"
	"github.com/kubeask/kubeask/internal/tools"
)

// maxArgumentBytes bounds the arguments kept in one audit line.
const maxArgumentBytes = 4096

// credentialKey matches argument and field names that usually hold credentials.
var credentialKey = regexp.MustCompile(`(?i)(password|passwd|secret|token|api[-_]?key|private[-_]?key|credential|auth)`)

// Masked replaces a secret value in the log.
const Masked = "<masked>"

// Mask returns the tool arguments with secret values replaced, fit for a log line:
// credential-like fields anywhere, the data of Secrets and credential-like env values
// in manifests and patches (as the tools redact them), and literal values and
// credential flags in kubectl arguments. Arguments that are not JSON are not logged.
func Mask(args json.RawMessage) json.RawMessage {
	if len(args) == 0 {
		return nil
	}
	var v map[string]any
	if err := json.Unmarshal(args, &v); err != nil {
		return json.RawMessage(fmt.Sprintf(`{"unparseable":%d}`, len(args)))
	}
	resource, _ := v["resource"].(string)
	for k, val := range v {
		s, isString := val.(string)
		switch {
		case isString && (k == "manifest" || k == "stdin"):
			v[k] = maskManifest(s)
		case isString && k == "patch":
			v[k] = maskPatch(s, resource)
		case k == "args":
			v[k] = maskKubectlArgs(val)
		default:
			v[k] = maskValue(k, val)
		}
	}
	out, err := marshal(v)
	if err != nil {
		return nil
	}
	if len(out) > maxArgumentBytes {
		out, _ = marshal(map[string]any{"truncated": true, "bytes": len(out), "prefix": string(out[:maxArgumentBytes/2])})
	}
	return out
}

// maskValue masks credential-named keys at any depth.
func maskValue(key string, v any) any {
	switch t := v.(type) {
	case string:
		if credentialKey.MatchString(key) && t != "" {
			return Masked
		}
		return t
	case map[string]any:
		for k, child := range t {
			t[k] = maskValue(k, child)
		}
		return t
	case []any:
		for i, child := range t {
			t[i] = maskValue(key, child)
		}
		return t
	}
	return v
}

func maskManifest(s string) string {
	objs, err := manifest.Decode([]byte(s))
	if err != nil {
		return fmt.Sprintf("<masked: unparseable manifest of %d bytes>", len(s))
	}
	docs := make([]string, 0, len(objs))
	for _, o := range objs {
		tools.Redact(o, false)
		maskValue("", o.Object)
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			return fmt.Sprintf("<masked: manifest of %d bytes>", len(s))
		}
		docs = append(docs, string(b))
	}
	return strings.Join(docs, "---\n")
}

func maskPatch(s, resource string) string {
	if strings.Contains(strings.ToLower(resource), "secret") {
		return fmt.Sprintf("<masked: patch of a Secret, %d bytes>", len(s))
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return fmt.Sprintf("<masked: unparseable patch of %d bytes>", len(s))
	}
	if m, ok := v.(map[string]any); ok {
		tools.Redact(&unstructured.Unstructured{Object: m}, false)
	}
	v = maskValue("", v)
	b, _ := marshal(v)
	return string(b)
}

// maskKubectlArgs masks --from-literal values, credential flags and the word after a
// credential flag given without '='.
func maskKubectlArgs(v any) any {
	list, ok := v.([]any)
	if !ok {
		return maskValue("args", v)
	}
	maskNext := false
	for i, item := range list {
		s, ok := item.(string)
		if !ok {
			continue
		}
		switch {
		case maskNext:
			list[i] = Masked
			maskNext = false
		case strings.HasPrefix(s, "--from-literal="):
			kv := strings.TrimPrefix(s, "--from-literal=")
			key, _, _ := strings.Cut(kv, "=")
			list[i] = "--from-literal=" + key + "=" + Masked
		case strings.HasPrefix(s, "-") && credentialKey.MatchString(s):
			if flag, _, hasValue := strings.Cut(s, "="); hasValue {
				list[i] = flag + "=" + Masked
			} else {
				maskNext = true
			}
		}
	}
	return list
}

// marshal encodes without HTML escaping, so that the log reads as written.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

package redact

import (
	"encoding/json"
	"fmt"
	"strings"
)

// maxArguments bounds the arguments Arguments parses; larger ones are replaced whole.
const maxArguments = 1 << 20

// Arguments redacts the JSON arguments of a tool call, for a record that people other
// than the caller read (a query's status, an audit log): manifests (manifest, stdin)
// and patches (patch) by the object rules, kubectl argument lists (args) by
// KubectlArgs, and any string field with a credential-like name. Arguments that are
// not JSON are redacted as text. Arguments with nothing to redact are returned as they
// are, byte for byte; the result is valid JSON when args is.
func Arguments(args string) string {
	if len(args) > maxArguments {
		// Still a JSON object: a conversation rebuilt from status sends it back as a
		// call's input, which providers require to be an object.
		return marshal(map[string]any{"redacted": fmt.Sprintf("<redacted: arguments of %d bytes>", len(args))})
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(args), &v); err != nil || v == nil {
		out, _ := Text(args)
		return out
	}
	var r remover
	resource, _ := v["resource"].(string)
	for k, val := range v {
		s, isString := val.(string)
		switch {
		case isString && (k == "manifest" || k == "stdin"):
			v[k] = r.manifest(s)
		case isString && k == "patch":
			v[k] = r.patch(s, resource)
		case k == "args":
			if list, ok := stringList(val); ok {
				v[k] = r.kubectlArgs(list)
				continue
			}
			v[k] = r.fields(k, val)
		default:
			v[k] = r.fields(k, val)
		}
	}
	if !r.changed {
		return args
	}
	return marshal(v)
}

// Manifest redacts YAML or JSON documents by the object rules and the credential-like
// field names; a manifest that does not parse is replaced whole.
func Manifest(s string) string {
	var r remover
	return r.manifest(s)
}

// Patch redacts a patch (JSON, merge, strategic or a JSON patch) of resource. A patch
// of a Secret is replaced whole: any of its values may be Secret data.
func Patch(s, resource string) string {
	var r remover
	return r.patch(s, resource)
}

// KubectlArgs redacts a kubectl argument list: --from-literal values of a Secret (and
// credential-like keys of a ConfigMap), credential flags and their values,
// credential-like KEY=value assignments (set env, run --env), the last-applied
// annotation (annotate), the value of a patch (-p) by Patch, and JSON overrides by the
// object rules.
func KubectlArgs(args []string) []string {
	var r remover
	return r.kubectlArgs(args)
}

// whole replaces a value that cannot be redacted piece by piece.
func (r *remover) whole(format string, a ...any) string {
	r.changed = true
	return fmt.Sprintf("<redacted: "+format+">", a...)
}

// fields redacts, at any depth, string fields with a credential-like name and the
// object rules' {name, value} pairs.
func (r *remover) fields(key string, v any) any {
	switch t := v.(type) {
	case string:
		if CredentialName(key) && t != "" && !isPlaceholder(t) {
			return r.hide(t)
		}
		return t
	case map[string]any:
		r.namedValue(t)
		for k, child := range t {
			t[k] = r.fields(k, child)
		}
		return t
	case []any:
		for i, child := range t {
			t[i] = r.fields(key, child)
		}
		return t
	}
	return v
}

func (r *remover) manifest(s string) string {
	if isPlaceholder(s) {
		return s
	}
	objs, err := decodeDocuments(s)
	if err != nil {
		return r.whole("a manifest of %d bytes that could not be parsed", len(s))
	}
	before := r.changed
	r.changed = false
	docs := make([]string, 0, len(objs))
	for _, o := range objs {
		r.object(o)
		r.fields("", o)
		docs = append(docs, yamlText(o))
	}
	if !r.changed {
		r.changed = before
		return s
	}
	return strings.Join(docs, "---\n")
}

func (r *remover) patch(s, resource string) string {
	if isPlaceholder(s) {
		return s
	}
	if strings.Contains(strings.ToLower(resource), "secret") {
		return r.whole("a patch of a Secret, %d bytes", len(s))
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return r.whole("a patch of %d bytes that could not be parsed", len(s))
	}
	before := r.changed
	r.changed = false
	switch t := v.(type) {
	case map[string]any:
		r.object(t)
	case []any: // a JSON patch: the values of operations on credential-like paths
		for _, op := range t {
			m, ok := op.(map[string]any)
			if !ok {
				continue
			}
			if path, _ := m["path"].(string); jsonPatchHidesValue(path) {
				if val, ok := m["value"]; ok {
					m["value"] = r.hide(val)
				}
			}
			if obj, ok := m["value"].(map[string]any); ok {
				r.object(obj)
			}
		}
	}
	v = r.fields("", v)
	if !r.changed {
		r.changed = before
		return s
	}
	return marshal(v)
}

// jsonPatchHidesValue reports whether a JSON patch operation on path sets a secret
// value: a field with a credential-like name, the last-applied annotation, or the
// value of an env var (whose name the path does not tell).
func jsonPatchHidesValue(path string) bool {
	segments := strings.Split(path, "/")
	last := strings.ReplaceAll(strings.ReplaceAll(segments[len(segments)-1], "~1", "/"), "~0", "~")
	if last == LastApplied || CredentialName(last) {
		return true
	}
	return last == "value" && strings.Contains(path, "/env/")
}

func (r *remover) kubectlArgs(args []string) []string {
	out := append([]string(nil), args...)
	if len(args) == 0 {
		return out
	}
	isSecret := len(args) > 1 && args[0] == "create" && args[1] == "secret"
	resource := ""
	if len(args) > 1 && args[0] == "patch" {
		resource = args[1]
	}
	for i := 0; i < len(out); i++ {
		a := out[i]
		flag, value, hasValue := strings.Cut(a, "=")
		takeValue := func(redact func(string) string) {
			if hasValue {
				out[i] = flag + "=" + redact(value)
			} else if i+1 < len(out) {
				i++
				out[i] = redact(out[i])
			}
		}
		switch {
		case flag == "--from-literal":
			takeValue(func(kv string) string {
				k, v, _ := strings.Cut(kv, "=")
				if isSecret || CredentialName(k) {
					return k + "=" + r.hide(v)
				}
				return kv
			})
		case flag == "--env" || flag == "-e" && args[0] == "run":
			takeValue(func(kv string) string { s, _ := r.argument(kv); return s })
		case flag == "-p" || flag == "--patch":
			takeValue(func(p string) string { return r.patch(p, resource) })
		case args[0] == "patch" && strings.HasPrefix(a, "-p") && len(a) > 2:
			out[i] = "-p" + r.patch(strings.TrimPrefix(a[2:], "="), resource)
		case flag == "--overrides":
			takeValue(func(o string) string {
				if isPlaceholder(o) {
					return o
				}
				var m map[string]any
				if json.Unmarshal([]byte(o), &m) != nil {
					return r.whole("overrides of %d bytes that could not be parsed", len(o))
				}
				before := r.changed
				r.changed = false
				r.object(m)
				r.fields("", m)
				if !r.changed {
					r.changed = before
					return o
				}
				return marshal(m)
			})
		default:
			s, takesNext := r.argument(a)
			out[i] = s
			if takesNext && i+1 < len(out) {
				i++
				out[i] = r.hide(out[i])
			}
		}
	}
	return out
}

func stringList(v any) ([]string, bool) {
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, len(list))
	for i, item := range list {
		s, ok := item.(string)
		if !ok {
			return nil, false
		}
		out[i] = s
	}
	return out, true
}

package redact

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Object removes the secret values of obj, a Kubernetes object or a list of them as
// decoded from JSON or YAML, in place. It returns the values it removed, for a
// recorder that must also keep them out of text derived from the object (see
// Scrubber).
func Object(obj map[string]any) []string {
	var r remover
	r.object(obj)
	return r.removed
}

// remover applies the rules and remembers what it removed.
type remover struct {
	removed []string
	// changed is set by every redaction, also of an empty value or of a whole text.
	changed bool
}

// hide returns the placeholder of v and remembers v.
func (r *remover) hide(v any) string {
	s, ok := v.(string)
	if !ok {
		s = fmt.Sprint(v)
	}
	if isPlaceholder(s) {
		return s
	}
	r.changed = true
	if s != "" {
		r.removed = append(r.removed, s)
	}
	return Placeholder(s)
}

func (r *remover) object(obj map[string]any) {
	if obj == nil {
		return
	}
	if items, ok := obj["items"].([]any); ok {
		for _, item := range items {
			if m, ok := item.(map[string]any); ok {
				r.object(m)
			}
		}
	}
	kind, _ := obj["kind"].(string)
	apiVersion, _ := obj["apiVersion"].(string)
	switch {
	case kind == "Secret" && (apiVersion == "v1" || apiVersion == ""):
		r.hideValues(obj, "data")
		r.hideValues(obj, "stringData")
	case strings.HasPrefix(apiVersion, "authentication.k8s.io/"):
		// TokenRequest answers with status.token; TokenReview carries spec.token.
		for _, part := range []string{"spec", "status"} {
			if m, ok := obj[part].(map[string]any); ok {
				if _, ok := m["token"]; ok {
					m["token"] = r.hide(m["token"])
				}
			}
		}
	}
	if meta, ok := obj["metadata"].(map[string]any); ok {
		if ann, ok := meta["annotations"].(map[string]any); ok {
			if v, ok := ann[LastApplied]; ok {
				ann[LastApplied] = r.lastApplied(v)
			}
		}
	}
	r.walk(obj)
}

// hideValues replaces every value of the map obj[field].
func (r *remover) hideValues(obj map[string]any, field string) {
	m, ok := obj[field].(map[string]any)
	if !ok {
		return
	}
	for k, v := range m {
		m[k] = r.hide(v)
	}
}

// lastApplied redacts the object the annotation holds, as JSON, so that a reader
// still sees what was applied; what does not parse is removed whole.
func (r *remover) lastApplied(v any) any {
	s, ok := v.(string)
	if !ok || isPlaceholder(s) {
		return r.hide(v)
	}
	var inner map[string]any
	if err := json.Unmarshal([]byte(s), &inner); err != nil {
		return r.hide(s)
	}
	r.object(inner)
	return marshal(inner)
}

// walk applies the rules that hold in any object, at any depth: values paired with a
// credential-like name, and credential flags in container arguments.
func (r *remover) walk(v any) {
	switch t := v.(type) {
	case map[string]any:
		r.namedValue(t)
		for k, child := range t {
			if list, ok := child.([]any); ok && (k == "args" || k == "command") {
				r.argList(list)
			}
			r.walk(child)
		}
	case []any:
		for _, child := range t {
			r.walk(child)
		}
	}
}

// namedValue redacts {name: X, value: V} when X looks like a credential (container
// env vars, and the parameters of many CRDs), and the password of a URL in V otherwise
// (DATABASE_URL=postgres://user:password@host).
func (r *remover) namedValue(m map[string]any) {
	name, ok := m["name"].(string)
	if !ok {
		return
	}
	val, ok := m["value"].(string)
	if !ok {
		return
	}
	if CredentialName(name) {
		m["value"] = r.hide(val)
		return
	}
	m["value"] = r.urlPasswords(val)
}

// argList redacts the values of credential flags (--db-password=x, --token x) and of
// credential assignments (PGPASSWORD=x) in a container's args or command.
func (r *remover) argList(list []any) {
	next := false
	for i, item := range list {
		s, ok := item.(string)
		if !ok {
			next = false
			continue
		}
		if next {
			list[i] = r.hide(s)
			next = false
			continue
		}
		out, takesNext := r.argument(s)
		list[i] = out
		next = takesNext
	}
}

// argument redacts one argument of a command line. takesNext is true when it is a
// credential flag whose value is the next argument.
func (r *remover) argument(s string) (out string, takesNext bool) {
	if strings.HasPrefix(s, "-") {
		flag, value, hasValue := strings.Cut(s, "=")
		name := strings.TrimLeft(flag, "-")
		if !CredentialName(name) {
			if hasValue {
				return flag + "=" + r.urlPasswords(value), false
			}
			return s, false
		}
		if !hasValue {
			return s, true
		}
		return flag + "=" + r.hide(value), false
	}
	if key, value, ok := strings.Cut(s, "="); ok && key != "" && !strings.ContainsAny(key, " \t") {
		if CredentialName(key) || key == LastApplied {
			return key + "=" + r.hide(value), false
		}
		return key + "=" + r.urlPasswords(value), false
	}
	return r.urlPasswords(s), false
}

// urlPassword matches the password of a URL's user information.
var urlPassword = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+:)([^\s@/]+)@`)

// urlPasswords redacts the passwords of the URLs in s.
func (r *remover) urlPasswords(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return urlPassword.ReplaceAllStringFunc(s, func(m string) string {
		sub := urlPassword.FindStringSubmatch(m)
		if isPlaceholder(sub[2]) {
			return m
		}
		return sub[1] + r.hide(sub[2]) + "@"
	})
}

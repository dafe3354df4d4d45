package redact

import (
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"slices"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Documents redacts text that holds Kubernetes objects: one JSON document, or YAML
// documents separated by "---", as kubectl -o json|yaml prints them. It returns the
// text in the same format and the values it removed; text that is not objects is an
// error, never returned unredacted.
func Documents(text string) (string, []string, error) {
	objs, err := decodeDocuments(text)
	if err != nil {
		return "", nil, err
	}
	var r remover
	var b strings.Builder
	asJSON := strings.HasPrefix(strings.TrimSpace(text), "{")
	for i, obj := range objs {
		r.object(obj)
		if asJSON {
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false) // "<redacted: ...>" as written, not \u003c
			enc.SetIndent("", "    ")
			if err := enc.Encode(obj); err != nil {
				return "", nil, err
			}
			continue
		}
		data, err := yaml.Marshal(obj)
		if err != nil {
			return "", nil, err
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(data)
	}
	return b.String(), r.removed, nil
}

// decodeDocuments reads the JSON or YAML documents of text; each must be a map.
func decodeDocuments(text string) ([]map[string]any, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(text), 4096)
	var objs []map[string]any
	for {
		var obj map[string]any
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		if obj != nil {
			objs = append(objs, obj)
		}
	}
}

// looksLikeObjects reports whether text is Kubernetes objects: every document a map
// with a kind.
func looksLikeObjects(text string) bool {
	t := strings.TrimSpace(text)
	// Cheap first: a table or describe output is neither JSON nor has a top-level kind,
	// and decoding it as YAML would cost more than all the line rules.
	if t == "" || !strings.HasPrefix(t, "{") && !topLevelKind.MatchString(t) {
		return false
	}
	objs, err := decodeDocuments(t)
	if err != nil || len(objs) == 0 {
		return false
	}
	for _, o := range objs {
		if k, _ := o["kind"].(string); k == "" {
			return false
		}
	}
	return true
}

// Text redacts text of any shape: as objects (Documents) when it is objects, else by
// line rules: the value of a credential-like "key: value" or "KEY=value" line (how
// kubectl describe and set env --list print env vars), the last-applied annotation,
// and anywhere in a line bearer tokens, JSON Web Tokens (service account tokens),
// private keys in PEM and the passwords of URLs. It returns the values it removed.
func Text(text string) (string, []string) {
	if looksLikeObjects(text) {
		if out, removed, err := Documents(text); err == nil {
			return out, removed
		}
	}
	var r remover
	if t := strings.TrimSpace(text); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		// JSON that is not objects (a jsonpath of env vars): the rules that hold in any
		// object, at any depth.
		var v any
		if json.Unmarshal([]byte(t), &v) == nil {
			if m, ok := v.(map[string]any); ok {
				r.object(m)
			} else {
				r.walk(v)
			}
			if !r.changed {
				return text, nil
			}
			return marshal(v) + "\n", r.removed
		}
	}
	out := r.text(text)
	return out, r.removed
}

var (
	// topLevelKind is the kind or apiVersion line of a YAML object.
	topLevelKind = regexp.MustCompile(`(?m)^(kind|apiVersion): `)
	// credentialLine is an indented "key: value" or "KEY=value" line.
	credentialLine = regexp.MustCompile(`(?m)^([ \t]*)([A-Za-z0-9_.\-/]+)(:[ \t]+|=)([^\n]*\S)[ \t]*$`)
	// sizeOnly is how describe prints Secret data: sizes, not values.
	sizeOnly = regexp.MustCompile(`^\d+ bytes$`)
	// privateKey is a PEM block of a private key.
	privateKey = regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----`)
	// jwt is a JSON Web Token: base64url header, payload and signature.
	jwt = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`)
	// bearer is an HTTP bearer credential.
	bearer = regexp.MustCompile(`(?i)\b(bearer[ \t]+)([A-Za-z0-9._~+/=-]{8,})`)
	// assignment is KEY=value anywhere in a line (a command line, a log line).
	assignment = regexp.MustCompile(`([A-Za-z0-9_.-]+)=([^\s"',;&]+)`)
)

// credentialWords are the lowercase words every credential-like name contains, and
// every last-applied annotation: text without any of them has no credential line,
// which is how most tool output (tables, events) is told apart quickly.
var credentialWords = []string{"pass", "pwd", "secret", "token", "key", "credential", "auth", "dsn", "last-applied"}

// Each rule runs only on text that holds what its matches must hold: Go's regexps
// cost more than the substring searches, and most text has nothing to redact.
func (r *remover) text(s string) string {
	if strings.Contains(s, "PRIVATE KEY-----") {
		s = privateKey.ReplaceAllStringFunc(s, func(m string) string { return r.hide(m) })
	}
	if strings.Contains(s, "eyJ") {
		s = jwt.ReplaceAllStringFunc(s, func(m string) string { return r.hide(m) })
	}
	lower := strings.ToLower(s)
	if strings.Contains(lower, "bearer") {
		s = bearer.ReplaceAllStringFunc(s, func(m string) string {
			sub := bearer.FindStringSubmatch(m)
			return sub[1] + r.hide(sub[2])
		})
	}
	s = r.urlPasswords(s)
	if !slices.ContainsFunc(credentialWords, func(w string) bool { return strings.Contains(lower, w) }) {
		return s
	}
	s = assignment.ReplaceAllStringFunc(s, func(m string) string {
		sub := assignment.FindStringSubmatch(m)
		if !CredentialName(sub[1]) || strings.HasPrefix(sub[2], "<") {
			return m
		}
		return sub[1] + "=" + r.hide(sub[2])
	})
	return credentialLine.ReplaceAllStringFunc(s, func(line string) string {
		m := credentialLine.FindStringSubmatch(line)
		indent, key, sep, value := m[1], m[2], m[3], m[4]
		if key != LastApplied && !CredentialName(key) || sizeOnly.MatchString(value) ||
			strings.HasPrefix(value, "<") && strings.HasSuffix(value, ">") { // "<set to the key 'password' in secret 'db'>", a placeholder
			return line
		}
		return indent + key + sep + r.hide(value)
	})
}

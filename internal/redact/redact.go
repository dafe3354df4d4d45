// Package redact removes secret values from what kubeask shows or keeps: tool results
// given to a model or an MCP client, the steps recorded in an AgentQuery's status, and
// the MCP audit log. It is the one place that decides what a secret value is.
//
// Structured rules come first, on objects decoded from JSON or YAML (Object): the data
// and stringData of Secrets, the tokens of TokenRequests and TokenReviews, the
// last-applied-configuration annotation of any kind (a copy of what was applied,
// Secret data and env values included), values paired with a credential-like name
// ({name: DB_PASSWORD, value: ...}, as env vars and many CRDs hold them) and
// credential flags in container arguments. Text that is not objects falls back to line
// rules (Text). A removed value becomes a placeholder that tells its size, never its
// content.
package redact

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// LastApplied is the annotation kubectl apply keeps a copy of the applied object in.
const LastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// Placeholder is what replaces the secret value v.
func Placeholder(v string) string {
	return fmt.Sprintf("<redacted: %d bytes>", len(v))
}

// placeholderPattern matches what Placeholder and the other replacements of this
// package write.
var placeholderPattern = regexp.MustCompile(`<redacted(: [^<>]*)?>`)

// HasPlaceholder reports whether s holds a placeholder of this package: a value that
// was removed, which must never be written back to the cluster in its place.
func HasPlaceholder(s string) bool {
	return strings.Contains(s, "<redacted") && placeholderPattern.MatchString(s)
}

// ArgumentsHavePlaceholder reports whether the JSON arguments of a tool call hold a
// placeholder in any string, however the JSON escapes it ("\u003credacted").
func ArgumentsHavePlaceholder(args string) bool {
	var v any
	if err := json.Unmarshal([]byte(args), &v); err != nil {
		return HasPlaceholder(args)
	}
	return anyPlaceholder(v)
}

func anyPlaceholder(v any) bool {
	switch t := v.(type) {
	case string:
		return HasPlaceholder(t)
	case map[string]any:
		for k, child := range t {
			if HasPlaceholder(k) || anyPlaceholder(child) {
				return true
			}
		}
	case []any:
		for _, child := range t {
			if anyPlaceholder(child) {
				return true
			}
		}
	}
	return false
}

// isPlaceholder reports whether v is a placeholder already, or a mask kubectl printed
// itself (kubectl diff masks Secret data as "***"), so it is not redacted twice.
func isPlaceholder(v string) bool {
	return strings.HasPrefix(v, "***") || strings.HasPrefix(v, "<redacted") && placeholderPattern.MatchString(v)
}

// credentialPattern matches names of fields, env vars, flags and keys that usually
// hold credentials.
var credentialPattern = regexp.MustCompile(`(?i)(password|passwd|passphrase|secret|token|api[-_]?key|private[-_]?key|access[-_]?key|credential|auth|[-_.](pass|pwd|key)$|(^|[-_.])dsn$)`)

// CredentialName reports whether name (a field, an env var, a flag, a key) usually
// holds a credential. Names ending in "name" or "names" name something instead
// (secretName, TOKEN_SECRET_NAME) and are not credentials themselves.
func CredentialName(name string) bool {
	lower := strings.ToLower(name)
	if strings.HasSuffix(lower, "name") || strings.HasSuffix(lower, "names") {
		return false
	}
	return credentialPattern.MatchString(name)
}

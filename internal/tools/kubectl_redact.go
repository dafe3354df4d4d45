package tools

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kubeask/kubeask/internal/redact"
)

// redactKubectlOutput reads what kubectl printed. shown is what a caller allowed to
// see secret values sees; redacted is the same without them, by structure where the
// command prints objects (-o json|yaml, apply view-last-applied, a TokenRequest) or a
// diff of objects (diff), and as text otherwise (describe, rollout history, set env
// --list, logs). removed are the values redacted hides. An error means the output
// cannot be redacted: a caller who may not see secret values gets none of it, and
// the record keeps none of it.
func redactKubectlOutput(call kubectlCall, out string) (shown, redacted string, removed []string, err error) {
	if out == "" {
		return "", "", nil, nil
	}
	switch {
	case call.unredactable != "" || !slices.Contains(redactableOutputs, call.output):
		// Reached only when the policy allows secret values: the parser refuses these
		// otherwise.
		return out, "", nil, fmt.Errorf("%s prints fields that cannot be told apart from secret values", call.unredactableWhy())
	case call.verb == "diff":
		plain, red, removed, err := redact.Diff(out)
		if err != nil {
			return out, "", nil, fmt.Errorf("the diff could not be read to redact secret values (%w); diff fewer objects", err)
		}
		return plain, red, removed, nil
	case call.verb == "create" && call.subcommand == "token" && (call.output == "" || call.output == "name"):
		// kubectl create token prints the bearer token and nothing else.
		token := strings.TrimSpace(out)
		return out, redact.Placeholder(token) + "\n", []string{token}, nil
	case call.output == "json" || call.output == "yaml" || call.verb == "apply view-last-applied":
		red, removed, err := redact.Documents(out)
		if err != nil {
			return out, "", nil, fmt.Errorf("it could not be parsed to redact secret values (%w); narrow the request or use the default output", err)
		}
		return out, red, removed, nil
	}
	red, removed := redact.Text(out)
	return out, red, removed, nil
}

// rawRevealed finds the secret values in output that could not be redacted (a
// jsonpath or template the policy allowed), so that a model's answer quoting one is
// scrubbed from the record: what the rules find in it (a jsonpath of env vars prints
// them as JSON), and every word of it when the command names Secrets (a jsonpath of
// a Secret's data prints bare values).
func rawRevealed(args []string, out string) []string {
	_, revealed := redact.Text(out)
	for _, a := range args {
		if !strings.HasPrefix(a, "-") && strings.Contains(strings.ToLower(a), "secret") {
			return append(revealed, strings.Fields(out)...)
		}
	}
	return revealed
}

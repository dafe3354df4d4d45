package audit

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/kubeask/kubeask/internal/redact"
)

// maxArgumentBytes bounds the arguments kept in one audit line.
const maxArgumentBytes = 4096

// Mask returns the tool arguments with secret values replaced, fit for a log line, by
// the same rules as the query status (redact.Arguments): the data of Secrets,
// credential-like env values and fields, the last-applied annotation in manifests and
// patches, and literal values and credential flags in kubectl arguments. Arguments that
// are not JSON are not logged.
func Mask(args json.RawMessage) json.RawMessage {
	if len(args) == 0 {
		return nil
	}
	if !json.Valid(args) {
		return json.RawMessage(fmt.Sprintf(`{"unparseable":%d}`, len(args)))
	}
	out := []byte(maskPrompts(redact.Arguments(string(args))))
	if !json.Valid(out) {
		return json.RawMessage(fmt.Sprintf(`{"unparseable":%d}`, len(args)))
	}
	if len(out) > maxArgumentBytes {
		out, _ = marshal(map[string]any{"truncated": true, "bytes": len(out), "prefix": string(out[:maxArgumentBytes/2])})
	}
	return out
}

// promptFields are free-text arguments (ask's prompt) that people paste anything
// into: they are redacted as text (redact.Text: credential-like key=value and
// "key: value" lines, bearer tokens, JWTs, private keys, passwords in URLs), like tool
// output.
var promptFields = []string{"prompt"}

func maskPrompts(args string) string {
	var v map[string]any
	if json.Unmarshal([]byte(args), &v) != nil {
		return args
	}
	changed := false
	for _, k := range promptFields {
		text, ok := v[k].(string)
		if !ok {
			continue
		}
		if masked, removed := redact.Text(text); len(removed) > 0 {
			v[k], changed = masked, true
		}
	}
	if !changed {
		return args
	}
	out, err := marshal(v)
	if err != nil {
		return args
	}
	return string(out)
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

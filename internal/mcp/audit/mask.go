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
	out := []byte(redact.Arguments(string(args)))
	if !json.Valid(out) {
		return json.RawMessage(fmt.Sprintf(`{"unparseable":%d}`, len(args)))
	}
	if len(out) > maxArgumentBytes {
		out, _ = marshal(map[string]any{"truncated": true, "bytes": len(out), "prefix": string(out[:maxArgumentBytes/2])})
	}
	return out
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

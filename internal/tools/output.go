package tools

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/kubeask/kubeask/internal/redact"
)

// bounded is a text cut to the byte budget.
type bounded struct {
	text      string
	truncated bool
}

// bound cuts text to the byte budget at a line boundary and says so, with a hint for
// narrowing the request.
func (e *Env) bound(text string) bounded {
	max := e.maxBytes()
	if len(text) <= max {
		return bounded{text: text}
	}
	cut := strings.LastIndexByte(text[:max], '\n')
	if cut < max/2 {
		cut = max
		for cut > 0 && text[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
			cut--
		}
	}
	return bounded{truncated: true, text: text[:cut] + fmt.Sprintf("\n[truncated: showed %d of %d bytes. Narrow the request: a namespace, a labelSelector or fieldSelector, a limit, or tailLines for logs.]", cut, len(text))}
}

// objectResult renders obj as YAML without managedFields (noise for a reader). The
// caller sees it with secret values redacted unless the output policy allows them;
// the record never has them.
func (e *Env) objectResult(obj *unstructured.Unstructured) (*Result, error) {
	obj = obj.DeepCopy()
	obj.SetManagedFields(nil)
	var plain []byte
	if e.Output.AllowSecretValues {
		b, err := yaml.Marshal(obj.Object)
		if err != nil {
			return nil, fmt.Errorf("rendering %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
		plain = b
	}
	revealed := redact.Object(obj.Object)
	redacted, err := yaml.Marshal(obj.Object)
	if err != nil {
		return nil, fmt.Errorf("rendering %s %s: %w", obj.GetKind(), obj.GetName(), err)
	}
	if !e.Output.AllowSecretValues {
		return &Result{Text: string(redacted), Recorded: string(redacted)}, nil
	}
	return &Result{Text: string(plain), Recorded: string(redacted), Revealed: revealed}, nil
}

// finish makes res what Call returns: Recorded set (the handler's structured
// redaction, else Text redacted as text), Text redacted too unless the output policy
// allows secret values, and both bounded.
func (e *Env) finish(res *Result) *Result {
	out := Result{}
	if res != nil {
		out = *res
	}
	if out.Recorded == "" && out.Text != "" {
		out.Recorded, out.Revealed = redact.Text(out.Text)
	}
	if !e.Output.AllowSecretValues {
		out.Text, out.Revealed = out.Recorded, nil
	}
	text, recorded := e.bound(out.Text), e.bound(out.Recorded)
	out.Text, out.Recorded = text.text, recorded.text
	out.Truncated = out.Truncated || text.truncated
	return &out
}

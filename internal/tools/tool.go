// Package tools is kubeask's one tool registry. A tool is data: a name, a description,
// a typed input whose JSON schema is generated from its Go struct, annotations
// (read-only, destructive) and a handler. The agent loop and the MCP endpoint are two
// front doors onto the same registry; neither this package nor a tool knows about an
// LLM or MCP SDK.
//
// Every handler works through an Env whose clients impersonate the requester; no tool
// reads from the operator's informer cache.
package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/kubeask/kubeask/internal/redact"
)

// Annotations describe what a tool does to the cluster. They drive the agent's gate
// (mutating calls need the mode's or the requester's consent) and become MCP hints.
type Annotations struct {
	// Title is a short human name.
	Title string `json:"title,omitempty"`
	// ReadOnly tools never change the cluster.
	ReadOnly bool `json:"readOnly"`
	// Destructive tools may delete or overwrite existing state.
	Destructive bool `json:"destructive"`
	// Idempotent tools have no further effect when called again with the same arguments.
	Idempotent bool `json:"idempotent"`
}

// Tool is one tool. Build it with Define.
type Tool struct {
	Name        string
	Description string
	Annotations Annotations
	// InputSchema is the JSON schema of the arguments, generated from the input type.
	InputSchema *jsonschema.Schema

	resolved *jsonschema.Resolved
	// schemaJSON is InputSchema encoded once: the agent declares the tools on every
	// model call.
	schemaJSON json.RawMessage
	run        func(ctx context.Context, env *Env, args json.RawMessage) (*Result, error)
	mutates    func(args json.RawMessage) bool
	// check refuses arguments the tool would refuse whatever the mode (see Refusal).
	check func(args json.RawMessage, out OutputPolicy) error
}

// Result is what a call returns to the model or the MCP client.
type Result struct {
	// Text is the readable result.
	Text string
	// IsError marks a result that reports a failure the caller can act on (forbidden,
	// not found, invalid arguments), as opposed to a broken tool.
	IsError bool
	// Truncated is true when Text was cut to the output budget.
	Truncated bool
	// Forbidden is true when the API server refused the requester (403): the result
	// is the API server's RBAC or admission answer, not the tool's failure.
	Forbidden bool
	// Recorded is Text as it may be kept where people other than the caller read it
	// (a query's status): without secret values, even when the output policy shows them
	// to the caller. Call always sets it. A handler sets it when it redacted its output
	// by structure (objects); otherwise Call redacts Text as text.
	Recorded string
	// Revealed are the secret values Text shows and Recorded hides (only when the
	// output policy allows them), so that a recorder can also keep them out of text
	// derived from Text, such as a model's answer.
	Revealed []string
}

// Define builds a tool whose arguments decode into In. The schema comes from In's
// fields: `json` tags name them, fields without omitempty are required, and a
// `jsonschema:"..."` tag describes them.
func Define[In any](name, description string, ann Annotations, handler func(ctx context.Context, env *Env, in In) (*Result, error)) Tool {
	schema, err := jsonschema.For[In](nil)
	if err != nil {
		panic(fmt.Sprintf("tool %s: input schema: %v", name, err)) // a programming error, caught by the registry test
	}
	resolved, err := schema.Resolve(nil)
	if err != nil {
		panic(fmt.Sprintf("tool %s: resolving schema: %v", name, err))
	}
	raw, err := json.Marshal(schema)
	if err != nil {
		panic(fmt.Sprintf("tool %s: encoding schema: %v", name, err))
	}
	t := Tool{Name: name, Description: description, Annotations: ann, InputSchema: schema, resolved: resolved, schemaJSON: raw}
	t.run = func(ctx context.Context, env *Env, args json.RawMessage) (*Result, error) {
		var in In
		if err := decodeArgs(args, &in); err != nil {
			return nil, err
		}
		return handler(ctx, env, in)
	}
	return t
}

// InputSchemaJSON is the JSON encoding of InputSchema. Callers must not modify it.
func (t Tool) InputSchemaJSON() json.RawMessage { return t.schemaJSON }

// WithMutates sets a per-call classification, for tools whose effect depends on their
// arguments (the kubectl tool); by default a call mutates unless the tool is ReadOnly.
func (t Tool) WithMutates(f func(args json.RawMessage) bool) Tool {
	t.mutates = f
	return t
}

// WithCheck sets a check of the arguments beyond the schema, for tools that refuse
// some arguments whatever the mode (the kubectl tool's argument rules).
func (t Tool) WithCheck(f func(args json.RawMessage, out OutputPolicy) error) Tool {
	t.check = f
	return t
}

// Refusal is the error a call with args would be refused with before it runs (invalid
// arguments, or the tool's own argument rules under the output policy out), or nil. A
// front door that refuses mutations should ask first, so that a call refused for what
// it is (kubectl --as, kubectl config) is not reported as a change it may not make.
func (t Tool) Refusal(args json.RawMessage, out OutputPolicy) error {
	if err := t.Validate(args); err != nil {
		return err
	}
	if t.check != nil {
		return t.check(args, out)
	}
	return nil
}

// Mutates reports whether a call with args may change the cluster.
func (t Tool) Mutates(args json.RawMessage) bool {
	if t.mutates != nil {
		return t.mutates(args)
	}
	return !t.Annotations.ReadOnly
}

// Validate checks args against the schema and returns a readable error.
func (t Tool) Validate(args json.RawMessage) error {
	var v any
	if len(strings.TrimSpace(string(args))) == 0 {
		args = json.RawMessage("{}")
	}
	if err := json.Unmarshal(args, &v); err != nil {
		return ArgumentError{Tool: t.Name, Reason: "arguments are not valid JSON: " + err.Error()}
	}
	if err := t.resolved.Validate(v); err != nil {
		return ArgumentError{Tool: t.Name, Reason: err.Error()}
	}
	return nil
}

// Call validates args, runs the handler and turns errors the caller can act on into
// readable results. A non-nil error means the tool itself failed. The result is
// bounded and redacted by env's output policy, and carries what may be recorded.
func (t Tool) Call(ctx context.Context, env *Env, args json.RawMessage) (*Result, error) {
	res, err := t.call(ctx, env, args)
	if err != nil {
		return nil, err
	}
	return env.finish(res), nil
}

func (t Tool) call(ctx context.Context, env *Env, args json.RawMessage) (*Result, error) {
	if err := t.Validate(args); err != nil {
		return Classify(err)
	}
	if len(strings.TrimSpace(string(args))) == 0 {
		args = json.RawMessage("{}")
	}
	// A placeholder stands for a value kubeask hid, from the model or from the record
	// an approved proposal is run from; written to the cluster it would replace the
	// real value.
	if t.Mutates(args) && redact.ArgumentsHavePlaceholder(string(args)) {
		return Classify(ArgumentError{Tool: t.Name, Reason: "the arguments hold a placeholder such as \"<redacted: 9 bytes>\", which stands for a secret value kubeask hid; " +
			"it would be written to the cluster instead of the value. Leave the secret fields out of the change, " +
			"or let the user set the values themselves (a proposal's arguments are recorded without secret values, so such a change cannot be approved from the query)"})
	}
	res, err := t.run(ctx, env, args)
	if err != nil {
		return Classify(err)
	}
	return res, nil
}

// ArgumentError is a bad argument, reported to the caller.
type ArgumentError struct {
	Tool   string
	Reason string
}

func (e ArgumentError) Error() string {
	return fmt.Sprintf("invalid arguments for %s: %s", e.Tool, e.Reason)
}

func decodeArgs(args json.RawMessage, into any) error {
	dec := json.NewDecoder(strings.NewReader(string(args)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		var ae ArgumentError
		if errors.As(err, &ae) {
			return err
		}
		return ArgumentError{Reason: err.Error()}
	}
	return nil
}

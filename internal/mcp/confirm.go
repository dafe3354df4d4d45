package mcp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/kubeask/kubeask/internal/mcp/audit"
	"github.com/kubeask/kubeask/internal/mcp/auth"
)

// confirmID names the one input request of a proposed change.
const confirmID = "confirm"

// confirmWindow is how long the user has to confirm a proposed change.
const confirmWindow = 10 * time.Minute

// confirmSchema is the elicitation form: one checkbox.
var confirmSchema = map[string]any{
	"type": "object",
	"properties": map[string]any{
		"confirm": map[string]any{"type": "boolean", "title": "Run this change", "description": "Run the call as you, with your permissions."},
	},
	"required": []string{"confirm"},
}

// confirm implements --mcp-mutations=propose with MCP elicitation (as multi
// round-trip input requests): the first call returns a confirmation request, the
// client asks the user, and the retried call carries the answer and the state this
// server signed, which binds the answer to this caller, tool and exact arguments.
// Clients that cannot be asked get a refusal.
func (s *Server) confirm(req *mcp.CallToolRequest, c *call, args json.RawMessage) (*mcp.CallToolResult, string, bool) {
	p := req.Params
	if len(p.InputResponses) > 0 || p.RequestState != "" {
		if !s.verifyState(p.RequestState, c.caller, c.tool, args) {
			return toolError("the confirmation does not match this call (it expired, or the call changed); call the tool again to be asked anew"), audit.OutcomeRefused, false
		}
		r, ok := p.InputResponses[confirmID].(*mcp.ElicitResult)
		if !ok {
			return toolError("the call carried no answer to the confirmation request; the change was not made"), audit.OutcomeRefused, false
		}
		if r.Action == "accept" && r.Content["confirm"] == true {
			return nil, "", true
		}
		return toolError(fmt.Sprintf("the user did not confirm the change (%s); it was not made", r.Action)), audit.OutcomeRefused, false
	}
	if caps := req.ClientCapabilities(); caps == nil || caps.Elicitation == nil {
		return toolError(c.tool + " would change the cluster. This MCP endpoint runs such calls only after the user confirms them (--mcp-mutations=propose), " +
			"and this client cannot ask the user (it does not support MCP elicitation, or connected statelessly with an older protocol version): the call was not made. " +
			"Describe the change to the user so they can apply it themselves."), audit.OutcomeRefused, false
	}
	msg := fmt.Sprintf("kubeask: %s wants to change the cluster as %s with:\n%s\nRun it?", c.tool, c.caller.Identity.Username, audit.Mask(args))
	return &mcp.CallToolResult{
		InputRequests: mcp.InputRequestMap{confirmID: &mcp.ElicitParams{Mode: "form", Message: msg, RequestedSchema: confirmSchema}},
		RequestState:  s.signState(c.caller, c.tool, args, time.Now().Add(confirmWindow)),
	}, audit.OutcomeInputRequired, false
}

// signState binds a confirmation to the caller, tool, arguments and a deadline.
func (s *Server) signState(caller *auth.Caller, tool string, args json.RawMessage, until time.Time) string {
	payload := fmt.Sprintf("%d|%s", until.Unix(), stateDigest(caller, tool, args))
	mac := hmac.New(sha256.New, s.stateKey)
	mac.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func (s *Server) verifyState(state string, caller *auth.Caller, tool string, args json.RawMessage) bool {
	p64, m64, ok := strings.Cut(state, ".")
	if !ok {
		return false
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	sum, err2 := base64.RawURLEncoding.DecodeString(m64)
	if err1 != nil || err2 != nil {
		return false
	}
	mac := hmac.New(sha256.New, s.stateKey)
	mac.Write(payload)
	if !hmac.Equal(sum, mac.Sum(nil)) {
		return false
	}
	var until int64
	var digest string
	if _, err := fmt.Sscanf(string(payload), "%d|%s", &until, &digest); err != nil {
		return false
	}
	return time.Now().Unix() <= until && digest == stateDigest(caller, tool, args)
}

func stateDigest(caller *auth.Caller, tool string, args json.RawMessage) string {
	h := sha256.New()
	h.Write([]byte(caller.Key()))
	h.Write([]byte{0})
	h.Write([]byte(tool))
	h.Write([]byte{0})
	h.Write(canonical(args))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// canonical re-encodes JSON with sorted keys and no spacing, so that a client that
// re-serializes the same arguments on retry still matches.
func canonical(args json.RawMessage) []byte {
	var v any
	if err := json.Unmarshal(args, &v); err != nil {
		return args
	}
	b, err := json.Marshal(v)
	if err != nil {
		return args
	}
	return b
}

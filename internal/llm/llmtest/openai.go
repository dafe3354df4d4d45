// Package llmtest is for tests only: a local server that speaks the OpenAI chat
// completions wire protocol (as OpenAI, vLLM, Ollama and friends do), scripted by the
// test, so that the agent is tested through the real openai-go client with no network;
// and Scripted, a raw server of canned answers for each provider's wire-format tests.
// Every fake enforces its provider's conversation rules (see Protocol).
package llmtest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Message is one message of a chat completions request, as received.
type Message struct {
	Role       string     `json:"role"`
	Content    any        `json:"content"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
}

// Text returns the message content as text, whether it was sent as a string or parts.
func (m Message) Text() string {
	switch c := m.Content.(type) {
	case string:
		return c
	case []any:
		var b strings.Builder
		for _, p := range c {
			if part, ok := p.(map[string]any); ok {
				if t, ok := part["text"].(string); ok {
					b.WriteString(t)
				}
			}
		}
		return b.String()
	}
	return ""
}

// ToolCall is a tool call in the wire format.
type ToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// Request is a chat completions request, as received.
type Request struct {
	Model    string    `json:"model"`
	Messages []Message `json:"messages"`
	Tools    []struct {
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	} `json:"tools"`
	// ToolChoice is the request's tool_choice ("none", "auto", an object), if any.
	ToolChoice any         `json:"tool_choice,omitempty"`
	Header     http.Header `json:"-"`
	// Context is the HTTP request's context: it ends when the client gives up.
	Context context.Context `json:"-"`
}

// ToolNames lists the declared tools.
func (r Request) ToolNames() []string {
	var names []string
	for _, t := range r.Tools {
		names = append(names, t.Function.Name)
	}
	return names
}

// Last returns the last message.
func (r Request) Last() Message {
	if len(r.Messages) == 0 {
		return Message{}
	}
	return r.Messages[len(r.Messages)-1]
}

// ToolResults returns the tool messages after the last assistant message.
func (r Request) ToolResults() []Message {
	var out []Message
	for i := len(r.Messages) - 1; i >= 0 && r.Messages[i].Role == "tool"; i-- {
		out = append([]Message{r.Messages[i]}, out...)
	}
	return out
}

// Call is a tool call the script wants the model to make.
type Call struct {
	Name string
	Args string // raw JSON text, possibly malformed on purpose
}

// Reply is what the model answers to one request.
type Reply struct {
	Text  string
	Calls []Call
	// Status, if not 0 or 200, makes the server answer with this HTTP status and Body.
	Status int
	Body   string
	Header map[string]string
	// InputTokens and OutputTokens are reported as usage (defaults 10 and 5).
	InputTokens, OutputTokens int64
}

// Server is the fake model server.
type Server struct {
	*httptest.Server
	// Latency delays every answer.
	Latency time.Duration

	script   func(Request) Reply
	calls    atomic.Int64
	mu       sync.Mutex
	reqs     []Request
	rejected []Rejection
}

// NewServer starts a server whose answers come from script. Close it when done.
func NewServer(script func(Request) Reply) *Server {
	s := &Server{script: script}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	return s
}

// BaseURL is the base URL to configure in a catalog model (OpenAI-compatible).
func (s *Server) BaseURL() string { return s.URL + "/v1" }

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Calls is the number of requests received.
func (s *Server) Calls() int64 { return s.calls.Load() }

// Rejections returns the requests refused so far because OpenAI would refuse them
// (see checkOpenAIChat), for tests to show why a conversation failed.
func (s *Server) Rejections() []Rejection {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Rejection(nil), s.rejected...)
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/chat/completions") || r.Method != http.MethodPost {
		http.Error(w, `{"error":{"message":"not found","type":"invalid_request_error"}}`, http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req Request
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, `{"error":{"message":"bad json","type":"invalid_request_error"}}`, http.StatusBadRequest)
		return
	}
	req.Header = r.Header.Clone()
	req.Context = r.Context()
	n := s.calls.Add(1)
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	s.mu.Unlock()
	// The script never sees a conversation the real API refuses: the client gets
	// OpenAI's 400, as it would in production.
	if rej := OpenAI.Check(r.URL.Path, body); rej != nil {
		s.mu.Lock()
		s.rejected = append(s.rejected, *rej)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rej.Status)
		_, _ = io.WriteString(w, rej.Body)
		return
	}
	if s.Latency > 0 {
		select {
		case <-time.After(s.Latency):
		case <-r.Context().Done():
			return
		}
	}
	reply := s.script(req)
	for k, v := range reply.Header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	if reply.Status != 0 && reply.Status != http.StatusOK {
		w.WriteHeader(reply.Status)
		_, _ = io.WriteString(w, reply.Body)
		return
	}
	_ = json.NewEncoder(w).Encode(openAICompletion(n, req.Model, reply)) //nolint:errchkjson // the client sees a broken reply if this fails; nothing else to do
}

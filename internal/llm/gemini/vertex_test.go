package gemini

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"cloud.google.com/go/auth"

	"github.com/kubeask/kubeask/internal/llm"
)

// vertexToolCallReply is a generateContent reply in the shape Vertex AI sends: the
// same GenerateContentResponse as the Gemini API, plus createTime.
const vertexToolCallReply = `{
  "candidates": [{"content": {"role": "model", "parts": [
      {"functionCall": {"name": "list_pods", "args": {"namespace": "default"}}, "thoughtSignature": "c2lnLXZlcnRleA=="}]},
    "finishReason": "STOP", "avgLogprobs": -0.12}],
  "usageMetadata": {"promptTokenCount": 75, "candidatesTokenCount": 8, "totalTokenCount": 83, "trafficType": "ON_DEMAND"},
  "modelVersion": "gemini-2.5-flash", "createTime": "2026-01-12T09:30:00.123456Z", "responseId": "vertex-resp-1"
}`

// staticToken stands in for Application Default Credentials (Workload Identity).
type staticToken string

func (s staticToken) Token(context.Context) (*auth.Token, error) {
	return &auth.Token{Value: string(s), Type: "Bearer"}, nil
}

func testCredentials() *auth.Credentials {
	return auth.NewCredentials(&auth.CredentialsOptions{
		TokenProvider: staticToken("vertex-test-token"),
		QuotaProjectIDProvider: auth.CredentialsPropertyFunc(func(context.Context) (string, error) {
			return "kubeask-billing", nil
		}),
	})
}

// TestVertexAI checks the request the real genai client sends to Vertex AI: the model
// under the project and location, on genai's Vertex API version, authenticated with the
// credentials' bearer token and never an API key; and the functionCall of the reply
// comes back as a tool call whose replay carries its thought signature.
func TestVertexAI(t *testing.T) {
	// None of these may leak into a Vertex request configured explicitly.
	t.Setenv("GOOGLE_API_KEY", "from-environment")
	t.Setenv("GOOGLE_CLOUD_PROJECT", "env-project")
	t.Setenv("GOOGLE_CLOUD_LOCATION", "env-location")
	f := newFake(t, reply{Body: vertexToolCallReply}, reply{Body: textReply})
	c, err := New(t.Context(), Config{
		Model: "gemini-2.5-flash", BaseURL: f.URL, VertexAI: true,
		Project: "kubeask-prod", Location: "europe-west4", Credentials: testCredentials(),
	})
	if err != nil {
		t.Fatal(err)
	}
	req := ask("list pods")
	resp, err := c.Chat(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StopReason != llm.StopToolUse || len(resp.Message.ToolCalls) != 1 {
		t.Fatalf("unexpected reply %+v", resp)
	}
	call := resp.Message.ToolCalls[0]
	if call.ID == "" || call.Name != "list_pods" || string(call.Arguments) != `{"namespace":"default"}` || string(call.Opaque) != "sig-vertex" {
		t.Errorf("call %+v", call)
	}
	if resp.Usage != (llm.Usage{InputTokens: 75, OutputTokens: 8}) {
		t.Errorf("usage %+v", resp.Usage)
	}

	req.Messages = append(req.Messages, resp.Message, llm.Message{Role: llm.RoleTool, ToolResults: []llm.ToolResult{
		{CallID: call.ID, Name: call.Name, Content: "web-1 Running"},
	}})
	if _, err := c.Chat(t.Context(), req); err != nil {
		t.Fatal(err)
	}

	got := f.Requests()
	if len(got) != 2 {
		t.Fatalf("%d requests, want 2", len(got))
	}
	for i, r := range got {
		const path = "/v1beta1/projects/kubeask-prod/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent"
		if r.Method != http.MethodPost || r.Path != path {
			t.Errorf("request %d: %s %s, want POST %s", i, r.Method, r.Path, path)
		}
		if a := r.Header.Get("Authorization"); a != "Bearer vertex-test-token" {
			t.Errorf("request %d: Authorization %q, want the credentials' bearer token", i, a)
		}
		if key := r.Header.Get("X-Goog-Api-Key"); key != "" {
			t.Errorf("request %d: x-goog-api-key %q, want none on Vertex AI", i, key)
		}
		if qp := r.Header.Get("X-Goog-User-Project"); qp != "kubeask-billing" {
			t.Errorf("request %d: x-goog-user-project %q, want the credentials' quota project", i, qp)
		}
	}
	w := decode(t, got[1])
	if len(w.Contents) != 3 {
		t.Fatalf("%d contents, want user, model, user", len(w.Contents))
	}
	part := w.Contents[1].Parts[0]
	if part.FunctionCall == nil || part.FunctionCall.Name != "list_pods" ||
		part.ThoughtSignature != base64.StdEncoding.EncodeToString([]byte("sig-vertex")) {
		t.Errorf("replayed call %+v", part)
	}
	if fr := w.Contents[2].Parts[0].FunctionResponse; fr == nil || fr.Name != "list_pods" || fr.Response["output"] != "web-1 Running" {
		t.Errorf("function response %+v", fr)
	}
}

func TestNewVertexAIConfigErrors(t *testing.T) {
	// genai would fill a missing project or location from these.
	t.Setenv("GOOGLE_CLOUD_PROJECT", "env-project")
	t.Setenv("GOOGLE_CLOUD_LOCATION", "env-location")
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no project", Config{VertexAI: true, Location: "europe-west4"}, "Vertex AI needs a project and a location"},
		{"no location", Config{VertexAI: true, Project: "kubeask-prod"}, "Vertex AI needs a project and a location"},
		{"credentials without Vertex AI", Config{APIKey: "gemini-test-key"}, "credentials are for Vertex AI"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Model = "gemini-2.5-flash"
			tt.cfg.Credentials = testCredentials()
			_, err := New(t.Context(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

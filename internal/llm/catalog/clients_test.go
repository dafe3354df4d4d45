package catalog

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/kubeask/kubeask/internal/llm"
)

// openAIServer answers every chat completion with the same text, in OpenAI's wire
// format, and records the Authorization header of each request.
type openAIServer struct {
	srv  *httptest.Server
	mu   sync.Mutex
	auth []string
}

func newOpenAIServer(t *testing.T) *openAIServer {
	t.Helper()
	s := &openAIServer{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		s.mu.Lock()
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		s.mu.Unlock()
		if r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1730000000,"model":"llama3.1:8b",
			"choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"pong"}}],
			"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *openAIServer) headers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auth...)
}

func testCatalog(t *testing.T, baseURL string) *Catalog {
	t.Helper()
	c, err := Parse([]byte(`
defaultModel: llama
models:
- name: llama
  provider: openai
  model: "llama3.1:8b"
  baseURL: ` + baseURL + `/v1
  apiKeySecretRef: {name: llm-keys, key: llama}
- name: paced
  provider: openai
  model: "llama3.1:8b"
  baseURL: ` + baseURL + `/v1
  timeout: 2s
  limits: {requestsPerMinute: 1}
- name: keyless
  provider: anthropic
  model: claude-sonnet-4-5
  apiKeySecretRef: {name: llm-keys, key: missing}
`))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ping() llm.Request {
	return llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Text: "ping"}}}
}

func TestClientsBuildsCatalogModels(t *testing.T) {
	s := newOpenAIServer(t)
	keys := StaticKeys{{Name: "llm-keys", Key: "llama"}: "sk-one"}
	clients := NewClients(testCatalog(t, s.srv.URL), keys, ClientsOptions{})

	c, err := clients.Client(t.Context(), "") // the default model
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Chat(t.Context(), ping())
	if err != nil || resp.Message.Text != "pong" {
		t.Fatalf("reply %+v, %v", resp, err)
	}

	// A rotated key is used from the next client on.
	keys[SecretKeyRef{Name: "llm-keys", Key: "llama"}] = "sk-two"
	c, err = clients.Client(t.Context(), "llama")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Chat(t.Context(), ping()); err != nil {
		t.Fatal(err)
	}
	if got := s.headers(); len(got) != 2 || got[0] != "Bearer sk-one" || got[1] != "Bearer sk-two" {
		t.Errorf("Authorization headers %q", got)
	}
}

func TestClientsErrors(t *testing.T) {
	clients := NewClients(testCatalog(t, "http://127.0.0.1:1"), StaticKeys{}, ClientsOptions{})
	tests := []struct {
		model string
		want  Reason
	}{
		{"gpt-9", ReasonUnknownModel},
		{"keyless", ReasonAPIKeyUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			_, err := clients.Client(t.Context(), tt.model)
			var e *Error
			if !errors.As(err, &e) || e.Reason != tt.want {
				t.Fatalf("got %v, want reason %s", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.model) {
				t.Errorf("message %q does not name the model", err)
			}
		})
	}
}

// TestClientsRateLimit: with one request per minute, the second call cannot get a slot
// within the model's 2s timeout and fails at once as RateLimited, without reaching the
// provider.
func TestClientsRateLimit(t *testing.T) {
	s := newOpenAIServer(t)
	clients := NewClients(testCatalog(t, s.srv.URL), StaticKeys{}, ClientsOptions{})
	c, err := clients.Client(t.Context(), "paced")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Chat(t.Context(), ping()); err != nil {
		t.Fatal(err)
	}
	// Every query asks for its own client; they all share the model's limiter.
	again, err := clients.Client(t.Context(), "paced")
	if err != nil {
		t.Fatal(err)
	}
	_, err = again.Chat(t.Context(), ping())
	if llm.KindOf(err) != llm.KindRateLimited {
		t.Fatalf("got %v, want RateLimited", err)
	}
	if n := len(s.headers()); n != 1 {
		t.Errorf("%d requests reached the provider, want 1", n)
	}
}

package mcp_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	kmcp "github.com/kubeask/kubeask/internal/mcp"
)

// Requests to the legacy SSE transport that name no open stream of their caller leave
// nothing behind, however many callers send them; a caller's entry lives while one of
// its streams is open.
func TestSSEKeepsNothingForCallersWithoutAnOpenStream(t *testing.T) {
	ts := newServer(t, nil)
	sseURL := ts.Base + kmcp.PathSSE
	ping := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	for i := range 20 {
		for _, token := range []string{aliceToken, bobToken, nobodyToken} {
			if code, _ := rawPost(t, fmt.Sprintf("%s?sessionid=gone-%d", sseURL, i), token, ping); code != http.StatusNotFound {
				t.Fatalf("a POST naming no open session: status %d, want 404", code)
			}
		}
	}
	if code, _ := rawPost(t, sseURL, aliceToken, ping); code != http.StatusBadRequest {
		t.Errorf("a POST without a session id: status %d, want 400", code)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodDelete, sseURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+bobToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: status %d, want 405", resp.StatusCode)
	}
	if n := ts.SSECallers(); n != 0 {
		t.Fatalf("%d callers kept after requests without a stream, want 0", n)
	}

	// An open stream has its entry, which a stray POST of its caller leaves alone and
	// which ends with the stream.
	c := mcp.NewClient(&mcp.Implementation{Name: "sse-test", Version: "v0"}, nil)
	sse, err := c.Connect(ctx(t), &mcp.SSEClientTransport{Endpoint: sseURL, HTTPClient: &http.Client{Transport: bearer{aliceToken, http.DefaultTransport}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if text, isErr := callTool(t, sse, "resources_list", map[string]any{"resource": "pods", "namespace": "team-a"}); isErr || !strings.Contains(text, "checkout-1") {
		t.Errorf("SSE client: error=%v:\n%s", isErr, text)
	}
	if code, _ := rawPost(t, sseURL+"?sessionid=gone", aliceToken, ping); code != http.StatusNotFound {
		t.Errorf("alice posting to no session of hers: status %d, want 404", code)
	}
	if n := ts.SSECallers(); n != 1 {
		t.Errorf("%d callers with an open stream, want 1", n)
	}
	_ = sse.Close()
	deadline := time.Now().Add(10 * time.Second)
	for ts.SSECallers() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the caller's entry outlived its stream")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

package stdio_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/kubeask/kubeask/internal/mcp/stdio"
)

const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}` + "\n"

// authSeen records the Authorization headers a server received.
type authSeen struct {
	mu   sync.Mutex
	seen []string
}

func (a *authSeen) record(r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen = append(a.seen, r.Header.Get("Authorization"))
}

func (a *authSeen) all() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.seen...)
}

// An endpoint that redirects elsewhere does not get the token sent there: the
// redirected request fails instead.
func TestTokenIsNotFollowedThroughARedirect(t *testing.T) {
	var endpoint, elsewhere authSeen
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.record(r)
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	t.Cleanup(other.Close)
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		endpoint.record(r)
		http.Redirect(w, r, other.URL+"/mcp", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirecting.Close)

	kubeconfig := &rest.Config{Host: "https://kubernetes.example.com", BearerToken: "the-users-token"}
	err := stdio.Bridge(t.Context(), kubeconfig, redirecting.URL+"/mcp", strings.NewReader(initialize), io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "refusing to send your token") {
		t.Errorf("bridge through a redirect: %v, want a refusal", err)
	}
	if got := endpoint.all(); len(got) == 0 || got[0] != "Bearer the-users-token" {
		t.Errorf("the endpoint itself got Authorization %q, want the token", got)
	}
	if got := elsewhere.all(); len(got) != 0 {
		t.Errorf("the redirect target got %d requests (Authorization %q), want none", len(got), got)
	}
}

// The bridge itself refuses plain HTTP to another host, unless told otherwise; it
// makes no connection to refuse.
func TestBridgeRefusesPlainHTTPToAnotherHost(t *testing.T) {
	kubeconfig := &rest.Config{Host: "https://kubernetes.example.com", BearerToken: "the-users-token"}
	err := stdio.Bridge(t.Context(), kubeconfig, "http://kubeask.example.com/mcp", strings.NewReader(initialize), io.Discard, nil)
	if !errors.Is(err, stdio.ErrPlainHTTP) {
		t.Errorf("plain HTTP to another host: %v, want ErrPlainHTTP", err)
	}
	// Allowed, the same call gets as far as the network: kubeask.invalid never resolves.
	err = stdio.Bridge(t.Context(), kubeconfig, "http://kubeask.invalid/mcp", strings.NewReader(initialize), io.Discard, &stdio.Options{AllowInsecureHTTP: true})
	if err == nil || errors.Is(err, stdio.ErrPlainHTTP) {
		t.Errorf("with AllowInsecureHTTP: %v, want a network error", err)
	}
}

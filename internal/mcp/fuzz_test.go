package mcp_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/kubeask/kubeask/internal/identity"
	kmcp "github.com/kubeask/kubeask/internal/mcp"
	"github.com/kubeask/kubeask/internal/mcp/auth"
	"github.com/kubeask/kubeask/internal/testcluster"
	"github.com/kubeask/kubeask/internal/tools"
)

// fuzzAuth accepts the token "good" as alice; anything else is unauthenticated.
type fuzzAuth struct{}

func (fuzzAuth) Authenticate(_ context.Context, token string) (*auth.Caller, error) {
	if token == "good" {
		c := &auth.Caller{Mode: "test"}
		c.Identity.Username, c.Identity.Groups = "alice", []string{"dev"}
		return c, nil
	}
	return nil, auth.ErrUnauthenticated
}

// fuzzServer is an endpoint whose API server does not exist (a closed port): the
// request path runs entirely, and tool calls end in readable errors.
func fuzzServer(t testing.TB) http.Handler {
	cfg := &rest.Config{Host: "http://127.0.0.1:1"}
	ids, err := identity.NewFactory(cfg, identity.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	registry, err := tools.NewRegistry(tools.Builtin()...)
	if err != nil {
		t.Fatal(err)
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	restMapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		t.Fatal(err)
	}
	opts := kmcp.NewOptions()
	opts.BindAddress = "127.0.0.1:0"
	opts.MaxBodyBytes = 64 << 10
	opts.RateLimit = 0
	opts.ToolTimeout = 200e6
	srv, err := kmcp.New(t.Context(), kmcp.Config{
		Options: opts, RESTConfig: cfg, Identities: ids, Mapper: tools.NewMapper(dc), RESTMapper: restMapper,
		Scheme: testcluster.NewScheme(), Tools: registry, Authenticator: fuzzAuth{}, Audit: io.Discard, Log: logr.Discard(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv.Handler()
}

// FuzzRequestPath throws malformed JSON-RPC, odd methods, paths and headers at the
// endpoint: it must never panic, and must answer every request with a status that
// says what went wrong (never 5xx for a bad request).
func FuzzRequestPath(f *testing.F) {
	seeds := []struct {
		method, path, auth, contentType, accept, protocol, origin, body string
	}{
		{"POST", "/mcp", "Bearer good", "application/json", "application/json, text/event-stream", "", "", initializeBody},
		{"POST", "/mcp", "Bearer good", "application/json", "application/json, text/event-stream", "2025-06-18", "", `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`},
		{"POST", "/mcp", "Bearer good", "application/json", "application/json, text/event-stream", "2025-06-18", "", `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"resources_list","arguments":{"resource":"pods"}}}`},
		{"POST", "/mcp", "Bearer good", "application/json", "application/json, text/event-stream", "2025-06-18", "", `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"resources_list","arguments":"not an object"}}`},
		{"POST", "/mcp", "Bearer good", "application/json", "application/json, text/event-stream", "2025-06-18", "", `[{"jsonrpc":"2.0","id":5,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"}]`},
		{"POST", "/mcp", "Bearer good", "application/json", "application/json, text/event-stream", "2026-07-28", "", `{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"ask","arguments":{"prompt":""},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`},
		{"POST", "/mcp", "Bearer good", "application/json", "application/json, text/event-stream", "", "", `{"jsonrpc":"2.0","id":`},
		{"POST", "/mcp", "Bearer good", "text/plain", "*/*", "9999-99-99", "", `{}`},
		{"POST", "/mcp", "Bearer good", "application/json", "application/json, text/event-stream", "", "", strings.Repeat("[", 70000)},
		{"POST", "/mcp", "Bearer bad", "application/json", "application/json, text/event-stream", "", "", initializeBody},
		{"POST", "/mcp", "", "application/json", "", "", "http://evil.example", initializeBody},
		{"GET", "/sse", "Bearer good", "", "text/event-stream", "", "", ""},
		{"POST", "/sse?sessionid=nope", "Bearer good", "application/json", "", "", "", `{"jsonrpc":"2.0","id":1,"method":"ping"}`},
		{"DELETE", "/mcp", "Bearer good", "", "", "", "", ""},
		{"GET", "/.well-known/oauth-protected-resource/mcp", "", "", "", "", "", ""},
		{"PUT", "/mcp", "bearer    good", "application/json; charset=utf-8", "application/json, text/event-stream", "", "", `{"jsonrpc":"1.0","id":null,"method":null}`},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.auth, s.contentType, s.accept, s.protocol, s.origin, s.body)
	}
	h := fuzzServer(f)
	f.Fuzz(func(t *testing.T, method, path, authz, contentType, accept, protocol, origin, body string) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequestWithContext(t.Context(), method, "http://127.0.0.1"+path, strings.NewReader(body))
		if err != nil {
			return // not a request an HTTP server could receive
		}
		for k, v := range map[string]string{"Authorization": authz, "Content-Type": contentType, "Accept": accept, "Mcp-Protocol-Version": protocol, "Origin": origin} {
			if v != "" {
				req.Header[k] = []string{v}
			}
		}
		// A GET opening an SSE stream waits for the client by design: end it at once.
		// Anything else must finish on its own, well within the tool timeout.
		ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
		if req.Method == http.MethodGet {
			cancel()
		}
		defer cancel()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req.WithContext(ctx))
		if req.Method != http.MethodGet && ctx.Err() != nil {
			t.Fatalf("%s %s did not finish within 10s", method, path)
		}
		if rec.Code >= 500 && !errors.Is(ctx.Err(), context.Canceled) {
			t.Errorf("%s %s answered %d: %s", method, path, rec.Code, rec.Body.String())
		}
	})
}

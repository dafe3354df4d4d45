package stdio_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"k8s.io/client-go/rest"

	"github.com/kubeask/kubeask/internal/mcp/stdio"
)

// whoamiServer is an MCP endpoint whose tool whoami answers with the bearer token it
// was called with, reporting progress first when asked to; extra tools are listed too.
func whoamiServer(t *testing.T, seen *authSeen, extra ...string) string {
	t.Helper()
	srv := mcp.NewServer(&mcp.Implementation{Name: "whoami", Version: "v0"}, nil)
	srv.AddTool(&mcp.Tool{Name: "whoami", InputSchema: map[string]any{"type": "object", "properties": map[string]any{"note": map[string]any{"type": "string"}}}},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if tok := req.Params.GetProgressToken(); tok != nil {
				_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Message: "looking", Progress: 1})
			}
			authz := req.Extra.Header.Get("Authorization")
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: authz + " " + string(req.Params.Arguments)}}}, nil
		})
	for _, name := range extra {
		srv.AddTool(&mcp.Tool{Name: name, InputSchema: map[string]any{"type": "object"}}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{}, nil
		})
	}
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{Stateless: true})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.record(r)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	return hs.URL + "/mcp"
}

// The multi-cluster server sends each context's token to its own endpoint only,
// reports what keeps a context from working in that context's calls (a redirect,
// credentials that cannot be forwarded), relays progress, and lists the union.
func TestServeMulti(t *testing.T) {
	var onX, onY, onRedirecting, elsewhere authSeen
	x := whoamiServer(t, &onX)
	y := whoamiServer(t, &onY, "only_y")
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.record(r)
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	t.Cleanup(other.Close)
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		onRedirecting.record(r)
		http.Redirect(w, r, other.URL+"/mcp", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirecting.Close)

	cfg := func(token string) *rest.Config {
		return &rest.Config{Host: "https://kubernetes.example.com", BearerToken: token}
	}
	clusters := []stdio.Cluster{
		{Context: "x", Endpoint: x, Config: cfg("token-x")},
		{Context: "y", Endpoint: y, Config: cfg("token-y")},
		{Context: "redirected", Endpoint: redirecting.URL + "/mcp", Config: cfg("token-r")},
		{Context: "certs", Endpoint: x, Config: &rest.Config{Host: "https://kubernetes.example.com", TLSClientConfig: rest.TLSClientConfig{CertData: []byte("cert"), KeyData: []byte("key")}}},
		{Context: "far", Endpoint: "http://kubeask.example.com/mcp", Config: cfg("token-far")},
	}
	clientIn, serverOut := io.Pipe()
	serverIn, clientOut := io.Pipe()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	log := &lockedBuilder{}
	go func() {
		done <- stdio.ServeMulti(ctx, clusters, "y", serverIn, serverOut, &stdio.MultiOptions{ConnectTimeout: 5 * time.Second, Log: log})
	}()
	progress := make(chan string, 1)
	c := mcp.NewClient(&mcp.Implementation{Name: "desktop", Version: "v0"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			if tok, _ := req.Params.ProgressToken.(string); tok == "mine" {
				progress <- req.Params.Message
			}
		},
	})
	cs, err := c.Connect(ctx, &mcp.IOTransport{Reader: clientIn, Writer: clientOut}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := cs.InitializeResult().Instructions; !strings.Contains(got, `without it the tool runs in "y"`) {
		t.Errorf("instructions: %q", got)
	}
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	descriptions := map[string]string{}
	for _, tl := range tools.Tools {
		descriptions[tl.Name] = tl.Description
	}
	if len(descriptions) != 3 || !strings.Contains(descriptions["only_y"], "Not available in context(s) x") || strings.Contains(descriptions["whoami"], "Not available") {
		t.Errorf("tools: %q", descriptions)
	}

	call := func(args map[string]any) (string, bool) {
		t.Helper()
		params := &mcp.CallToolParams{Name: "whoami", Arguments: args}
		res, err := cs.CallTool(ctx, params)
		if err != nil {
			t.Fatalf("whoami %v: %v", args, err)
		}
		return res.Content[0].(*mcp.TextContent).Text, res.IsError
	}
	for _, tc := range []struct {
		context string
		want    string
		isErr   bool
	}{
		{"", `Bearer token-y {"note":"n"}`, false}, // the default; the context argument is not passed on
		{"x", `Bearer token-x {"note":"n"}`, false},
		{"y", `Bearer token-y {"note":"n"}`, false},
		{"redirected", "refusing to send your token", true},
		{"certs", "bearer token", true},
		{"far", "unencrypted", true},
		{"z", `unknown context "z"`, true},
	} {
		args := map[string]any{"note": "n"}
		if tc.context != "" {
			args["context"] = tc.context
		}
		text, isErr := call(args)
		if isErr != tc.isErr || !strings.Contains(text, tc.want) {
			t.Errorf("context %q: error=%v %q, want error=%v %q", tc.context, isErr, text, tc.isErr, tc.want)
		}
	}

	params := &mcp.CallToolParams{Name: "whoami", Arguments: map[string]any{"context": "x"}}
	params.SetProgressToken("mine")
	if _, err := cs.CallTool(ctx, params); err != nil {
		t.Fatal(err)
	}
	select {
	case msg := <-progress:
		if msg != "looking" {
			t.Errorf("progress %q", msg)
		}
	case <-time.After(10 * time.Second):
		t.Error("no progress relayed")
	}

	_ = cs.Close()
	_ = clientOut.Close()
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("ServeMulti: %v", err)
	}
	for _, a := range onX.all() {
		if a != "Bearer token-x" {
			t.Errorf("x's endpoint got Authorization %q", a)
		}
	}
	for _, a := range onY.all() {
		if a != "Bearer token-y" {
			t.Errorf("y's endpoint got Authorization %q", a)
		}
	}
	if got := onRedirecting.all(); len(got) == 0 || got[0] != "Bearer token-r" {
		t.Errorf("the redirecting endpoint got %q", got)
	}
	if got := elsewhere.all(); len(got) != 0 {
		t.Errorf("the redirect target got %d requests (Authorization %q), want none", len(got), got)
	}
	for _, want := range []string{`context "redirected"`, `context "certs"`, `context "far"`} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log does not name %s:\n%s", want, log.String())
		}
	}
}

type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

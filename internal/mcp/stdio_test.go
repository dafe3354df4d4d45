package mcp_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"k8s.io/client-go/rest"

	"github.com/kubeask/kubeask/internal/mcp/stdio"
)

// The stdio bridge carries a stdio client's session to the endpoint with the
// kubeconfig's token: the caller is who the kubeconfig says.
func TestStdioBridge(t *testing.T) {
	f := env(t)
	kubeconfig := &rest.Config{Host: f.cluster.Admin.Host, BearerToken: bobToken}
	clientIn, bridgeOut := io.Pipe()
	bridgeIn, clientOut := io.Pipe()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- stdio.Bridge(ctx, kubeconfig, f.endpoint, bridgeIn, bridgeOut, nil) }()

	c := mcp.NewClient(&mcp.Implementation{Name: "desktop", Version: "v0"}, nil)
	cs, err := c.Connect(ctx, &mcp.IOTransport{Reader: clientIn, Writer: clientOut}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if text, isErr := callTool(t, cs, "resources_list", map[string]any{"resource": "pods", "namespace": "team-b"}); isErr || !strings.Contains(text, "payments-1") {
		t.Errorf("bob through the bridge: error=%v:\n%s", isErr, text)
	}
	if text, isErr := callTool(t, cs, "resources_list", map[string]any{"resource": "pods", "namespace": "team-a"}); !isErr || !strings.Contains(text, "forbidden") {
		t.Errorf("bob through the bridge in team-a: error=%v:\n%s", isErr, text)
	}
	_ = cs.Close()
	_ = clientOut.Close()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("bridge: %v", err)
	}

	// Client certificates cannot be forwarded: a clear error, not an anonymous call.
	certOnly := rest.CopyConfig(f.operatorCfg)
	err = stdio.Bridge(t.Context(), certOnly, f.endpoint, strings.NewReader(initializeBody+"\n"), io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "bearer token") {
		t.Errorf("bridge with client-certificate credentials: %v", err)
	}
}

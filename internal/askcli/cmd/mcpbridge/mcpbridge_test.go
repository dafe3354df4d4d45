package mcpbridge

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kubeask/kubeask/internal/askcli/exitcode"
	"github.com/kubeask/kubeask/internal/askcli/factory"
	"github.com/kubeask/kubeask/internal/askcli/iostreams"
)

func TestEndpointIsRequired(t *testing.T) {
	t.Setenv("KUBEASK_MCP_ENDPOINT", "")
	io, _, _ := iostreams.Test("")
	cmd := NewCmd(factory.New(io))
	cmd.SetArgs(nil)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.ExecuteContext(t.Context())
	if err == nil || exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), "--endpoint") {
		t.Fatalf("err = %v (exit %d), want a usage error naming --endpoint", err, exitcode.Of(err))
	}
}

// The token goes over plain HTTP only to this machine, unless --insecure-http says so.
func TestPlainHTTPToAnotherHostIsRefused(t *testing.T) {
	cases := []struct {
		endpoint string
		insecure bool
		// refused is what the usage error must say; "" means the endpoint is accepted.
		refused string
	}{
		{"https://kubeask.example.com/mcp", false, ""},
		{"http://127.0.0.1:8090/mcp", false, ""},
		{"http://127.8.9.10:8090/mcp", false, ""},
		{"http://localhost:8090/mcp", false, ""},
		{"http://[::1]:8090/mcp", false, ""},
		{"http://kubeask.example.com/mcp", false, "--insecure-http"},
		{"http://10.0.0.7:8090/mcp", false, "--insecure-http"},
		{"http://localhost.example.com/mcp", false, "--insecure-http"},
		{"http://kubeask.example.com/mcp", true, ""},
		{"kubeask.example.com/mcp", false, "https:// URL"},
		{"ftp://kubeask.example.com/mcp", true, "https:// URL"},
		{"https://user:pw@kubeask.example.com/mcp", false, "no user info"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s insecure=%v", tc.endpoint, tc.insecure), func(t *testing.T) {
			err := (&Options{Endpoint: tc.endpoint, InsecureHTTP: tc.insecure}).Validate()
			if tc.refused == "" {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			if err == nil || exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), tc.refused) {
				t.Errorf("err = %v (exit %d), want a usage error saying %s", err, exitcode.Of(err), tc.refused)
			}
		})
	}
}

// The command refuses before it reads the kubeconfig: a kubeconfig whose token would be
// sent is never even loaded.
func TestPlainHTTPRefusedBeforeAnyCredentialIsRead(t *testing.T) {
	t.Setenv("KUBEASK_MCP_ENDPOINT", "")
	io, _, _ := iostreams.Test("")
	cmd := NewCmd(factory.New(io))
	cmd.SetArgs([]string{"--endpoint", "http://kubeask.example.com/mcp"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	t.Setenv("KUBECONFIG", "/nonexistent/kubeconfig")
	err := cmd.ExecuteContext(t.Context())
	if err == nil || exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), "unencrypted") || !strings.Contains(err.Error(), "--insecure-http") {
		t.Fatalf("err = %v (exit %d), want a usage error explaining the refusal", err, exitcode.Of(err))
	}
}

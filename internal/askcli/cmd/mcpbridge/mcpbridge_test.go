package mcpbridge

import (
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

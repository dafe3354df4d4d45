package version_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubeask/kubeask/internal/askcli"
	"github.com/kubeask/kubeask/internal/askcli/factory"
	"github.com/kubeask/kubeask/internal/askcli/iostreams"
	"github.com/kubeask/kubeask/internal/version"
)

// TestVersion runs `kubectl ask version` in-process, as the plugin's other tests run
// their commands, with a kubeconfig that does not exist: the version needs no cluster.
func TestVersion(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "missing"))
	for _, tc := range []struct {
		args             []string
		wantCode         int
		wantOut, wantErr string
	}{
		{args: []string{"version"}, wantOut: "kubectl-ask " + version.String() + "\n"},
		{args: []string{"version", "--context", "nowhere"}, wantOut: "kubectl-ask " + version.String() + "\n"},
		{args: []string{"version", "extra"}, wantCode: 2, wantErr: "kubectl ask version needs 0 argument(s)"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			streams, out, errOut := iostreams.Test("")
			code := askcli.Run(t.Context(), factory.New(streams), tc.args)
			if code != tc.wantCode || out.String() != tc.wantOut || !strings.Contains(errOut.String(), tc.wantErr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, stderr containing %q",
					code, out.String(), errOut.String(), tc.wantCode, tc.wantOut, tc.wantErr)
			}
		})
	}
}

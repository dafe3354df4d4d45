package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// sampleQuery is written to <state>/sample-query.yaml for the printed `kubectl apply`.
const sampleQuery = `# A one-shot question to the agent, asked as whoever applies it.
apiVersion: agents.kubeask.dev/v1alpha1
kind: AgentQuery
metadata:
  name: why-pending
spec:
  prompt: Why are the checkout pods not running?
`

// printInstructions tells the developer how to use the environment.
func printInstructions(w io.Writer, info readyInfo) {
	rel := func(p string) string { return relativeToWorkingDir(p) }
	var b strings.Builder
	fmt.Fprintf(&b, "\nkubeask dev environment ready in %.1fs: API server %s\n\n", info.StartupSeconds, info.Server)
	fmt.Fprintf(&b, "Be alice (team-a; bob is the same in team-b; both read and ask in shop; admin is cluster-admin):\n")
	fmt.Fprintf(&b, "  export KUBECONFIG=%s\n", rel(info.Kubeconfigs["alice"]))
	fmt.Fprintf(&b, "  kubectl get deployments,pods          # checkout, pods Pending: there is no kubelet\n")
	fmt.Fprintf(&b, "  kubectl get secrets                   # forbidden: alice may not read secrets\n")
	fmt.Fprintf(&b, "  kubectl apply -f %s\n", rel(info.SampleQuery))
	if info.SamplesDir != "" {
		fmt.Fprintf(&b, "  kubectl apply -k %s    # a session, queries and two triggers in team-a\n", rel(info.SamplesDir))
	}
	fmt.Fprintf(&b, "  kubectl get agentqueries -o yaml      # spec.requester is alice, stamped by admission\n")
	fmt.Fprintf(&b, "Or with the plugin, after `make build`:\n")
	fmt.Fprintf(&b, "  export PATH=$PWD/bin:$PATH\n")
	fmt.Fprintf(&b, "  kubectl ask \"why are the checkout pods pending?\"\n\n")
	fmt.Fprintf(&b, "Kubeconfigs: %s\n", strings.Join([]string{
		rel(info.Kubeconfigs["admin"]), rel(info.Kubeconfigs["alice"]), rel(info.Kubeconfigs["bob"]), rel(info.Kubeconfigs["manager"]),
	}, " "))
	if info.ManagerProbe == "" {
		fmt.Fprintf(&b, "kubeask-manager is not running (--no-manager); run it yourself with:\n")
		fmt.Fprintf(&b, "  go run ./cmd/kubeask-manager %s\n", strings.Join(info.ManagerArgs, " "))
	} else {
		fmt.Fprintf(&b, "kubeask-manager health: http://%s/readyz\n", info.ManagerProbe)
	}
	fmt.Fprintf(&b, "Logs:\n")
	for _, p := range info.Processes {
		fmt.Fprintf(&b, "  tail -f %s\n", rel(p.Log))
	}
	fmt.Fprintf(&b, "kubeask is the Helm release %s in %s (values %s; its Deployment has 0 replicas: the manager runs here, as its ServiceAccount)\n",
		releaseName, managerNamespace, rel(info.ChartValues))
	fmt.Fprintf(&b, "Audit log (who did what, as whom; jq examples in docs/dev.md):\n  %s\n", rel(info.AuditLog))
	fmt.Fprintf(&b, "\nPress Ctrl-C to stop everything (docs/dev.md explains the set-up).\n")
	_, _ = io.WriteString(w, b.String())
}

// relativeToWorkingDir shortens paths under the working directory (.dev/alice.kubeconfig
// reads better than an absolute path) and leaves the others absolute.
func relativeToWorkingDir(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	r, err := filepath.Rel(wd, p)
	if err != nil || strings.HasPrefix(r, "..") {
		return p
	}
	return r
}

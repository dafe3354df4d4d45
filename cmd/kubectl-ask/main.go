// Command kubectl-ask is the kubeask kubectl plugin. The client itself is the subject of
// a later change; for now it only says so, and exits with the usage-error code.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "kubectl ask is not implemented yet: create an AgentQuery with kubectl apply (see config/samples)")
	os.Exit(2)
}

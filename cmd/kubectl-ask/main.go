// Command kubectl-ask is the kubeask kubectl plugin (`kubectl ask`). It only builds the
// root command and exits with its code; the work is in internal/askcli.
package main

import (
	"context"
	"os"

	"github.com/kubeask/kubeask/internal/askcli"
	"github.com/kubeask/kubeask/internal/askcli/iostreams"
)

func main() {
	os.Exit(askcli.Main(context.Background(), os.Args[1:], iostreams.System()))
}

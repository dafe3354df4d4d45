// Command dev runs kubeask locally for development: etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler built by hack/build-controlplane.sh, the
// kubeask CRDs and admission policies, demo users with RBAC, and the operator itself.
// `make dev` runs it; docs/dev.md explains what it sets up.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run parses args and runs the environment until it is interrupted, returning the exit code.
func run(args []string) int {
	o := newOptions(os.Stdout)
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := o.Complete(); err != nil {
		fmt.Fprintf(os.Stderr, "dev: %v\n", err)
		return 2
	}
	if err := o.Validate(); err != nil {
		fmt.Fprintf(os.Stderr, "dev: %v\n", err)
		return 2
	}
	// Ctrl-C and SIGTERM cancel ctx; Run then stops every process in reverse order.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := o.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "dev: %v\n", err)
		return 1
	}
	return 0
}

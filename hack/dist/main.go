// Command dist builds a kubeask release into one directory (`make dist`, see
// docs/releasing.md): the kubectl-ask archives of every platform, each with LICENSE,
// their SHA256SUMS, the krew manifest filled in from them, the packaged Helm chart and,
// when `make image` has built it, the manager's image archive. Every archive is
// reproducible: fixed timestamps, sorted entries, no owner names, so two builds of one
// commit have the same checksums.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
)

func main() {
	o := newOptions()
	fs := flag.NewFlagSet("dist", flag.ExitOnError)
	o.addFlags(fs)
	_ = fs.Parse(os.Args[1:]) // ExitOnError: Parse exits on a bad flag
	if err := o.complete(); err != nil {
		fmt.Fprintln(os.Stderr, "dist:", err)
		os.Exit(2)
	}
	if err := o.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "dist:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := o.run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "dist:", err)
		os.Exit(1)
	}
}

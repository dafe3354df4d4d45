// Package factory holds what every kubectl ask command needs, built once per
// invocation and passed down: the streams, the kubeconfig flags, and how to notice
// Ctrl-C. There are no globals; tests build their own Factory.
package factory

import (
	"context"
	"os"
	"os/signal"

	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/kubeask/kubeask/internal/askcli/iostreams"
	"github.com/kubeask/kubeask/internal/askcli/kube"
	"github.com/kubeask/kubeask/internal/askcli/kubeconfig"
)

// Factory is the invocation's context for commands.
type Factory struct {
	IO *iostreams.IOStreams
	// Flags are the standard kubectl flags (--kubeconfig, --context, -n, --as, ...).
	Flags *genericclioptions.ConfigFlags
	// Interruptible returns a context that ends on Ctrl-C, for as long as a command
	// waits on a query; stop releases the signal. Tests replace it.
	Interruptible func(ctx context.Context) (ictx context.Context, stop context.CancelFunc)
}

// New returns a Factory for a real process.
func New(io *iostreams.IOStreams) *Factory {
	return &Factory{
		IO:    io,
		Flags: genericclioptions.NewConfigFlags(true),
		Interruptible: func(ctx context.Context) (context.Context, context.CancelFunc) {
			return signal.NotifyContext(ctx, os.Interrupt)
		},
	}
}

// Client connects to the cluster of the current (or --context) context.
func (f *Factory) Client() (*kube.Client, error) {
	return kubeconfig.Connect(f.Flags, f.IO.ErrOut)
}

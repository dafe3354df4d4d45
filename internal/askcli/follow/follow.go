package follow

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/exitcode"
	"github.com/kubeask/kubeask/internal/askcli/iostreams"
	"github.com/kubeask/kubeask/internal/askcli/kube"
	"github.com/kubeask/kubeask/internal/askcli/output"
)

// Options tune Follow.
type Options struct {
	// CancelOnInterrupt deletes the query on Ctrl-C instead of detaching from it.
	CancelOnInterrupt bool
	// Output, if set, prints the final object in this format instead of the answer.
	Output string
}

// Terminal is where Follow shows a query: the command's streams and how it notices
// Ctrl-C (its factory's). It is not the factory itself, so that the web UI, which uses
// Watch, does not link the kubeconfig flags into the manager.
type Terminal struct {
	IO            *iostreams.IOStreams
	Interruptible func(ctx context.Context) (context.Context, context.CancelFunc)
}

// Follow shows the query live until it stops, then reports its outcome and returns the
// exit code as an error (nil when answered). Ctrl-C detaches (or, with
// CancelOnInterrupt, deletes the query) and says how to reattach.
func Follow(ctx context.Context, f Terminal, c *kube.Client, q *agentsv1alpha1.AgentQuery, opts Options) error {
	io := f.IO
	ictx, stop := f.Interruptible(ctx)
	defer stop()
	p := NewPrinter(io, "", true)
	seen := p.Seen
	if opts.Output != "" {
		seen = func(*agentsv1alpha1.AgentQuery) {}
	}
	final, err := Watch(ictx, c, client.ObjectKeyFromObject(q), seen)
	p.Stop()
	if err != nil {
		if final == nil {
			final = q
		}
		return interrupted(ctx, ictx, f, c, final, err, opts)
	}
	if opts.Output != "" {
		if err := output.Print(io.Out, opts.Output, final); err != nil {
			return err
		}
		if code := Code(final); code != exitcode.Answered {
			reason, msg := Failure(final)
			fmt.Fprintf(io.ErrOut, "query %s is %s (%s): %s\n", final.Name, final.Status.Phase, reason, msg)
			return exitcode.Silent(code)
		}
		return nil
	}
	return Report(io, final, "")
}

func interrupted(ctx, ictx context.Context, f Terminal, c *kube.Client, q *agentsv1alpha1.AgentQuery, err error, opts Options) error {
	switch {
	case errors.Is(err, ErrDeleted):
		return exitcode.Newf(exitcode.Cancelled, "query %s was deleted before it finished", q.Name)
	case ctx.Err() == nil && ictx.Err() != nil && opts.CancelOnInterrupt:
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := c.Delete(dctx, q); err != nil && !apierrors.IsNotFound(err) {
			return c.Explain(err, "delete", kube.QueriesResource)
		}
		fmt.Fprintf(f.IO.ErrOut, "\nInterrupted: deleted query %s, which stops it.\n", q.Name)
		return exitcode.Silent(exitcode.Cancelled)
	case ictx.Err() != nil:
		fmt.Fprintf(f.IO.ErrOut, "\nDetached from query %s; it keeps running. Reattach with:\n  kubectl ask attach %s -n %s\n", q.Name, q.Name, q.Namespace)
		return exitcode.Silent(exitcode.Cancelled)
	}
	return c.Explain(err, "watch", kube.QueriesResource)
}

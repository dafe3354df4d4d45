package ask

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/exitcode"
	"github.com/kubeask/kubeask/internal/askcli/follow"
	"github.com/kubeask/kubeask/internal/askcli/iostreams"
	"github.com/kubeask/kubeask/internal/askcli/kube"
	"github.com/kubeask/kubeask/internal/askcli/kubeconfig"
	"github.com/kubeask/kubeask/internal/askcli/output"
	"github.com/kubeask/kubeask/internal/askcli/render"
)

// ContextAnnotation names, in -o json/yaml of several clusters, the context each query
// was asked in.
const ContextAnnotation = "kubeask.dev/context"

// clusterResult is the outcome of the question in one cluster.
type clusterResult struct {
	context   string
	namespace string
	q         *agentsv1alpha1.AgentQuery
	err       error
}

// runMulti asks the question in each context's cluster in parallel. Each cluster gets
// only the credentials of its own context (see kubeconfig.ForContext). The exit code is that
// of the first context, in the order given, that did not answer.
func (o *Options) runMulti(ctx context.Context) error {
	names := o.Contexts
	if o.AllContexts {
		var err error
		if names, err = kubeconfig.Contexts(o.f.Flags); err != nil {
			return err
		}
	}
	if len(names) == 0 {
		return exitcode.UsageErrorf("the kubeconfig has no contexts")
	}
	// Progress lines of all clusters share the error stream, a line at a time.
	shared := *o.f.IO
	shared.ErrOut = &lineWriter{w: o.f.IO.ErrOut}
	ictx, stop := o.f.Interruptible(ctx)
	defer stop()

	results := make([]clusterResult, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { results[i] = o.askIn(ictx, &shared, name) })
	}
	wg.Wait()
	return o.printResults(results)
}

func (o *Options) askIn(ctx context.Context, s *iostreams.IOStreams, name string) clusterResult {
	r := clusterResult{context: name}
	c, err := kubeconfig.Connect(kubeconfig.ForContext(o.f.Flags, name), s.ErrOut)
	if err != nil {
		r.err = err
		return r
	}
	r.namespace = c.Namespace
	prefix := "[" + name + "] "
	q, err := o.create(ctx, c, o.Session, o.Prompt, &prefixWriter{prefix: prefix, w: s.ErrOut})
	if err != nil {
		r.err = err
		return r
	}
	r.q = q
	if !o.Wait {
		return r
	}
	seen := func(*agentsv1alpha1.AgentQuery) {}
	if o.Output == "" {
		p := follow.NewPrinter(s, prefix, false)
		defer p.Stop()
		seen = p.Seen
	}
	final, err := follow.Watch(ctx, c, client.ObjectKeyFromObject(q), seen)
	if final != nil {
		r.q = final
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		r.err = c.Explain(err, "watch", kube.QueriesResource)
	}
	return r
}

func (o *Options) printResults(results []clusterResult) error {
	s := o.f.IO
	code := exitcode.Answered
	note := func(c int) {
		if code == exitcode.Answered {
			code = c
		}
	}
	if o.Output != "" {
		list := &agentsv1alpha1.AgentQueryList{}
		for _, r := range results {
			if r.err != nil {
				fmt.Fprintf(s.ErrOut, "[%s] error: %s\n", r.context, exitcode.Message(r.err))
				note(exitcode.Of(r.err))
				continue
			}
			q := r.q.DeepCopy()
			if q.Annotations == nil {
				q.Annotations = map[string]string{}
			}
			q.Annotations[ContextAnnotation] = r.context
			list.Items = append(list.Items, *q)
			if o.Wait {
				note(follow.Code(r.q))
			}
		}
		if err := output.Print(s.Out, o.Output, list); err != nil {
			return err
		}
		if code == exitcode.Answered {
			return nil
		}
		return exitcode.Silent(code)
	}
	st := render.Style{Color: s.OutTTY && s.Color}
	for i, r := range results {
		if i > 0 {
			fmt.Fprintln(s.Out)
		}
		fmt.Fprintln(s.Out, st.Bold("── context "+r.context+" ──"))
		switch {
		case r.err != nil:
			fmt.Fprintf(s.Out, "error: %s\n", exitcode.Message(r.err))
			note(exitcode.Of(r.err))
		case !o.Wait:
			fmt.Fprintln(s.Out, r.q.Name)
		case !follow.Stopped(r.q):
			fmt.Fprintf(s.Out, "Detached from query %s; it keeps running. Reattach with: kubectl ask attach %s -n %s --context %s\n", r.q.Name, r.q.Name, r.q.Namespace, r.context)
			note(exitcode.Cancelled)
		default:
			// The outcome, in this cluster's section of standard output.
			sub := *s
			sub.ErrOut = s.Out
			note(exitcode.Of(follow.Report(&sub, r.q, " --context "+r.context)))
		}
	}
	if code == exitcode.Answered {
		return nil
	}
	return exitcode.Silent(code)
}

// lineWriter serializes writes from several goroutines.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// prefixWriter starts each write with prefix (callers write whole lines).
type prefixWriter struct {
	prefix string
	w      io.Writer
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	if _, err := p.w.Write(append([]byte(p.prefix), b...)); err != nil {
		return 0, err
	}
	return len(b), nil
}

package follow

import (
	"fmt"
	"io"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/iostreams"
	"github.com/kubeask/kubeask/internal/askcli/render"
)

// Printer shows a query's progress on the error stream, so that the answer alone goes
// to standard output: each step once it settles (again if its state changes, e.g.
// proposed then done), and on a terminal a spinner saying what the agent does now.
type Printer struct {
	w       io.Writer
	style   render.Style
	width   int
	spinner *render.Spinner
	prefix  string
	printed map[string]agentsv1alpha1.StepState
}

// NewPrinter prints to io's error stream. prefix (e.g. "[prod] ") starts every line,
// for several clusters at once; live turns the spinner on (only on a terminal).
func NewPrinter(io *iostreams.IOStreams, prefix string, live bool) *Printer {
	return &Printer{
		w: io.ErrOut, style: render.Style{Color: io.ErrTTY && io.Color}, width: io.Width,
		spinner: render.NewSpinner(io.ErrOut, live && io.ErrTTY),
		prefix:  prefix, printed: map[string]agentsv1alpha1.StepState{},
	}
}

// Seen takes the query's latest state.
func (p *Printer) Seen(q *agentsv1alpha1.AgentQuery) {
	running := ""
	for _, s := range q.Status.Steps {
		if !render.Settled(s) {
			running = render.Command(s.Tool, s.Arguments)
		}
	}
	// Say what happens now before printing lines above the spinner, so that it is
	// never redrawn with a stale message.
	switch {
	case Stopped(q):
		p.spinner.Stop()
	case running != "":
		p.spinner.Start("running " + running)
	case q.Status.Phase == "" || q.Status.Phase == agentsv1alpha1.QueryPending:
		p.spinner.Start("waiting for the kubeask operator to pick up " + q.Name + "…")
	default:
		p.spinner.Start("thinking…")
	}
	for _, s := range q.Status.Steps {
		if !render.Settled(s) || p.printed[s.ID] == s.State {
			continue
		}
		p.printed[s.ID] = s.State
		p.spinner.Println(p.prefix + render.StepLine(p.style, s, p.width-len(p.prefix)))
	}
}

// Stop removes the spinner.
func (p *Printer) Stop() { p.spinner.Stop() }

// Printf prints a line of progress.
func (p *Printer) Printf(format string, args ...any) {
	p.spinner.Println(p.prefix + fmt.Sprintf(format, args...))
}

// MarkPrinted records the steps already shown (e.g. by a listing before following).
func (p *Printer) MarkPrinted(q *agentsv1alpha1.AgentQuery) {
	for _, s := range q.Status.Steps {
		if render.Settled(s) {
			p.printed[s.ID] = s.State
		}
	}
}

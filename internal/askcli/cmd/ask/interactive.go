package ask

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/exitcode"
	"github.com/kubeask/kubeask/internal/askcli/follow"
	"github.com/kubeask/kubeask/internal/askcli/kube"
	"github.com/kubeask/kubeask/internal/askcli/proposal"
	"github.com/kubeask/kubeask/internal/askcli/render"
)

const interactiveHelp = `Ask a question and press Enter. Each question sees the earlier ones of the session.
Ctrl-C while the agent works detaches from that question; "exit", Ctrl-D or Ctrl-C at the prompt leaves.`

// runInteractive holds a conversation in one session: read a question, ask it, follow
// it, repeat. A proposed change is shown and decided on the spot.
func (o *Options) runInteractive(ctx context.Context, c *kube.Client) error {
	s := o.f.IO
	session := o.Session
	if session == "" {
		created, err := o.newSession(ctx, c)
		if err != nil {
			return err
		}
		session = created
		fmt.Fprintf(s.ErrOut, "Started session %s in namespace %s. Continue it later with: kubectl ask -i -s %s\n", session, c.Namespace, session)
	} else if err := o.ensureSession(ctx, c, session, s.ErrOut); err != nil {
		return err
	}
	fmt.Fprintln(s.ErrOut, interactiveHelp)
	lines := newLineReader(s)
	next := o.Prompt
	for {
		if next == "" {
			line, err := lines.ReadLine("ask> ")
			if errors.Is(err, io.EOF) {
				fmt.Fprintln(s.ErrOut)
				return nil
			}
			if err != nil {
				return err
			}
			next = strings.TrimSpace(line)
		}
		prompt := next
		next = ""
		switch {
		case prompt == "":
			continue
		case prompt == "exit" || prompt == "quit":
			return nil
		case prompt == "help" || prompt == "?":
			fmt.Fprintln(s.ErrOut, interactiveHelp)
			continue
		case len(prompt) > agentsv1alpha1.MaxPromptLength:
			fmt.Fprintf(s.ErrOut, "That question is %d bytes long; the limit is %d bytes.\n", len(prompt), agentsv1alpha1.MaxPromptLength)
			continue
		}
		if err := o.converse(ctx, c, session, prompt, lines); err != nil {
			if code := exitcode.Of(err); code == exitcode.NoOperator || errors.Is(err, context.Canceled) {
				return err
			}
			if msg := exitcode.Message(err); msg != "" {
				fmt.Fprintln(s.ErrOut, "error: "+msg)
			}
		}
	}
}

// converse asks one question and follows it to its end, deciding proposals on the way.
func (o *Options) converse(ctx context.Context, c *kube.Client, session, prompt string, lines lineReader) error {
	q, err := o.create(ctx, c, session, prompt, o.f.IO.ErrOut)
	if err != nil {
		return err
	}
	for {
		err := follow.Follow(ctx, follow.Terminal{IO: o.f.IO, Interruptible: o.f.Interruptible}, c, q, follow.Options{CancelOnInterrupt: o.CancelOnInterrupt})
		if exitcode.Of(err) != exitcode.AwaitingApproval {
			return err
		}
		if q, err = o.decide(ctx, c, q, lines); err != nil || q == nil {
			return err
		}
	}
}

// decide shows the query's undecided proposals and asks whether to approve them. It
// returns nil (and no error) when the person leaves the decision for later.
func (o *Options) decide(ctx context.Context, c *kube.Client, q *agentsv1alpha1.AgentQuery, lines lineReader) (*agentsv1alpha1.AgentQuery, error) {
	s := o.f.IO
	fresh := &agentsv1alpha1.AgentQuery{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(q), fresh); err != nil {
		return nil, c.Explain(err, "get", kube.QueriesResource)
	}
	steps := follow.Undecided(fresh)
	if len(steps) == 0 {
		return fresh, nil
	}
	st := render.Style{Color: s.ErrTTY && s.Color}
	for _, step := range steps {
		proposal.Show(ctx, c, s.ErrOut, st, step)
	}
	var ids []string
	for _, step := range steps {
		ids = append(ids, step.ID)
	}
	answer, err := lines.ReadLine(fmt.Sprintf("Approve %s? [y]es / [n]o, deny / [l]ater: ", strings.Join(ids, ", ")))
	if err != nil {
		return nil, nil //nolint:nilerr // end of input: leave the decision for later
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		// Bound to the digests of the arguments just shown.
		approvals, err := proposal.Entries(steps, true)
		if err != nil {
			return nil, err
		}
		return proposal.Decide(ctx, c, client.ObjectKeyFromObject(fresh), approvals, true)
	case "n", "no", "deny":
		return proposal.Decide(ctx, c, client.ObjectKeyFromObject(fresh), ids, false)
	}
	fmt.Fprintf(s.ErrOut, "Left undecided. Later: kubectl ask approve %s -n %s (or deny)\n", fresh.Name, fresh.Namespace)
	return nil, nil
}

func (o *Options) newSession(ctx context.Context, c *kube.Client) (string, error) {
	s := &agentsv1alpha1.AgentSession{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "chat-", Namespace: c.Namespace},
		Spec:       agentsv1alpha1.AgentSessionSpec{Model: o.Model, Profile: o.Profile},
	}
	if o.mode != nil {
		s.Spec.DefaultMode = *o.mode
	}
	if err := c.Create(ctx, s); err != nil {
		return "", c.Explain(err, "create", kube.SessionsResource)
	}
	return s.Name, nil
}

// lineReader reads the person's input a line at a time.
type lineReader interface {
	ReadLine(prompt string) (string, error)
}

// plainReader reads lines from a pipe or file; prompts are not echoed.
type plainReader struct{ sc *bufio.Scanner }

func (p *plainReader) ReadLine(string) (string, error) {
	if p.sc.Scan() {
		return p.sc.Text(), nil
	}
	if err := p.sc.Err(); err != nil {
		return "", err
	}
	return "", io.EOF
}

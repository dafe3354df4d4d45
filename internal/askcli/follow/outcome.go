package follow

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/exitcode"
	"github.com/kubeask/kubeask/internal/askcli/iostreams"
	"github.com/kubeask/kubeask/internal/askcli/render"
)

// Condition reasons of the agent (internal/agent) that decide the exit code.
const reasonTimeout = "Timeout"

// Failure is why q failed: the reason and message of its failed condition.
func Failure(q *agentsv1alpha1.AgentQuery) (reason, message string) {
	for _, t := range []string{"Accepted", "Running"} {
		if c := meta.FindStatusCondition(q.Status.Conditions, t); c != nil && c.Status == metav1.ConditionFalse {
			return c.Reason, c.Message
		}
	}
	return "", q.Status.Summary
}

// Code is the exit code that q's state stands for.
func Code(q *agentsv1alpha1.AgentQuery) int {
	switch q.Status.Phase {
	case agentsv1alpha1.QuerySucceeded:
		return exitcode.Answered
	case agentsv1alpha1.QueryAwaitingApproval:
		return exitcode.AwaitingApproval
	case agentsv1alpha1.QueryCancelled:
		return exitcode.Cancelled
	case agentsv1alpha1.QueryFailed:
		if reason, _ := Failure(q); reason == reasonTimeout {
			return exitcode.Cancelled
		}
		return exitcode.Failed
	}
	return exitcode.Cancelled // still running: the wait was given up
}

// Report prints the outcome of a stopped query in words: the answer on standard output
// (markdown on a terminal), or on the error stream why there is none and what to do.
// flags (e.g. " --context prod") are added to the commands it suggests. It returns the
// exit code as an error (nil for an answer).
func Report(s *iostreams.IOStreams, q *agentsv1alpha1.AgentQuery, flags string) error {
	code := Code(q)
	st := render.Style{Color: s.ErrTTY && s.Color}
	switch q.Status.Phase {
	case agentsv1alpha1.QuerySucceeded:
		Answer(s, q.Status.Answer)
		return nil
	case agentsv1alpha1.QueryAwaitingApproval:
		fmt.Fprintf(s.ErrOut, "Query %s proposes %s and waits for your decision:\n", q.Name, plural(len(Undecided(q)), "change"))
		for _, step := range Undecided(q) {
			fmt.Fprintf(s.ErrOut, "  %s %s\n", st.Yellow(step.ID), render.Command(step.Tool, step.Arguments))
		}
		fmt.Fprintf(s.ErrOut, "Review and approve with:  kubectl ask approve %s -n %s%s\n", q.Name, q.Namespace, flags)
		fmt.Fprintf(s.ErrOut, "or refuse with:           kubectl ask deny %s -n %s%s\n", q.Name, q.Namespace, flags)
	case agentsv1alpha1.QueryFailed:
		reason, msg := Failure(q)
		fmt.Fprintf(s.ErrOut, "%s query %s failed (%s): %s\n", st.Red("error:"), q.Name, reason, msg)
	case agentsv1alpha1.QueryCancelled:
		_, msg := Failure(q)
		fmt.Fprintf(s.ErrOut, "query %s was cancelled: %s\n", q.Name, msg)
	}
	return exitcode.Silent(code)
}

// Answer prints an answer: rendered markdown on a terminal, the text as is otherwise.
func Answer(s *iostreams.IOStreams, text string) {
	if s.OutTTY {
		fmt.Fprint(s.Out, render.Markdown(text, s.Width, s.Color))
		return
	}
	fmt.Fprintln(s.Out, strings.TrimRight(text, "\n"))
}

func plural(n int, word string) string {
	if n == 1 {
		return "a " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

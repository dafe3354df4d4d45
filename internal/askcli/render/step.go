package render

import (
	"fmt"
	"strings"
	"time"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// StepLine renders a step as it is shown live: a mark, the step id, a word for any
// state other than done, the kubectl-like command, and its duration; then, indented on
// a second line, a one-line result (the output's first line, or why it failed or was
// refused). width bounds both lines (0: no bound).
func StepLine(st Style, s agentsv1alpha1.Step, width int) string {
	mark, word := stateMark(st, s)
	head := fmt.Sprintf("%s %s ", mark, st.Dim(s.ID))
	if word != "" {
		head += word + " "
	}
	cmd := Command(s.Tool, s.Arguments)
	if s.Duration != nil {
		cmd += st.Dim(" (" + s.Duration.Duration.Round(time.Millisecond).String() + ")")
	}
	out := head + cmd
	if r := StepResult(s); r != "" {
		out += "\n    " + st.Dim("└ ") + clip(r, width-6)
	}
	return out
}

// StepResult is the one-line result of a step, or "" while it has none.
func StepResult(s agentsv1alpha1.Step) string {
	if s.Error != "" {
		return OneLine(s.Error)
	}
	if s.State == agentsv1alpha1.StepProposed {
		return "waiting for approval: kubectl ask approve (or deny)"
	}
	if s.Output == "" {
		return ""
	}
	lines := nonEmptyLines(s.Output)
	if len(lines) == 1 {
		return OneLine(lines[0])
	}
	return fmt.Sprintf("%s … (%d lines)", OneLine(lines[0]), len(lines))
}

// Settled reports whether a step's state will not change without a decision, so that
// its line can be printed once, for good.
func Settled(s agentsv1alpha1.Step) bool {
	switch s.State {
	case agentsv1alpha1.StepRunning, agentsv1alpha1.StepApproved:
		return false
	}
	return true
}

func stateMark(st Style, s agentsv1alpha1.Step) (mark, word string) {
	switch s.State {
	case agentsv1alpha1.StepDone:
		if s.Error != "" {
			return st.Red("✗"), st.Red("error")
		}
		return st.Green("✓"), ""
	case agentsv1alpha1.StepFailed:
		return st.Red("✗"), st.Red("failed")
	case agentsv1alpha1.StepDenied:
		return st.Yellow("⊘"), st.Yellow("denied")
	case agentsv1alpha1.StepProposed:
		return st.Yellow("?"), st.Yellow("proposed")
	case agentsv1alpha1.StepUnknown:
		return st.Red("!"), st.Red("outcome unknown")
	case agentsv1alpha1.StepApproved:
		return st.Cyan("…"), st.Cyan("approved")
	default:
		return st.Cyan("…"), st.Cyan("running")
	}
}

// OneLine collapses whitespace so that text fits on one line.
func OneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// clip cuts s to n runes with an ellipsis; n <= 0 means no limit.
func clip(s string, n int) string {
	r := []rune(s)
	if n <= 0 || len(r) <= n {
		return s
	}
	if n < 2 {
		return string(r[:n])
	}
	return string(r[:n-1]) + "…"
}

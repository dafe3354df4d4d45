package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/llm"
	"github.com/kubeask/kubeask/internal/tools"
)

// historyBudget bounds the earlier turns of a session given to the model, in bytes
// (about 8k tokens); the oldest turns go first.
const historyBudget = 32 << 10

var agentQueries = schema.GroupVersionResource{Group: agentsv1alpha1.GroupVersion.Group, Version: agentsv1alpha1.GroupVersion.Version, Resource: "agentqueries"}

// sessionHistory returns the earlier answered queries of q's session as conversation
// turns. They are listed as the requester: in a shared session each person sees only
// the queries RBAC lets them read, never more because the operator can.
func sessionHistory(ctx context.Context, env *tools.Env, q *agentsv1alpha1.AgentQuery, limit int) []llm.Message {
	if q.Spec.SessionRef == nil || limit <= 0 {
		return nil
	}
	list, err := env.Dynamic.Resource(agentQueries).Namespace(q.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil // no right to read the session's queries: no history
	}
	var earlier []agentsv1alpha1.AgentQuery
	for _, item := range list.Items {
		var other agentsv1alpha1.AgentQuery
		if runtime.DefaultUnstructuredConverter.FromUnstructured(item.Object, &other) != nil {
			continue
		}
		if other.UID == q.UID || other.Spec.SessionRef == nil || other.Spec.SessionRef.Name != q.Spec.SessionRef.Name ||
			other.Status.Phase != agentsv1alpha1.QuerySucceeded || q.CreationTimestamp.Before(&other.CreationTimestamp) {
			continue
		}
		earlier = append(earlier, other)
	}
	// Timestamps have one-second resolution; the completion time breaks ties.
	slices.SortFunc(earlier, func(a, b agentsv1alpha1.AgentQuery) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return a.Status.CompletionTime.Compare(b.Status.CompletionTime.Time)
	})
	if len(earlier) > limit {
		earlier = earlier[len(earlier)-limit:]
	}
	var turns [][]llm.Message
	size := 0
	for i := len(earlier) - 1; i >= 0; i-- {
		e := earlier[i]
		who := "someone"
		if e.Spec.Requester != nil {
			who = e.Spec.Requester.Username
		}
		answer := e.Status.Answer
		var used []string
		for _, s := range e.Status.Steps {
			if s.State == agentsv1alpha1.StepDone {
				used = append(used, fmt.Sprintf("%s %s", s.Tool, s.Arguments))
			}
		}
		if len(used) > 0 {
			answer += "\n\n(Tools used: " + truncate(strings.Join(used, "; "), 1024) + ")"
		}
		user := fmt.Sprintf("[earlier in this session, %s asked] %s", who, e.Spec.Prompt)
		size += len(user) + len(answer)
		if size > historyBudget {
			break
		}
		turns = append(turns, []llm.Message{{Role: llm.RoleUser, Text: user}, {Role: llm.RoleAssistant, Text: answer}})
	}
	var out []llm.Message
	for i := len(turns) - 1; i >= 0; i-- {
		out = append(out, turns[i]...)
	}
	return out
}

// replaySteps turns the steps recorded in status into conversation turns, for a run
// that resumes (after an approval, or after the operator restarted). Each step becomes
// an assistant message with one call and the tool message that answers it; nothing is
// executed again.
//
// The step id is the call id of both: status does not keep the model's own call ids
// nor which calls came in one turn, and it needs neither. Each replayed call is
// answered right after it by exactly one result with its id, which is all that every
// provider checks, and step ids are unique in a query and fit every provider's id
// syntax (Anthropic's ^[a-zA-Z0-9_-]+$ included), where a model's ids might not.
func replaySteps(steps []agentsv1alpha1.Step) []llm.Message {
	var msgs []llm.Message
	for _, s := range steps {
		args := json.RawMessage(s.Arguments)
		if s.Truncated || !json.Valid(args) {
			args = json.RawMessage("{}")
		}
		content, isErr := stepReport(s)
		msgs = append(msgs,
			llm.Message{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: s.ID, Name: s.Tool, Arguments: args}}},
			llm.Message{Role: llm.RoleTool, ToolResults: []llm.ToolResult{{CallID: s.ID, Name: s.Tool, Content: content, IsError: isErr}}},
		)
	}
	return msgs
}

// stepReport is what the model is told about a recorded step.
func stepReport(s agentsv1alpha1.Step) (string, bool) {
	switch s.State {
	case agentsv1alpha1.StepDone:
		out := s.Output
		if s.Truncated {
			out += "\n[this result was shortened when it was recorded]"
		}
		return out, s.Error != ""
	case agentsv1alpha1.StepDenied:
		return "not executed: " + s.Error, true
	case agentsv1alpha1.StepUnknown:
		return "outcome unknown: " + s.Error, true
	default:
		return fmt.Sprintf("not executed (%s): %s", s.State, s.Error), true
	}
}

// systemPrompt is the profile's prompt with the facts of this run.
func systemPrompt(base string, q *agentsv1alpha1.AgentQuery, mode agentsv1alpha1.Mode) string {
	var b strings.Builder
	b.WriteString(base)
	fmt.Fprintf(&b, "\n\nYou act as the Kubernetes user %q: every tool call is made with exactly that user's permissions. ", q.Spec.Requester.Username)
	fmt.Fprintf(&b, "The query was created in namespace %q; use it when the user names no other. ", q.Namespace)
	switch mode {
	case agentsv1alpha1.ModeReadOnly:
		b.WriteString("This query is read-only: tools that change the cluster will be refused. If a change would help, describe it and say that the user can ask again with mode Propose.")
	case agentsv1alpha1.ModePropose:
		b.WriteString("Changes are proposed, not made: a call to a tool that changes the cluster is recorded and waits for the user's approval. Propose the smallest change that fixes the problem.")
	case agentsv1alpha1.ModeAuto:
		b.WriteString("Changes you make with tools are applied at once, as the user. Make only the changes the user asked for.")
	}
	return b.String()
}

package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/llm"
	"github.com/kubeask/kubeask/internal/tools"
)

// historyBudget bounds the earlier turns of a session given to the model, in bytes
// (about 8k tokens); the oldest turns go first.
const historyBudget = 32 << 10

// historyMetadataPage is the page size of the metadata listing of a long session.
const historyMetadataPage = 100

// metadataListAccept asks the API server for a list of metadata only.
const metadataListAccept = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"

var agentQueries = schema.GroupVersionResource{Group: agentsv1alpha1.GroupVersion.Group, Version: agentsv1alpha1.GroupVersion.Version, Resource: "agentqueries"}

// sessionHistory returns the earlier answered queries of q's session as conversation
// turns. They are listed as the requester: in a shared session each person sees only
// the queries RBAC lets them read, never more because the operator can.
func sessionHistory(ctx context.Context, env *tools.Env, q *agentsv1alpha1.AgentQuery, limit int) []llm.Message {
	if q.Spec.SessionRef == nil || limit <= 0 {
		return nil
	}
	earlier, err := earlierQueries(ctx, env, q, limit)
	if err != nil {
		return nil // no right to read the session's queries: no history
	}
	var turns [][]llm.Message
	size := 0
	for i := len(earlier) - 1; i >= 0; i-- {
		user, answer := historyTurn(&earlier[i])
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

// historyTurn is what the model is told of an earlier query: who asked what, and the
// answer with the tools it used.
func historyTurn(e *agentsv1alpha1.AgentQuery) (user, answer string) {
	who := "someone"
	if e.Spec.Requester != nil {
		who = e.Spec.Requester.Username
	}
	answer = e.Status.Answer
	var used []string
	for _, s := range e.Status.Steps {
		if s.State == agentsv1alpha1.StepDone {
			used = append(used, fmt.Sprintf("%s %s", s.Tool, s.Arguments))
		}
	}
	if len(used) > 0 {
		answer += "\n\n(Tools used: " + truncate(strings.Join(used, "; "), 1024) + ")"
	}
	return fmt.Sprintf("[earlier in this session, %s asked] %s", who, e.Spec.Prompt), answer
}

// earlierQueries returns the last limit queries of q's session that succeeded before
// q, oldest first, read as the requester.
//
// The API server selects them (spec.sessionRef.name and status.phase are selectable
// fields of the CRD), so the other queries of the namespace are never read. A list
// is ordered by name, not by time, so the newest cannot be found without looking at
// every succeeded query of the session. The cheapest way depends on the session's
// length:
//   - the first request lists full objects with a limit of limit. A session with no
//     more than that (the common case) is done in this one request;
//   - a longer session is listed again as metadata only (names and creation times,
//     page by page, keeping the newest limit), and only those are read in full, newest
//     first, until the history's byte budget is spent. Reading every query of a long
//     session in full, at each of its queries, would cost the square of its length.
//
// Memory holds one page of metadata and at most 2×limit full objects.
func earlierQueries(ctx context.Context, env *tools.Env, q *agentsv1alpha1.AgentQuery, limit int) ([]agentsv1alpha1.AgentQuery, error) {
	selector := fields.Set{"spec.sessionRef.name": q.Spec.SessionRef.Name, "status.phase": string(agentsv1alpha1.QuerySucceeded)}.String()
	client := env.Dynamic.Resource(agentQueries).Namespace(q.Namespace)
	list, err := client.List(ctx, metav1.ListOptions{FieldSelector: selector, Limit: int64(limit)})
	if err != nil {
		return nil, err
	}
	var first []agentsv1alpha1.AgentQuery
	for _, item := range list.Items {
		if e, ok := earlierOf(q, item.Object); ok {
			first = append(first, e)
		}
	}
	if list.GetContinue() == "" {
		sortQueries(first)
		if len(first) > limit {
			first = first[len(first)-limit:]
		}
		return first, nil
	}
	names, err := newestEarlier(ctx, env, q, selector, limit)
	if err != nil {
		return nil, err
	}
	read := make(map[string]*agentsv1alpha1.AgentQuery, len(first))
	for i := range first {
		read[first[i].Name] = &first[i]
	}
	var earlier []agentsv1alpha1.AgentQuery
	size := 0
	for _, name := range names {
		e, ok := read[name]
		if !ok {
			obj, err := client.Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				continue // deleted since it was listed
			}
			if err != nil {
				return nil, err
			}
			got, ok := earlierOf(q, obj.Object)
			if !ok {
				continue
			}
			e = &got
		}
		earlier = append(earlier, *e)
		user, answer := historyTurn(e)
		if size += len(user) + len(answer); size > historyBudget {
			break // sessionHistory would leave the older ones out
		}
	}
	sortQueries(earlier)
	return earlier, nil
}

// earlierOf decodes a listed query and reports whether it belongs in q's history: a
// succeeded query of q's session created no later than q, and not q itself.
func earlierOf(q *agentsv1alpha1.AgentQuery, obj map[string]any) (agentsv1alpha1.AgentQuery, bool) {
	var other agentsv1alpha1.AgentQuery
	if runtime.DefaultUnstructuredConverter.FromUnstructured(obj, &other) != nil {
		return other, false
	}
	ok := other.UID != q.UID && other.Spec.SessionRef != nil && other.Spec.SessionRef.Name == q.Spec.SessionRef.Name &&
		other.Status.Phase == agentsv1alpha1.QuerySucceeded && !q.CreationTimestamp.Before(&other.CreationTimestamp)
	return other, ok
}

// sortQueries orders queries oldest first. Timestamps have one-second resolution;
// the completion time breaks ties.
func sortQueries(qs []agentsv1alpha1.AgentQuery) {
	slices.SortFunc(qs, func(a, b agentsv1alpha1.AgentQuery) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return a.Status.CompletionTime.Compare(b.Status.CompletionTime.Time)
	})
}

// newestEarlier pages through the metadata of the queries that selector matches and
// returns the names of the newest limit created no later than q (q excluded), newest
// first. Metadata has no completion time: ties of creation time are broken by name.
func newestEarlier(ctx context.Context, env *tools.Env, q *agentsv1alpha1.AgentQuery, selector string, limit int) ([]string, error) {
	type entry struct {
		created time.Time
		name    string
	}
	order := func(a, b entry) int {
		if c := a.created.Compare(b.created); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	}
	path := fmt.Sprintf("/apis/%s/%s/namespaces/%s/%s", agentQueries.Group, agentQueries.Version, q.Namespace, agentQueries.Resource)
	newest := make([]entry, 0, limit+1) // oldest first
	next := ""
	for {
		req := env.REST.Get().AbsPath(path).SetHeader("Accept", metadataListAccept).
			Param("fieldSelector", selector).Param("limit", strconv.FormatInt(historyMetadataPage, 10))
		if next != "" {
			req = req.Param("continue", next)
		}
		raw, err := req.DoRaw(ctx)
		if err != nil {
			return nil, err
		}
		var page metav1.PartialObjectMetadataList
		if err := json.Unmarshal(raw, &page); err != nil {
			return nil, fmt.Errorf("decoding the metadata of the session's queries: %w", err)
		}
		for _, m := range page.Items {
			if m.UID == q.UID || q.CreationTimestamp.Before(&m.CreationTimestamp) {
				continue
			}
			e := entry{created: m.CreationTimestamp.Time, name: m.Name}
			if len(newest) == limit && order(e, newest[0]) <= 0 {
				continue
			}
			i, _ := slices.BinarySearchFunc(newest, e, order)
			newest = slices.Insert(newest, i, e)
			if len(newest) > limit {
				newest = slices.Delete(newest, 0, 1)
			}
		}
		if next = page.Continue; next == "" {
			break
		}
	}
	names := make([]string, 0, len(newest))
	for i := len(newest) - 1; i >= 0; i-- {
		names = append(names, newest[i].name)
	}
	return names, nil
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

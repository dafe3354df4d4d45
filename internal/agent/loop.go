package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/llm"
	"github.com/kubeask/kubeask/internal/llm/quota"
	"github.com/kubeask/kubeask/internal/tools"
)

// loop talks with the model until it answers, a change awaits approval, or a limit is
// reached.
func (r *run) loop(ctx context.Context) error {
	q := r.q
	history := 10
	if q.Spec.SessionRef != nil {
		s := &agentsv1alpha1.AgentSession{}
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: q.Namespace, Name: q.Spec.SessionRef.Name}, s); err == nil && s.Spec.HistoryLimit != nil {
			history = int(*s.Spec.HistoryLimit)
		}
	}
	msgs := sessionHistory(ctx, r.env, q, history)
	msgs = append(msgs, llm.Message{Role: llm.RoleUser, Text: q.Spec.Prompt})
	if len(r.st.Steps) > 0 {
		msgs = append(msgs, replaySteps(r.st.Steps)...)
		r.exhausted = len(r.st.Steps) >= r.maxSteps
	}
	system := systemPrompt(r.profile.Prompt(), q, r.mode)
	decls, err := declarations(r.tools)
	if err != nil {
		return err
	}
	// Each step may take a model call, plus one to answer and a few to recover from
	// malformed calls.
	for calls := 0; calls < r.maxSteps+5; calls++ {
		req := llm.Request{System: system, Messages: msgs, Tools: decls}
		if r.exhausted {
			// The tools stay declared: Anthropic refuses a conversation with tool calls
			// in it and no tools. The model is told not to call them instead.
			req.ForbidToolCalls = true
			req.Messages = append(msgs, llm.Message{Role: llm.RoleUser,
				Text: fmt.Sprintf("The step limit of this query (%d tool calls) is reached. Answer now with what you know, and say what you could not check.", r.maxSteps)})
		}
		resp, err := r.llm.Chat(ctx, req)
		r.st.Usage.LLMCalls++
		if err != nil {
			if ctx.Err() != nil {
				if errors.Is(context.Cause(ctx), errQueryTimeout) {
					return r.fail(ctx, ConditionRunning, ReasonTimeout, r.timeoutMessage())
				}
				// The operator is stopping (a rolling update), the query was deleted or
				// cancelled: the phase stays, so that the next leader resumes the query
				// where it was (or the next run records the cancellation). What the run
				// did is written: no step is in flight between model calls, and the
				// usage then counts the model calls made, this one too.
				wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				if err := r.w.write(wctx, r.st); err != nil {
					r.log.Info("could not record the progress of a stopped run", "error", err.Error())
				}
				return fmt.Errorf("run of %s/%s stopped: %w", q.Namespace, q.Name, context.Cause(ctx))
			}
			return r.fail(ctx, ConditionRunning, ReasonModelError, "the model call failed: "+err.Error())
		}
		r.st.Usage.InputTokens += resp.Usage.InputTokens
		r.st.Usage.OutputTokens += resp.Usage.OutputTokens
		if r.Quota != nil {
			var exceeded *quota.ExceededError
			if err := r.Quota.RecordTokens(q.Spec.Requester.Username, q.Spec.Requester.Groups, resp.Usage.Total()); errors.As(err, &exceeded) {
				return r.fail(ctx, ConditionRunning, ReasonQuotaExceeded, err.Error())
			}
		}
		msgs = append(msgs, resp.Message)

		if resp.StopReason == llm.StopMalformedToolCall {
			msgs = append(msgs, llm.Message{Role: llm.RoleUser, Text: "Your last tool call could not be parsed (" + resp.StopMessage + "). Call the tool again with a valid JSON argument object, or answer."})
			continue
		}
		if len(resp.Message.ToolCalls) == 0 {
			return r.answer(ctx, resp)
		}
		var results []llm.ToolResult
		proposed := false
		for _, call := range resp.Message.ToolCalls {
			res, isProposal, err := r.handleCall(ctx, call)
			if err != nil {
				return err
			}
			if isProposal {
				proposed = true
				continue
			}
			results = append(results, res)
		}
		if proposed {
			return r.awaitApproval(ctx)
		}
		// Every step's end was written already; the turn's usage goes with the next write.
		msgs = append(msgs, llm.Message{Role: llm.RoleTool, ToolResults: results})
	}
	return r.fail(ctx, ConditionRunning, ReasonMaxSteps, "the model did not answer within the query's step limit")
}

func (r *run) timeout() time.Duration {
	if r.q.Spec.Timeout != nil && r.q.Spec.Timeout.Duration > 0 {
		return r.q.Spec.Timeout.Duration
	}
	return defaultTimeout
}

// answer records the model's final answer.
func (r *run) answer(ctx context.Context, resp *llm.Response) error {
	text := strings.TrimSpace(resp.Message.Text)
	if text == "" {
		msg := fmt.Sprintf("the model ended without an answer (stop reason %s", resp.StopReason)
		if resp.StopMessage != "" {
			msg += ": " + resp.StopMessage
		}
		return r.fail(ctx, ConditionRunning, ReasonModelError, msg+")")
	}
	r.st.Phase = agentsv1alpha1.QuerySucceeded
	r.st.Answer = text
	r.st.Summary = summary(text)
	r.st.CompletionTime = now()
	setCondition(r.st, r.q.Generation, ConditionRunning, metav1.ConditionFalse, ReasonAnswered, "the agent answered")
	r.event(corev1.EventTypeNormal, ReasonAnswered, "Answered after %d tool calls", r.st.Usage.ToolCalls)
	return r.w.write(ctx, r.st)
}

// handleCall records and, when the mode allows, runs one tool call. A mutating call in
// Propose mode is recorded as proposed and not run (isProposal).
//
// The result answers the call with the model's own call id: providers refuse a result
// whose id is not the id of a call of the assistant message before it. The step id is
// ours, for status and approvals; it becomes the call id only when the conversation is
// rebuilt from status (replaySteps), where it names both the call and its result.
func (r *run) handleCall(ctx context.Context, call llm.ToolCall) (res llm.ToolResult, isProposal bool, err error) {
	res = llm.ToolResult{CallID: call.ID, Name: call.Name, IsError: true}
	if len(r.st.Steps) >= r.maxSteps {
		r.exhausted = true
		res.Content = fmt.Sprintf("not run: the step limit of this query (%d tool calls) is reached", r.maxSteps)
		return res, false, nil
	}
	r.st.Usage.ToolCalls++
	step := agentsv1alpha1.Step{
		ID: fmt.Sprintf("s%d", len(r.st.Steps)+1), Tool: call.Name, Arguments: string(call.Arguments),
		StartTime: now(), State: agentsv1alpha1.StepFailed,
	}
	tool, ok := r.tools.Get(call.Name)
	switch {
	case !ok:
		step.Error = fmt.Sprintf("unknown tool %q", call.Name)
		res.Content = step.Error + "; the available tools are: " + strings.Join(r.tools.Names(), ", ")
	case call.ArgumentsError != "":
		step.Error = "the arguments are not a valid JSON object: " + call.ArgumentsError
		res.Content = step.Error + ". Call the tool again with a valid JSON object."
	default:
		if verr := tool.Validate(call.Arguments); verr != nil {
			step.Error = verr.Error()
			res.Content = verr.Error()
		}
	}
	if step.Error != "" {
		r.st.Steps = append(r.st.Steps, step)
		return res, false, nil
	}
	step.ReadOnly = !tool.Mutates(call.Arguments)
	if !step.ReadOnly {
		switch r.mode {
		case agentsv1alpha1.ModeReadOnly:
			step.State = agentsv1alpha1.StepDenied
			step.Error = "refused: this query is read-only (mode ReadOnly), and " + call.Name + " changes the cluster"
			res.Content = step.Error + ". Do not retry it; tell the user what you would change, and that they can ask again with mode Propose."
			r.st.Steps = append(r.st.Steps, step)
			return res, false, nil
		case agentsv1alpha1.ModePropose:
			// Recorded with its full arguments and their digest: it runs later only as
			// approved (see settle).
			if refusal := r.propose(&step, call.Arguments); refusal != "" {
				step.Error, res.Content = refusal, refusal
				r.st.Steps = append(r.st.Steps, step)
				return res, false, nil
			}
			step.State = agentsv1alpha1.StepProposed
			r.st.Steps = append(r.st.Steps, step)
			return res, true, nil
		}
	}
	r.st.Steps = append(r.st.Steps, step)
	res.Content, res.IsError, err = r.execute(ctx, len(r.st.Steps)-1, tool, call.Arguments)
	return res, false, err
}

// execute runs step i. The invariant that makes a mutation never run twice: a step
// that changes the cluster is persisted as Running before the tool runs, and its result
// before the run goes on; a step found Running later is never run again (see settle).
// If the Running record cannot be written, the tool does not run. A step that only
// reads is saved for the next status write: if the operator stops before that, the
// resumed run simply asks the model again.
//
// It returns what the model is told: the tool's text, and whether it is an error.
func (r *run) execute(ctx context.Context, i int, tool tools.Tool, args json.RawMessage) (content string, isError bool, err error) {
	step := &r.st.Steps[i]
	step.State, step.StartTime = agentsv1alpha1.StepRunning, now()
	record := func(ctx context.Context) error {
		if step.ReadOnly {
			return r.w.save(r.st)
		}
		return r.w.write(ctx, r.st)
	}
	if err := record(ctx); err != nil {
		return "", false, err
	}
	if r.beforeExecute != nil {
		// The hook's contract is "after the Running record": make it durable for reads too.
		if err := r.w.write(ctx, r.st); err != nil {
			return "", false, err
		}
		r.beforeExecute(ctx, *step)
	}
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), toolTimeout)
	defer cancel()
	start := time.Now()
	out, callErr := tool.Call(callCtx, r.env, args)
	if r.afterExecute != nil {
		r.afterExecute(ctx, *step)
	}
	step = &r.st.Steps[i]
	step.Duration = &metav1.Duration{Duration: time.Since(start).Round(time.Millisecond)}
	switch {
	case callErr != nil:
		step.State, step.Error = agentsv1alpha1.StepFailed, callErr.Error()
		content, isError = "the tool failed: "+callErr.Error(), true
		r.log.Error(callErr, "tool failed", "tool", step.Tool)
	default:
		// The model gets Text; the status, which everyone who may read the query reads,
		// keeps Recorded, and hides what Text revealed wherever it turns up (the answer).
		step.State, step.Output = agentsv1alpha1.StepDone, out.Recorded
		r.w.rec.conceal(out.Revealed)
		if out.IsError {
			step.Error = truncate(firstLine(out.Recorded), agentsv1alpha1.MaxStepErrorLength)
		}
		content, isError = out.Text, out.IsError
	}
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer wcancel()
	return content, isError, record(wctx)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// declarations describes the tools to the model.
func declarations(reg *tools.Registry) ([]llm.Tool, error) {
	var out []llm.Tool
	for _, t := range reg.List() {
		schema := t.InputSchemaJSON()
		if len(schema) == 0 {
			return nil, fmt.Errorf("tool %s has no schema: it was not built with tools.Define", t.Name)
		}
		out = append(out, llm.Tool{Name: t.Name, Description: t.Description, Parameters: schema})
	}
	return out, nil
}

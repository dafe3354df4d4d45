// Package agent runs AgentQueries: an LLM tool-calling loop in which every tool call
// is made as the query's requester, gated by the query's mode, recorded in the query's
// status before it executes, and never executed twice.
package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/identity"
	"github.com/kubeask/kubeask/internal/llm"
	"github.com/kubeask/kubeask/internal/llm/catalog"
	"github.com/kubeask/kubeask/internal/llm/quota"
	"github.com/kubeask/kubeask/internal/tools"
)

// Defaults for queries that leave limits unset (the CRD defaults them too).
const (
	defaultTimeout  = 5 * time.Minute
	defaultMaxSteps = 20
	// toolTimeout bounds one tool call. A call runs to its end even when the query's
	// context is cancelled (operator shutdown), so that a change is never cut off
	// between being made and being recorded.
	toolTimeout = 30 * time.Second
	// sessionGrace is how long a query waits for its session to appear.
	sessionGrace = 60 * time.Second
)

// Causes of a run's context ending. Only errQueryTimeout fails the query; the
// operator shutting down (context.Canceled) leaves it for the next run, a deletion
// leaves nothing to write, and a cancellation is written by the next run, which finds
// spec.cancel set.
var (
	errQueryTimeout = errors.New("the query's timeout passed")
	// ErrQueryCancelled is the cause with which the pool stops a run whose query was
	// cancelled (spec.cancel).
	ErrQueryCancelled = errors.New("the query was cancelled")
	errQueryDeleted   = errors.New("the query was deleted")
)

// maxEventNote is the limit of an events.k8s.io Event's note: a longer one makes the
// Event itself fail.
const maxEventNote = 1024

// RetryError asks the pool to run the query again after a while; it is not a failure.
type RetryError struct{ After time.Duration }

func (e *RetryError) Error() string { return fmt.Sprintf("retry in %s", e.After) }

// Models gives the LLM client of a catalog model.
type Models interface {
	Client(ctx context.Context, name string) (llm.Client, error)
}

// EventRecorder records Kubernetes Events (the events.k8s.io recorder).
type EventRecorder interface {
	Eventf(regarding runtime.Object, related runtime.Object, eventtype, reason, action, note string, args ...any)
}

// Agent runs queries. Its fields are its dependencies; it holds no per-query state.
type Agent struct {
	// Client is the operator's own client (the manager's, cached): it reads the query a
	// run starts from and its session, and writes query status.
	Client client.Client
	// Reader reads queries straight from the API server, never from a stale cache: the
	// status writer reads the query with it after a conflicting write, to tell whether
	// the run still holds it.
	Reader   client.Reader
	Identity *identity.Factory
	Mapper   *tools.Mapper
	Tools    *tools.Registry
	Catalog  *catalog.Catalog
	Models   Models
	// Quota, if set, limits queries and tokens per requester.
	Quota quota.Checker
	// Events, if set, records Kubernetes Events on queries.
	Events EventRecorder
	// Output bounds tool results; AllowSecretValues is taken from the profile.
	Output tools.OutputPolicy
	// KubectlPath is the kubectl binary of the kubectl tool ("" disables it).
	KubectlPath string
	// StatusInterval is the least time between two writes of a query's progress (steps
	// that only read). What must be durable is written at once: a change to the cluster
	// before it is made and after, and the end of the run. 0 writes progress as it comes.
	StatusInterval time.Duration
	// ProgressWrites, if set, is a budget of progress writes per second shared by all
	// runs, so that many queries at once do not spend the API server on progress: each
	// query's progress is then written less often than StatusInterval. Changes to the
	// cluster and the end of a run are written at once, never counted.
	ProgressWrites *rate.Limiter
	// AllowedModes are the modes this installation runs queries in (kubeask-manager
	// --allowed-mode); a query in another mode fails. Empty allows every mode.
	AllowedModes []agentsv1alpha1.Mode
	// Holder names this replica (its pod) in the runIDs of its runs, for people reading
	// a query's status.runID.
	Holder string

	// beforeExecute, if set, runs after a step is recorded as Running and before the
	// tool runs. Tests use it to stop the operator at the worst moment.
	beforeExecute func(ctx context.Context, step agentsv1alpha1.Step)
	// afterExecute, if set, runs after the tool returned and before the step's result
	// is recorded.
	afterExecute func(ctx context.Context, step agentsv1alpha1.Step)
}

// Run works on the query until it is answered, fails, or waits for approval. It is
// safe to call again for the same query at any time: it continues from the status.
func (a *Agent) Run(ctx context.Context, key types.NamespacedName) error {
	r, err := a.start(ctx, key)
	if r == nil || err != nil {
		return err
	}
	defer r.w.stop()
	if r.q.Spec.Cancel {
		err = r.cancel(ctx)
	} else {
		err = r.run(ctx)
	}
	r.recordEvents(err)
	return r.outcome(ctx, err)
}

// GiveUp ends a query whose runs failed too often in a row, with the last error: a
// query is never retried forever. The pool calls it.
func (a *Agent) GiveUp(ctx context.Context, key types.NamespacedName, runs int, last error) error {
	r, err := a.start(ctx, key)
	if r == nil || err != nil {
		return err
	}
	defer r.w.stop()
	r.interrupted()
	err = r.fail(ctx, ConditionRunning, ReasonRetriesExhausted,
		fmt.Sprintf("the query's run failed %d times in a row; the last error: %v", runs, last))
	r.recordEvents(err)
	return r.outcome(ctx, err)
}

// start reads the query and prepares a run of it with a new runID; it returns nil when
// there is nothing to run.
//
// The query is read with Client, from the manager's cache: it is the operator's own
// object (what is read on a user's behalf never comes from the cache), and a stale copy
// can do no harm. Every status write is conditional on the resourceVersion read here, so
// a run that started from a copy older than the query's last status write conflicts at
// its first write, finds that it never claimed the query, and runs again from a new read
// (errQueryChanged) with nothing of it recorded: neither status, nor Events (see
// recordEvents), nor a change to the cluster, which runs only after its Running record
// was written. A cached read costs the API server nothing; an uncached one was one
// request per run.
//
// The run's first write (the claim: phase Running, with its runID) waits for the
// progress interval like every progress write, so that it goes out with the first steps,
// or with the answer of a query done by then, instead of as a write of its own. Nothing
// that must be durable waits: a change to the cluster and the end of the run are written
// at once (statusWriter.write), and the claim with them.
func (a *Agent) start(ctx context.Context, key types.NamespacedName) (*run, error) {
	q := &agentsv1alpha1.AgentQuery{}
	if err := a.Client.Get(ctx, key, q); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	if q.Status.Phase.Finished() {
		return nil, nil
	}
	w := newStatusWriter(ctx, a.Client, a.Reader, q, a.newRunID(), a.StatusInterval)
	w.progress = a.ProgressWrites
	w.patchMu.Lock()
	w.sent = time.Now() // the flusher counts the interval from the start of the run
	w.patchMu.Unlock()
	r := &run{Agent: a, q: q, st: q.Status.DeepCopy(), w: w, log: log.FromContext(ctx).WithValues("query", key, "run", w.runID)}
	r.st.ObservedGeneration = q.Generation
	return r, nil
}

func (a *Agent) newRunID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return truncate(cmpOr(a.Holder, "kubeask"), 100) + "-" + hex.EncodeToString(b)
}

// outcome turns what a run returned into what the pool should do: a query deleted, or
// now held by another run, needs nothing more; one changed before the run claimed it
// runs again at once; one whose status the API server rejects fails with the reason.
func (r *run) outcome(ctx context.Context, err error) error {
	var rejected *statusRejectedError
	switch {
	case err == nil, errors.Is(err, errQueryGone):
		return nil
	case errors.Is(err, errQueryLost):
		r.log.Info("another run holds the query now; this one stops without writing")
		return nil
	case errors.Is(err, errQueryChanged):
		return &RetryError{After: 100 * time.Millisecond}
	case errors.As(err, &rejected):
		return r.failRejected(ctx, rejected)
	}
	return err
}

// failRejected ends the query after the API server refused its status as invalid:
// writing it again cannot succeed, so the run's failure is recorded over the last
// status that was accepted, with the run's usage.
func (r *run) failRejected(ctx context.Context, rejected *statusRejectedError) error {
	st := r.w.lastWritten()
	st.Usage = r.st.Usage
	st.ObservedGeneration = r.q.Generation
	r.events = nil // what they report was not recorded
	msg := "the API server rejected the query's status, so its last steps are not recorded: " + rejected.err.Error()
	st.Phase = agentsv1alpha1.QueryFailed
	setCondition(st, r.q.Generation, ConditionRunning, metav1.ConditionFalse, ReasonStatusRejected, msg)
	st.Summary = summary(msg)
	st.CompletionTime = now()
	r.event(corev1.EventTypeWarning, ReasonStatusRejected, "%s", msg)
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := r.w.replace(wctx, st)
	r.recordEvents(err)
	if errors.Is(err, errQueryGone) || errors.Is(err, errQueryLost) {
		return nil
	}
	return err
}

// run is the state of one query's run.
type run struct {
	*Agent
	q   *agentsv1alpha1.AgentQuery
	st  *agentsv1alpha1.AgentQueryStatus
	w   *statusWriter
	log interface {
		Info(string, ...any)
		Error(error, string, ...any)
	}
	// events wait for the write of the status they report (see recordEvents).
	events []pendingEvent

	env      *tools.Env
	llm      llm.Client
	profile  *catalog.Profile
	mode     agentsv1alpha1.Mode
	tools    *tools.Registry
	maxSteps int
	// exhausted is set once maxSteps is reached: the model must answer without tools.
	exhausted bool
}

func (r *run) run(ctx context.Context) error {
	if stop, err := r.prepare(ctx); stop || err != nil {
		return err
	}
	// spec.timeout counts from the query's start, across restarts and approvals, and
	// leaves out the time it waited for a decision.
	deadline := r.deadline()
	if !time.Now().Before(deadline) {
		return r.fail(ctx, ConditionRunning, ReasonTimeout, r.timeoutMessage())
	}
	// The cause tells a real timeout apart from the operator shutting down or the query
	// being deleted, which leave the query as it is for the next run (or nobody).
	runCtx, cancel := context.WithDeadlineCause(ctx, deadline, errQueryTimeout)
	defer cancel()

	if stop, err := r.settle(runCtx); stop || err != nil {
		return err
	}
	return r.loop(runCtx)
}

// prepare accepts the query (requester, session, profile, mode, model, quota) and marks
// it Running. stop is true when the query ended here.
func (r *run) prepare(ctx context.Context) (stop bool, err error) {
	q := r.q
	if q.Spec.Requester == nil || q.Spec.Requester.Username == "" {
		return true, r.fail(ctx, ConditionAccepted, ReasonRequesterMissing,
			"spec.requester is empty, so the query cannot act as anyone: the kubeask admission policy or webhook that stamps it is not installed")
	}
	env, err := tools.NewEnv(r.Identity, identity.FromRequester(q.Spec.Requester), r.Mapper, r.Output)
	if err != nil {
		if errors.Is(err, identity.ErrRefused) {
			return true, r.fail(ctx, ConditionAccepted, ReasonRequesterRefused, err.Error())
		}
		return false, err
	}
	env.KubectlPath = r.KubectlPath
	r.env = env

	var session *agentsv1alpha1.AgentSession
	if ref := q.Spec.SessionRef; ref != nil {
		session = &agentsv1alpha1.AgentSession{}
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: q.Namespace, Name: ref.Name}, session); err != nil {
			if apierrors.IsNotFound(err) {
				msg := fmt.Sprintf("AgentSession %q does not exist in namespace %s", ref.Name, q.Namespace)
				// A query and its session are often applied together, in any order (GitOps):
				// wait a while for the session before failing.
				if time.Since(q.CreationTimestamp.Time) < sessionGrace {
					r.st.Phase = agentsv1alpha1.QueryPending
					setCondition(r.st, q.Generation, ConditionAccepted, metav1.ConditionFalse, ReasonSessionNotFound, msg+"; waiting for it")
					if err := r.w.write(ctx, r.st); err != nil {
						return true, err
					}
					return true, &RetryError{After: 2 * time.Second}
				}
				return true, r.fail(ctx, ConditionAccepted, ReasonSessionNotFound, msg)
			}
			return false, fmt.Errorf("reading session %s: %w", ref.Name, err)
		}
	}
	c, note, stop, err := r.accept(ctx, session)
	if stop || err != nil {
		return stop, err
	}
	r.maxSteps = int(q.Spec.MaxSteps)
	if r.maxSteps <= 0 {
		r.maxSteps = defaultMaxSteps
	}
	if r.st.Phase == agentsv1alpha1.QueryAwaitingApproval {
		if !r.decided() {
			return true, nil // nothing to do until the requester decides; write nothing
		}
		r.endApprovalWait()
	}
	first := r.st.StartTime == nil
	if first && r.Quota != nil {
		if err := r.Quota.Allow(q.Spec.Requester.Username, q.Spec.Requester.Groups); err != nil {
			return true, r.fail(ctx, ConditionAccepted, ReasonQuotaExceeded, err.Error())
		}
	}
	// The reason the query was accepted with (a mode it did not ask for) stays in the
	// condition for the rest of its life.
	reason, msg := ReasonAccepted, "the query is valid"
	if note != "" {
		reason, msg = ReasonAutoNotChosen, note
	} else if prev := meta.FindStatusCondition(r.st.Conditions, ConditionAccepted); r.st.Mode != "" && prev != nil && prev.Status == metav1.ConditionTrue {
		reason, msg = prev.Reason, prev.Message
	}
	setCondition(r.st, q.Generation, ConditionAccepted, metav1.ConditionTrue, reason, msg)
	setCondition(r.st, q.Generation, ConditionRunning, metav1.ConditionTrue, ReasonRunning, "the agent is working on the query")
	r.st.Phase, r.st.Model, r.st.Profile, r.st.Mode = agentsv1alpha1.QueryRunning, c.model, c.profile, c.mode
	if first {
		r.st.StartTime = now()
	}
	return false, r.w.save(r.st)
}

// settle deals with steps left by an earlier run: a change whose outcome is unknown
// ends the query; approved proposals run; denied ones are recorded; undecided ones keep
// the query waiting. stop is true when the run must not continue now.
//
// A proposal runs only when spec.approvals approves its exact arguments (see
// approvedArguments). Its state in status is not trusted: a step found Approved is
// decided again from the spec like a Proposed one, so a status written by anyone else
// than this run cannot make a step run.
func (r *run) settle(ctx context.Context) (stop bool, err error) {
	var notes []string
	var approved []int
	args := map[int]string{}
	undecided := false
	unknown := r.interrupted()
	for i := range r.st.Steps {
		s := &r.st.Steps[i]
		switch s.State {
		case agentsv1alpha1.StepProposed, agentsv1alpha1.StepApproved:
			full, ok := approvedArguments(r.q, *s)
			switch {
			case r.q.Denies(s.ID):
				s.State, s.Error = agentsv1alpha1.StepDenied, "denied by "+r.q.Spec.Requester.Username
				s.FullArguments = "" // decided: the digest remains as its record
			case ok:
				s.State = agentsv1alpha1.StepApproved
				approved, args[i] = append(approved, i), full
			default:
				s.State = agentsv1alpha1.StepProposed
				undecided = true
				if why := approvalMismatch(r.q, *s); why != "" {
					notes = append(notes, why)
				}
			}
		}
	}
	if len(unknown) > 0 {
		return true, r.fail(ctx, ConditionRunning, ReasonMutationOutcomeUnknown,
			fmt.Sprintf("the operator restarted while step %s was changing the cluster; its outcome is unknown and it was not executed again. Check the cluster, then ask again.", strings.Join(unknown, ", ")))
	}
	for _, i := range approved {
		s := &r.st.Steps[i]
		s.FullArguments = "" // decided: the Running record drops the copy
		tool, ok := r.tools.Get(s.Tool)
		if !ok {
			s.State, s.Error = agentsv1alpha1.StepFailed, "the tool is no longer available"
			continue
		}
		// What the tool returned reaches the model through the replayed step.
		if _, _, err := r.execute(ctx, i, tool, []byte(args[i])); err != nil {
			return true, err
		}
	}
	if undecided {
		return true, r.awaitDecision(ctx, notes)
	}
	return false, r.w.save(r.st)
}

// interrupted marks the steps an earlier run left Running: one that only read failed
// and may be called again; a change's outcome is unknown, and it is never run again.
// It returns the ids of those changes.
func (r *run) interrupted() (unknown []string) {
	for i := range r.st.Steps {
		s := &r.st.Steps[i]
		if s.State != agentsv1alpha1.StepRunning {
			continue
		}
		if s.ReadOnly {
			s.State, s.Error = agentsv1alpha1.StepFailed, "interrupted by a restart of the operator before it finished; it changed nothing and may be called again"
			continue
		}
		s.State = agentsv1alpha1.StepUnknown
		s.Error = "the operator stopped while this change was being made, so whether it was applied is unknown; it was not run again"
		unknown = append(unknown, s.ID)
	}
	return unknown
}

// cancel ends a query whose requester set spec.cancel: proposals not run yet are
// denied, and a change an earlier run left in flight is reported as unknown.
func (r *run) cancel(ctx context.Context) error {
	msg := "cancelled"
	if r.q.Spec.Requester != nil {
		msg += " by " + r.q.Spec.Requester.Username
	}
	if unknown := r.interrupted(); len(unknown) > 0 {
		msg += fmt.Sprintf("; step %s was changing the cluster when the run stopped, and whether it was applied is unknown", strings.Join(unknown, ", "))
	}
	for i := range r.st.Steps {
		s := &r.st.Steps[i]
		if s.State == agentsv1alpha1.StepProposed || s.State == agentsv1alpha1.StepApproved {
			s.State, s.Error, s.FullArguments = agentsv1alpha1.StepDenied, "not run: the query was cancelled", ""
		}
	}
	if r.st.Phase == agentsv1alpha1.QueryAwaitingApproval {
		r.endApprovalWait()
	}
	r.st.Phase = agentsv1alpha1.QueryCancelled
	setCondition(r.st, r.q.Generation, ConditionRunning, metav1.ConditionFalse, ReasonCancelled, msg)
	r.st.Summary = summary(msg)
	r.st.CompletionTime = now()
	r.event(corev1.EventTypeNormal, ReasonCancelled, "%s", msg)
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return r.w.write(wctx, r.st)
}

// endApprovalWait adds the time since the query started waiting for a decision (its
// Running condition turned AwaitingApproval) to status.approvalWait.
func (r *run) endApprovalWait() {
	c := meta.FindStatusCondition(r.st.Conditions, ConditionRunning)
	if c == nil || c.Reason != ReasonAwaitingApproval || c.LastTransitionTime.IsZero() {
		return
	}
	waited := time.Since(c.LastTransitionTime.Time).Round(time.Second)
	if waited <= 0 {
		return
	}
	if r.st.ApprovalWait != nil {
		waited += r.st.ApprovalWait.Duration
	}
	r.st.ApprovalWait = &metav1.Duration{Duration: waited}
}

// deadline is when the query times out: spec.timeout after its start, plus the time it
// waited for approvals.
func (r *run) deadline() time.Time {
	start := time.Now()
	if r.st.StartTime != nil {
		start = r.st.StartTime.Time
	}
	d := start.Add(r.timeout())
	if r.st.ApprovalWait != nil {
		d = d.Add(r.st.ApprovalWait.Duration)
	}
	return d
}

func (r *run) timeoutMessage() string {
	msg := fmt.Sprintf("the query did not finish within its timeout (%s), counted from its start", r.timeout())
	if r.st.StartTime != nil {
		msg += " at " + r.st.StartTime.UTC().Format(time.RFC3339)
	}
	if r.st.ApprovalWait != nil {
		msg += fmt.Sprintf(" without the %s it waited for approval", r.st.ApprovalWait.Duration)
	}
	return msg
}

// decided reports whether the requester decided on a proposed step, or wrote an
// approval for one that needs an answer (see HasDecisionOn).
func (r *run) decided() bool {
	for _, s := range r.st.Steps {
		if s.State == agentsv1alpha1.StepProposed && r.q.HasDecisionOn(s.ID) {
			return true
		}
	}
	return false
}

func (r *run) awaitApproval(ctx context.Context) error { return r.awaitDecision(ctx, nil) }

// awaitDecision stops the run until the requester decides on the proposed steps; notes
// say why approvals already given did not run a step.
func (r *run) awaitDecision(ctx context.Context, notes []string) error {
	var ids []string
	for _, s := range r.st.Steps {
		if s.State == agentsv1alpha1.StepProposed {
			ids = append(ids, s.ID)
		}
	}
	r.st.Phase = agentsv1alpha1.QueryAwaitingApproval
	msg := fmt.Sprintf("waiting for %s to approve or deny step %s", r.q.Spec.Requester.Username, strings.Join(ids, ", "))
	if len(notes) > 0 {
		msg += "; " + strings.Join(notes, "; ")
	}
	setCondition(r.st, r.q.Generation, ConditionRunning, metav1.ConditionFalse, ReasonAwaitingApproval, msg)
	r.st.Summary = "Awaiting approval: " + strings.Join(ids, ", ")
	r.event(corev1.EventTypeNormal, "AwaitingApproval", "%s", msg)
	return r.w.write(ctx, r.st)
}

// fail ends the query with a clear reason. Conditions say which check failed.
func (r *run) fail(ctx context.Context, condType, reason, msg string) error {
	r.st.Phase = agentsv1alpha1.QueryFailed
	if condType == ConditionAccepted {
		setCondition(r.st, r.q.Generation, ConditionAccepted, metav1.ConditionFalse, reason, msg)
	}
	setCondition(r.st, r.q.Generation, ConditionRunning, metav1.ConditionFalse, reason, msg)
	r.st.Summary = summary(msg)
	r.st.CompletionTime = now()
	r.event(corev1.EventTypeWarning, reason, "%s", msg)
	// Write even if the run's context is done (timeout): the failure must be recorded.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return r.w.write(wctx, r.st)
}

// A run records one Event, about how it ended: Answered, AwaitingApproval, Cancelled
// or the reason of a failure (a Warning). It records no "Started": that the query runs,
// since when, as whom and with which model is in its status (phase, startTime, the
// Running condition, model), and each Event is an API request: one more per query
// (docs/agent.md#throughput).
//
// event queues an Event; recordEvents records the queue once the run's end is written.
type pendingEvent struct{ eventtype, reason, note string }

func (r *run) event(eventtype, reason, note string, args ...any) {
	if r.Events != nil {
		r.events = append(r.events, pendingEvent{eventtype, reason, truncate(fmt.Sprintf(note, args...), maxEventNote)})
	}
}

// recordEvents records the queued Events if err, what the run (or the write of its
// end) returned, is nil: then the status they report was written by this run, which
// held the query. A run that read an old copy of the query (errQueryChanged), lost it to
// another replica (errQueryLost), or could not write its end records nothing: the run
// that does write it records the Event.
func (r *run) recordEvents(err error) {
	events := r.events
	r.events = nil
	if err != nil || r.Events == nil {
		return
	}
	for _, e := range events {
		r.Events.Eventf(r.q, nil, e.eventtype, e.reason, "Run", "%s", e.note)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

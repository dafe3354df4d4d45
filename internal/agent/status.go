package agent

import (
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/redact"
)

// Condition types and reasons the agent writes on AgentQuery.
const (
	ConditionAccepted = "Accepted"
	ConditionRunning  = "Running"
	// ConditionReady is True once the query is answered (Succeeded), for
	// `kubectl wait --for=condition=Ready` and tools that read Ready as success.
	ConditionReady = "Ready"
	// ConditionComplete is True once the query ended, whatever the outcome; its reason
	// is the outcome (`kubectl wait --for=condition=Complete`).
	ConditionComplete = "Complete"
	// ConditionReconciling and ConditionStalled are kstatus's abnormal-true conditions
	// (Flux, Argo CD's gitops-engine, cli-utils): Reconciling while the query is being
	// worked on or waits for approval, Stalled once it failed or was cancelled.
	ConditionReconciling = "Reconciling"
	ConditionStalled     = "Stalled"

	ReasonAccepted               = "Accepted"
	ReasonRunning                = "Running"
	ReasonAwaitingApproval       = "AwaitingApproval"
	ReasonAnswered               = "Answered"
	ReasonRequesterMissing       = "RequesterMissing"
	ReasonRequesterRefused       = "RequesterRefused"
	ReasonSessionNotFound        = "SessionNotFound"
	ReasonUnknownModel           = "UnknownModel"
	ReasonUnknownProfile         = "UnknownProfile"
	ReasonModeNotAllowed         = "ModeNotAllowed"
	ReasonProfileNotAllowed      = "ProfileNotAllowed"
	ReasonModelNotAllowed        = "ModelNotAllowed"
	ReasonQuotaExceeded          = "QuotaExceeded"
	ReasonModelError             = "ModelError"
	ReasonTimeout                = "Timeout"
	ReasonMaxSteps               = "MaxStepsReached"
	ReasonMutationOutcomeUnknown = "MutationOutcomeUnknown"
	ReasonCancelled              = "Cancelled"
	ReasonAPIKeyUnavailable      = "APIKeyUnavailable" //nolint:gosec // G101: a condition reason, not a credential
	ReasonModelMisconfigured     = "ModelMisconfigured"
	// ReasonStatusRejected: the API server refused the query's status as invalid.
	ReasonStatusRejected = "StatusRejected"
	// ReasonRetriesExhausted: the query's runs failed too many times in a row.
	ReasonRetriesExhausted = "RetriesExhausted"

	// ReasonAutoNotChosen accepts a query whose session asked for Auto on behalf of
	// someone else: it runs in Propose, and the condition's message says why.
	ReasonAutoNotChosen = "AutoNotChosenByRequester"
)

// boundStatus returns a copy of st cut to the API's limits, marking cut steps, so
// that the object stays far below etcd's size limit whatever the tools return.
func boundStatus(st *agentsv1alpha1.AgentQueryStatus) *agentsv1alpha1.AgentQueryStatus {
	out := st.DeepCopy()
	bound(out)
	return out
}

// bound cuts st to the API's limits in place.
func bound(out *agentsv1alpha1.AgentQueryStatus) {
	out.Answer = truncate(out.Answer, agentsv1alpha1.MaxAnswerLength)
	out.Summary = truncate(out.Summary, agentsv1alpha1.MaxSummaryLength)
	for i := range out.Steps {
		s := &out.Steps[i]
		args, output := truncate(s.Arguments, agentsv1alpha1.MaxStepArgsLength), truncate(s.Output, agentsv1alpha1.MaxStepOutputLength)
		if args != s.Arguments || output != s.Output {
			s.Truncated = true
		}
		s.Arguments, s.Output = args, output
		s.Error = truncate(s.Error, agentsv1alpha1.MaxStepErrorLength)
		// The name is the model's: a call of a tool that does not exist may name anything.
		s.Tool = truncate(s.Tool, agentsv1alpha1.MaxStepToolLength)
	}
	for i := range out.Conditions {
		out.Conditions[i].Message = truncate(out.Conditions[i].Message, 32768)
	}
}

// recorder makes a query's status fit for everyone who may read the query, who may
// not read what the requester may: step arguments are redacted (a kubectl
// --from-literal, a Secret's stringData in a manifest), and the secret values that
// tools showed the model (a profile that allows them) are scrubbed from all of it, the
// model's answer included. Step outputs are the tools' Recorded text already. It is
// safe for concurrent use.
type recorder struct {
	mu      sync.Mutex
	secrets redact.Scrubber
	// args caches redacted arguments by the raw ones: the status is recorded after
	// every step, and its earlier steps do not change.
	args map[string]string
}

// conceal makes the record hide values from now on.
func (r *recorder) conceal(values []string) {
	if len(values) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secrets.Add(values...)
}

// record returns a copy of st as it may be written: redacted, then bounded. Redaction
// comes first, so that no cut leaves the start of a value behind.
func (r *recorder) record(st *agentsv1alpha1.AgentQueryStatus) *agentsv1alpha1.AgentQueryStatus {
	out := st.DeepCopy()
	r.mu.Lock()
	if r.args == nil {
		r.args = map[string]string{}
	}
	scrub := r.secrets.Scrub
	for i := range out.Steps {
		s := &out.Steps[i]
		args, ok := r.args[s.Arguments]
		if !ok {
			args = redact.Arguments(s.Arguments)
			r.args[s.Arguments] = args
		}
		s.Arguments, s.Output, s.Error = scrub(args), scrub(s.Output), scrub(s.Error)
		// A proposal quoting a value the model saw is refused already; scrubbing also
		// keeps one out of status, and its digest then no longer matches, so it never runs.
		s.FullArguments = scrub(s.FullArguments)
	}
	out.Answer, out.Summary = scrub(out.Answer), scrub(out.Summary)
	for i := range out.Conditions {
		out.Conditions[i].Message = scrub(out.Conditions[i].Message)
	}
	r.mu.Unlock()
	bound(out)
	return out
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

// summary is the first non-empty line of text without markdown decoration, for
// listings (kubectl get prints it in a column).
func summary(text string) string {
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		line = strings.TrimSpace(strings.TrimLeft(line, "#>"))
		for _, marker := range []string{"- ", "* ", "+ "} {
			line = strings.TrimPrefix(line, marker)
		}
		line = strings.NewReplacer("**", "", "__", "", "`", "").Replace(line)
		if line = strings.TrimSpace(line); line != "" && line != "```" {
			return truncate(line, agentsv1alpha1.MaxSummaryLength)
		}
	}
	return ""
}

// setOutcomeConditions sets Ready, Complete, Reconciling and Stalled from st's phase and
// its Running condition, so that they never disagree with the phase: they are derived
// here, in the one place every status write goes through, and nowhere else.
func setOutcomeConditions(st *agentsv1alpha1.AgentQueryStatus) {
	if st.Phase == "" {
		return
	}
	reason, msg := string(st.Phase), "the query is "+string(st.Phase)
	if c := meta.FindStatusCondition(st.Conditions, ConditionRunning); c != nil {
		reason, msg = c.Reason, c.Message
	}
	gen := st.ObservedGeneration
	finished := st.Phase.Finished()
	is := func(b bool) metav1.ConditionStatus {
		if b {
			return metav1.ConditionTrue
		}
		return metav1.ConditionFalse
	}
	setCondition(st, gen, ConditionReady, is(st.Phase == agentsv1alpha1.QuerySucceeded), reason, msg)
	setCondition(st, gen, ConditionComplete, is(finished), reason, msg)
	setCondition(st, gen, ConditionReconciling, is(!finished), reason, msg)
	setCondition(st, gen, ConditionStalled, is(finished && st.Phase != agentsv1alpha1.QuerySucceeded), reason, msg)
}

func setCondition(st *agentsv1alpha1.AgentQueryStatus, gen int64, typ string, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: gen,
	})
}

func now() *metav1.Time {
	t := metav1.NewTime(time.Now().Truncate(time.Second))
	return &t
}

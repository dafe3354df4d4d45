package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Limits that keep an AgentQuery far below etcd's object size limit whatever the model
// and the tools produce. The controller truncates to them and says so in the step.
const (
	MaxPromptLength     = 16384
	MaxAnswerLength     = 65536
	MaxSummaryLength    = 120
	MaxStepArgsLength   = 2048
	MaxStepOutputLength = 2048
	MaxStepErrorLength  = 1024
	MaxStepToolLength   = 64
	MaxSteps            = 100
	// MaxProposalLength bounds the full arguments of one proposed change (a manifest of a
	// few hundred KiB at most) and MaxProposalsLength those of all the changes of a query
	// that wait for a decision. With every other field at its limit a query stays below
	// about 1.2 MiB, under etcd's default request limit of 1.5 MiB.
	MaxProposalLength  = 256 << 10
	MaxProposalsLength = 512 << 10
)

// SessionReference names an AgentSession in the query's namespace.
type SessionReference struct {
	// name of the AgentSession.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// AgentQuerySpec is one question to the agent. It is immutable after creation except
// for approvals and denials, which only the requester may change.
// +kubebuilder:validation:XValidation:rule="self.prompt == oldSelf.prompt",message="prompt is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.sessionRef) == has(oldSelf.sessionRef) && (!has(self.sessionRef) || self.sessionRef == oldSelf.sessionRef)",message="sessionRef is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.requester) == has(oldSelf.requester) && (!has(self.requester) || self.requester == oldSelf.requester)",message="requester is set by admission and is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.mode) == has(oldSelf.mode) && (!has(self.mode) || self.mode == oldSelf.mode)",message="mode is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.model) == has(oldSelf.model) && (!has(self.model) || self.model == oldSelf.model)",message="model is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.profile) == has(oldSelf.profile) && (!has(self.profile) || self.profile == oldSelf.profile)",message="profile is immutable"
// +kubebuilder:validation:XValidation:rule="!has(self.approvals) || !has(self.denials) || self.approvals.all(a, !(a.split('@')[0] in self.denials))",message="a step cannot be both approved and denied"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.cancel) || !oldSelf.cancel || (has(self.cancel) && self.cancel)",message="cancel cannot be undone; create a new query instead"
type AgentQuerySpec struct {
	// sessionRef puts the query into a session, whose earlier queries are its context.
	// Without it the query is a one-shot question.
	// +optional
	SessionRef *SessionReference `json:"sessionRef,omitempty"`

	// prompt is the question or instruction, in natural language.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=16384
	Prompt string `json:"prompt"`

	// model overrides the session's model (or the catalog default) by catalog name.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$`
	Model string `json:"model,omitempty"`

	// profile overrides the session's profile (or the platform default) by name.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$`
	Profile string `json:"profile,omitempty"`

	// mode overrides the session's defaultMode. Without a session the default is ReadOnly.
	// +optional
	Mode *Mode `json:"mode,omitempty"`

	// maxSteps bounds the number of tool calls the agent may make.
	// +optional
	// +kubebuilder:default=20
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	MaxSteps int32 `json:"maxSteps,omitempty"`

	// timeout bounds the whole run, from start to answer.
	// +optional
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10s') && duration(self) <= duration('1h')",message="timeout must be between 10s and 1h"
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// approvals lists the proposed steps the requester approves, each as
	// "<step id>@<digest>" with the digest of the step (status.steps[].digest), so that
	// an approval runs exactly the arguments that were reviewed and nothing else.
	// kubectl ask approve writes them. Only the requester may change it.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MaxLength=80
	// +kubebuilder:validation:XValidation:rule="self.all(a, a.matches('^s[0-9]{1,3}@sha256:[0-9a-f]{64}$'))",message="each approval is <step id>@<digest of the step's arguments>, e.g. s1@sha256:<64 hex digits> (status.steps[].digest; kubectl ask approve writes it)"
	Approvals []string `json:"approvals,omitempty"`

	// denials lists the ids of proposed steps the requester refuses.
	// Only the requester may change it.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MaxLength=16
	Denials []string `json:"denials,omitempty"`

	// cancel, once true, stops the query: a run in progress ends after the tool call in
	// flight (a change being made is finished and recorded, never cut off) and the query
	// ends Cancelled. It cannot be undone. Only the requester may set it
	// (kubectl ask cancel).
	// +optional
	Cancel bool `json:"cancel,omitempty"`

	// requester is the query's creator, stamped by admission. Any value sent by a
	// client is overwritten. Every cluster action of the query is made as this user.
	// +optional
	Requester *Requester `json:"requester,omitempty"`
}

// QueryPhase is where a query is in its life.
// +kubebuilder:validation:Enum=Pending;Running;AwaitingApproval;Succeeded;Failed;Cancelled
type QueryPhase string

const (
	QueryPending          QueryPhase = "Pending"
	QueryRunning          QueryPhase = "Running"
	QueryAwaitingApproval QueryPhase = "AwaitingApproval"
	QuerySucceeded        QueryPhase = "Succeeded"
	QueryFailed           QueryPhase = "Failed"
	QueryCancelled        QueryPhase = "Cancelled"
)

// Finished reports whether the phase is terminal.
func (p QueryPhase) Finished() bool {
	return p == QuerySucceeded || p == QueryFailed || p == QueryCancelled
}

// StepState is where one tool call is in its life.
// +kubebuilder:validation:Enum=Proposed;Approved;Denied;Running;Done;Failed;Unknown
type StepState string

const (
	// StepProposed: a mutating call waits for the requester's approval.
	StepProposed StepState = "Proposed"
	// StepApproved: the requester approved it; it has not started yet.
	StepApproved StepState = "Approved"
	// StepDenied: refused by the requester, the mode or the policy; it never ran.
	StepDenied StepState = "Denied"
	// StepRunning: recorded as started. A mutating step found in this state after a
	// restart has an unknown outcome and is never executed again.
	StepRunning StepState = "Running"
	// StepDone: it ran and returned a result (which may be a readable error such as 403).
	StepDone StepState = "Done"
	// StepFailed: it could not be run.
	StepFailed StepState = "Failed"
	// StepUnknown: a mutating step whose outcome could not be established after a restart.
	StepUnknown StepState = "Unknown"
)

// Step is one tool call of the agent.
type Step struct {
	// id identifies the step within the query, for approvals ("s1", "s2", ...).
	// +required
	// +kubebuilder:validation:MaxLength=16
	ID string `json:"id"`

	// tool is the name of the tool called.
	// +required
	// +kubebuilder:validation:MaxLength=64
	Tool string `json:"tool"`

	// arguments are the call's arguments as JSON, truncated to 2 KiB.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	Arguments string `json:"arguments,omitempty"`

	// digest identifies a proposed change: the SHA-256 of its tool and its full
	// arguments ("sha256:<hex>"). An approval names it, and the step runs only with the
	// arguments it names.
	// +optional
	// +kubebuilder:validation:MaxLength=71
	Digest string `json:"digest,omitempty"`

	// fullArguments are the complete arguments of a proposed change (at most 256 KiB),
	// kept while it waits for a decision so that the requester can review exactly what
	// would run (kubectl ask approve) and the approved change runs in full. They are
	// removed once it is decided.
	// +optional
	// +kubebuilder:validation:MaxLength=262144
	FullArguments string `json:"fullArguments,omitempty"`

	// readOnly is true for tools that cannot change the cluster.
	// +optional
	ReadOnly bool `json:"readOnly,omitempty"`

	// state of the step.
	// +required
	State StepState `json:"state"`

	// output summarizes the result, truncated to 2 KiB.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	Output string `json:"output,omitempty"`

	// truncated is true when arguments or output were cut to fit.
	// +optional
	Truncated bool `json:"truncated,omitempty"`

	// error says why the call failed or was refused (for example the API server's 403).
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Error string `json:"error,omitempty"`

	// startTime is when the step was recorded as started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// duration is how long the call took.
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`
}

// AgentQueryStatus is the observed state of a query: its steps and its answer.
type AgentQueryStatus struct {
	// observedGeneration is the spec generation this status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// phase of the query.
	// +optional
	Phase QueryPhase `json:"phase,omitempty"`

	// model is the catalog name of the model that serves the query. Like profile and
	// mode, it is decided once, when the query is accepted, and kept for every later
	// run of the query (after an approval or a restart).
	// +optional
	Model string `json:"model,omitempty"`

	// profile is the name of the profile the query runs with.
	// +optional
	Profile string `json:"profile,omitempty"`

	// mode is the effective mode of the query.
	// +optional
	Mode Mode `json:"mode,omitempty"`

	// answer is the agent's answer, in markdown, truncated to 64 KiB.
	// +optional
	// +kubebuilder:validation:MaxLength=65536
	Answer string `json:"answer,omitempty"`

	// summary is the first line of the answer (or of the failure), for listings.
	// +optional
	// +kubebuilder:validation:MaxLength=120
	Summary string `json:"summary,omitempty"`

	// steps are the tool calls, in order.
	// +optional
	// +listType=map
	// +listMapKey=id
	// +kubebuilder:validation:MaxItems=100
	Steps []Step `json:"steps,omitempty"`

	// usage counts tokens and calls of this query.
	// +optional
	Usage Usage `json:"usage,omitempty"`

	// startTime is when the agent started working on the query.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// approvalWait is the time the query spent waiting for its requester to approve or
	// deny proposed steps. spec.timeout counts from startTime and leaves it out.
	// +optional
	ApprovalWait *metav1.Duration `json:"approvalWait,omitempty"`

	// runID names the run that holds the query. A run claims the query by writing its
	// own runID with a write conditional on the resourceVersion it read, and writes the
	// status only while runID is still its own: a replica that lost the query (a paused
	// leader) can neither overwrite a newer record nor start a change. See
	// docs/agent.md, "Crash safety".
	// +optional
	// +kubebuilder:validation:MaxLength=128
	RunID string `json:"runID,omitempty"`

	// completionTime is when the query reached a terminal phase.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// conditions describe the query's state in detail.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// AgentQuery is one question to the agent, answered by the operator acting as the
// query's requester.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=aq,categories=kubeask
// +kubebuilder:printcolumn:name="Session",type=string,JSONPath=`.spec.sessionRef.name`
// +kubebuilder:printcolumn:name="Requester",type=string,JSONPath=`.spec.requester.username`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Answer",type=string,JSONPath=`.status.summary`
// +kubebuilder:printcolumn:name="Model",type=string,JSONPath=`.status.model`,priority=1
// +kubebuilder:selectablefield:JSONPath=`.status.phase`
// +kubebuilder:selectablefield:JSONPath=`.spec.sessionRef.name`
// +kubebuilder:selectablefield:JSONPath=`.spec.requester.username`
type AgentQuery struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec AgentQuerySpec `json:"spec"`
	// +optional
	Status AgentQueryStatus `json:"status,omitempty"`
}

// AgentQueryList is a list of AgentQueries.
//
// +kubebuilder:object:root=true
type AgentQueryList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AgentQuery `json:"items"`
}

package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Labels and annotations the operator puts on the queries a trigger creates.
const (
	// LabelTrigger names the AgentTrigger that created a query.
	LabelTrigger = "agents.kubeask.dev/trigger"
	// LabelTriggerKey is a hash of what the query is about (an involved object and a
	// reason, an alert group, a schedule time), for de-duplication.
	LabelTriggerKey = "agents.kubeask.dev/trigger-key"
	// AnnotationTriggerSource describes what fired the query, for people.
	AnnotationTriggerSource = "agents.kubeask.dev/trigger-source"
	// AnnotationInvolvedObject is "apiVersion/kind/namespace/name" of the object an
	// event-fired query is about; its answer is also recorded as an Event on it.
	AnnotationInvolvedObject = "agents.kubeask.dev/involved-object"
	// AnnotationNotified records that the answer of a finished query was delivered
	// (or that delivery gave up), so a restart never delivers it twice.
	AnnotationNotified = "agents.kubeask.dev/notified"
	// AnnotationAlertResolved records when Alertmanager said the alert group of an
	// alert-fired query resolved.
	AnnotationAlertResolved = "agents.kubeask.dev/alert-resolved"
)

// ConcurrencyPolicy says what a scheduled trigger does when its previous query is
// still running, as in a CronJob.
// +kubebuilder:validation:Enum=Allow;Forbid;Replace
type ConcurrencyPolicy string

const (
	// ConcurrencyAllow runs queries side by side.
	ConcurrencyAllow ConcurrencyPolicy = "Allow"
	// ConcurrencyForbid skips a run while the previous query is unfinished.
	ConcurrencyForbid ConcurrencyPolicy = "Forbid"
	// ConcurrencyReplace deletes the unfinished query (cancelling it) and starts a new one.
	ConcurrencyReplace ConcurrencyPolicy = "Replace"
)

// ScheduleSource fires the trigger on a cron schedule, with CronJob semantics.
type ScheduleSource struct {
	// cron is a standard five-field cron expression (minute hour day-of-month month
	// day-of-week) or one of @yearly, @annually, @monthly, @weekly, @daily, @midnight,
	// @hourly. Time zones go in timeZone, not in the expression.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches('^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$') || self.matches('^[ ]*(([*]|[0-5]?[0-9](-[0-5]?[0-9])?)(/(0?[1-9]|[1-9][0-9]))?)(,([*]|[0-5]?[0-9](-[0-5]?[0-9])?)(/(0?[1-9]|[1-9][0-9]))?)*[ ]+(([*]|([01]?[0-9]|2[0-3])(-([01]?[0-9]|2[0-3]))?)(/(0?[1-9]|[1-9][0-9]))?)(,([*]|([01]?[0-9]|2[0-3])(-([01]?[0-9]|2[0-3]))?)(/(0?[1-9]|[1-9][0-9]))?)*[ ]+(([*]|[?]|(0?[1-9]|[12][0-9]|3[01])(-(0?[1-9]|[12][0-9]|3[01]))?)(/(0?[1-9]|[1-9][0-9]))?)(,([*]|[?]|(0?[1-9]|[12][0-9]|3[01])(-(0?[1-9]|[12][0-9]|3[01]))?)(/(0?[1-9]|[1-9][0-9]))?)*[ ]+(([*]|(0?[1-9]|1[0-2]|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))(-(0?[1-9]|1[0-2]|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)))?)(/(0?[1-9]|[1-9][0-9]))?)(,([*]|(0?[1-9]|1[0-2]|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))(-(0?[1-9]|1[0-2]|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)))?)(/(0?[1-9]|[1-9][0-9]))?)*[ ]+(([*]|[?]|(0?[0-6]|(?i:sun|mon|tue|wed|thu|fri|sat))(-(0?[0-6]|(?i:sun|mon|tue|wed|thu|fri|sat)))?)(/(0?[1-9]|[1-9][0-9]))?)(,([*]|[?]|(0?[0-6]|(?i:sun|mon|tue|wed|thu|fri|sat))(-(0?[0-6]|(?i:sun|mon|tue|wed|thu|fri|sat)))?)(/(0?[1-9]|[1-9][0-9]))?)*[ ]*$')",message="cron must be five fields (minute 0-59, hour 0-23, day of month 1-31, month 1-12 or jan-dec, day of week 0-6 (0 is Sunday) or sun-sat; each *, a value, a range a-b, a list a,b or a step /n, n from 1 to 99) or one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly; put the time zone in timeZone"
	Cron string `json:"cron"`

	// timeZone is an IANA time zone name such as "Europe/Paris". Empty means UTC.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$`
	TimeZone string `json:"timeZone,omitempty"`

	// concurrencyPolicy: Allow, Forbid (skip a run while the last query is unfinished)
	// or Replace (delete the unfinished query and start a new one).
	// +optional
	// +kubebuilder:default=Forbid
	ConcurrencyPolicy ConcurrencyPolicy `json:"concurrencyPolicy,omitempty"`

	// startingDeadlineSeconds: a run missed by more than this (the operator was down)
	// is skipped. Unset runs the latest missed run however late.
	// +optional
	// +kubebuilder:validation:Minimum=1
	StartingDeadlineSeconds *int64 `json:"startingDeadlineSeconds,omitempty"`
}

// InvolvedObjectFilter selects events by the object they are about.
type InvolvedObjectFilter struct {
	// kinds of the involved object, for example Pod or Deployment. Empty means any kind.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[A-Z][A-Za-z0-9]*$`
	Kinds []string `json:"kinds,omitempty"`

	// namePatterns are shell patterns (path.Match: *, ?, [a-z]) for the involved
	// object's name, for example "checkout-*". Empty means any name.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:Pattern=`^[-a-z0-9.*?\[\]]+$`
	NamePatterns []string `json:"namePatterns,omitempty"`
}

// EventSource fires the trigger on Kubernetes Events.
type EventSource struct {
	// namespaceSelector selects the namespaces whose events count. Unset means the
	// trigger's own namespace. Events of a namespace the requester may not read never
	// fire the trigger.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`

	// type of the events. Only Warning events are watched, to keep the operator's
	// view of events small.
	// +optional
	// +kubebuilder:default=Warning
	// +kubebuilder:validation:Enum=Warning
	Type string `json:"type,omitempty"`

	// reasons the events must have, for example BackOff, FailedScheduling, OOMKilling,
	// Unhealthy, FailedMount. Empty means any reason.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=128
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z][A-Za-z0-9]*$`
	Reasons []string `json:"reasons,omitempty"`

	// involvedObject filters events by the object they are about.
	// +optional
	InvolvedObject InvolvedObjectFilter `json:"involvedObject,omitempty"`

	// cooldown: at most one query per involved object and reason within this window.
	// +optional
	// +kubebuilder:default="1h"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m') && duration(self) <= duration('168h')",message="cooldown must be between 1m and 168h"
	Cooldown *metav1.Duration `json:"cooldown,omitempty"`

	// maxQueriesPerHour bounds the queries this trigger creates in any hour.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	MaxQueriesPerHour int32 `json:"maxQueriesPerHour,omitempty"`
}

// SecretKeySelector is one key of a Secret in the trigger's namespace. It is always
// read as the trigger's requester, so a trigger can only use Secrets its author may read.
type SecretKeySelector struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// key in the Secret's data.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

// MatchOperator compares an alert label with a value, as in Alertmanager's matchers.
// +kubebuilder:validation:Enum="=";"!=";"=~";"!~"
type MatchOperator string

const (
	MatchEqual    MatchOperator = "="
	MatchNotEqual MatchOperator = "!="
	MatchRegexp   MatchOperator = "=~"
	MatchNotRegex MatchOperator = "!~"
)

// AlertMatcher matches one alert label, like an Alertmanager matcher `name op "value"`.
// Regular expressions are anchored at both ends, as in Alertmanager.
type AlertMatcher struct {
	// name of the label.
	// +required
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[a-zA-Z_][a-zA-Z0-9_]*$`
	Name string `json:"name"`
	// op is =, !=, =~ or !~.
	// +optional
	// +kubebuilder:default="="
	Op MatchOperator `json:"op,omitempty"`
	// value to compare with, a regular expression (RE2) for =~ and !~.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Value string `json:"value"`
}

// AlertSource fires the trigger on alerts that Alertmanager posts to the manager's
// receiver at /alerts/<namespace>/<trigger>.
type AlertSource struct {
	// tokenSecretRef holds the bearer token Alertmanager must send
	// (http_config.authorization.credentials). It is read as the trigger's requester.
	// +required
	TokenSecretRef SecretKeySelector `json:"tokenSecretRef"`

	// matchers select the alerts that count; all must match. Empty means every alert
	// posted to this trigger.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	Matchers []AlertMatcher `json:"matchers,omitempty"`

	// maxQueriesPerHour bounds the queries this trigger creates in any hour.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	MaxQueriesPerHour int32 `json:"maxQueriesPerHour,omitempty"`
}

// QueryTemplate is the AgentQuery a trigger creates each time it fires.
type QueryTemplate struct {
	// prompt is a Go text/template rendered over what fired the trigger (see
	// docs/triggers.md for the data model: .Object, .Namespace, .Reason, .Message,
	// .Event, .Alerts, .Time, ...). Values are plain text: no function can read files
	// or the environment, and the rendered prompt is cut to 16 KiB.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=8192
	// +kubebuilder:validation:XValidation:rule="!self.matches('[{][{]-?[[:space:]]*(define|template|block|call)[^a-zA-Z0-9_]')",message="prompt may not use define, template, block or call"
	// +kubebuilder:validation:XValidation:rule="size(self.findAll('[{][{]-?[[:space:]]*(if|range|with)[^a-zA-Z0-9_]')) == size(self.findAll('[{][{]-?[[:space:]]*end[[:space:]]*-?[}][}]'))",message="prompt has an if, range or with without its {{end}} (or an {{end}} too many)"
	// +kubebuilder:validation:XValidation:rule="!self.matches('[{][{]([^}]|[}][^}])*[}]?$')",message="prompt has unbalanced {{ and }}: a {{ with no }} after it"
	Prompt string `json:"prompt"`

	// mode of the queries. Auto is refused unless the platform allows it for triggers.
	// +optional
	// +kubebuilder:default=ReadOnly
	Mode Mode `json:"mode,omitempty"`

	// model by catalog name; empty means the session's or the catalog's default.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$`
	Model string `json:"model,omitempty"`

	// profile by name; empty means the session's or the platform's default.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$`
	Profile string `json:"profile,omitempty"`

	// maxSteps bounds each query's tool calls.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	MaxSteps int32 `json:"maxSteps,omitempty"`

	// timeout bounds each query's run.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10s') && duration(self) <= duration('1h')",message="timeout must be between 10s and 1h"
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// sessionRef collects the trigger's queries in one session (which the requester
	// must be able to read).
	// +optional
	SessionRef *SessionReference `json:"sessionRef,omitempty"`
}

// WebhookTarget is an HTTP endpoint whose URL is kept in a Secret.
type WebhookTarget struct {
	// urlSecretRef holds the URL (https, or http for in-cluster receivers).
	// +required
	URLSecretRef SecretKeySelector `json:"urlSecretRef"`
	// tokenSecretRef, when set, holds a bearer token sent as "Authorization: Bearer".
	// +optional
	TokenSecretRef *SecretKeySelector `json:"tokenSecretRef,omitempty"`
}

// Notify says where a finished query's answer goes. A Kubernetes Event on the
// involved object (or on the trigger) is always recorded.
type Notify struct {
	// webhook receives a JSON document (see docs/triggers.md).
	// +optional
	Webhook *WebhookTarget `json:"webhook,omitempty"`
	// slack is a Slack-compatible incoming webhook ({"text": ...}).
	// +optional
	Slack *WebhookTarget `json:"slack,omitempty"`
}

// AgentTriggerSpec says when the agent investigates, what it is asked, and where the
// answer goes. Only its requester may change it (anyone allowed to update it may
// suspend or resume it).
// +kubebuilder:validation:XValidation:rule="[has(self.schedule), has(self.events), has(self.alerts)].filter(x, x).size() == 1",message="set exactly one of schedule, events and alerts"
// +kubebuilder:validation:XValidation:rule="has(self.requester) == has(oldSelf.requester) && (!has(self.requester) || self.requester == oldSelf.requester)",message="requester is set by admission and is immutable"
type AgentTriggerSpec struct {
	// schedule fires the trigger on a cron schedule.
	// +optional
	Schedule *ScheduleSource `json:"schedule,omitempty"`
	// events fires the trigger on Kubernetes Events.
	// +optional
	Events *EventSource `json:"events,omitempty"`
	// alerts fires the trigger on Alertmanager alerts.
	// +optional
	Alerts *AlertSource `json:"alerts,omitempty"`

	// query is the template of the queries the trigger creates.
	// +required
	Query QueryTemplate `json:"query"`

	// notify says where answers go besides an Event.
	// +optional
	Notify *Notify `json:"notify,omitempty"`

	// suspend stops the trigger from firing; it does not touch queries already created.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// successfulQueriesHistoryLimit is how many succeeded queries to keep.
	// +optional
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	SuccessfulQueriesHistoryLimit *int32 `json:"successfulQueriesHistoryLimit,omitempty"`

	// failedQueriesHistoryLimit is how many failed or cancelled queries to keep.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	FailedQueriesHistoryLimit *int32 `json:"failedQueriesHistoryLimit,omitempty"`

	// requester is the trigger's creator, stamped by admission. Every query the trigger
	// creates is created, and runs, as this user.
	// +optional
	Requester *Requester `json:"requester,omitempty"`
}

// AgentTriggerStatus is what the trigger has done.
type AgentTriggerStatus struct {
	// observedGeneration is the spec generation last validated.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// lastFireTime is when the trigger last created a query (for a schedule, the
	// scheduled time of that run).
	// +optional
	LastFireTime *metav1.Time `json:"lastFireTime,omitempty"`

	// lastQuery is the name of the query created last.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	LastQuery string `json:"lastQuery,omitempty"`

	// active are the trigger's unfinished queries.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	Active []string `json:"active,omitempty"`

	// fired counts the queries created.
	// +optional
	Fired int64 `json:"fired,omitempty"`
	// suppressedByCooldown counts firings skipped because the same object and reason
	// (or the same alert group) already had a query within the cooldown.
	// +optional
	SuppressedByCooldown int64 `json:"suppressedByCooldown,omitempty"`
	// suppressedByLimit counts firings skipped by maxQueriesPerHour or the
	// concurrency policy.
	// +optional
	SuppressedByLimit int64 `json:"suppressedByLimit,omitempty"`
	// suppressedNotReadable counts events that matched but that the requester may not
	// read, so they never reach a prompt.
	// +optional
	SuppressedNotReadable int64 `json:"suppressedNotReadable,omitempty"`
	// deliveries counts answers delivered to every notify target.
	// +optional
	Deliveries int64 `json:"deliveries,omitempty"`
	// failedDeliveries counts answers whose delivery failed after its retries.
	// +optional
	FailedDeliveries int64 `json:"failedDeliveries,omitempty"`
	// lastDeliveryError says why the last failed delivery failed.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	LastDeliveryError string `json:"lastDeliveryError,omitempty"`

	// conditions: Ready says whether the trigger can fire and, if not, why.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// AgentTrigger makes the agent investigate on its own — on a schedule, on cluster
// events or on alerts — always as the person who set the trigger up.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=at,categories=kubeask
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule.cron`
// +kubebuilder:printcolumn:name="Events",type=string,JSONPath=`.spec.events.reasons`
// +kubebuilder:printcolumn:name="Requester",type=string,JSONPath=`.spec.requester.username`
// +kubebuilder:printcolumn:name="Suspend",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Fired",type=integer,JSONPath=`.status.fired`
// +kubebuilder:printcolumn:name="Last Fire",type=date,JSONPath=`.status.lastFireTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:selectablefield:JSONPath=`.spec.requester.username`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 52",message="an AgentTrigger name may have at most 52 characters (its queries are named after it, as a CronJob's Jobs are)"
type AgentTrigger struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec AgentTriggerSpec `json:"spec"`
	// +optional
	Status AgentTriggerStatus `json:"status,omitempty"`
}

// AgentTriggerList is a list of AgentTriggers.
//
// +kubebuilder:object:root=true
type AgentTriggerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AgentTrigger `json:"items"`
}

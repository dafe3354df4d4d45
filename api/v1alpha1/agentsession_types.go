package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AgentSessionSpec is what a session's creator asks for. Every field but requester may
// be changed later, model, profile and defaultMode by the creator only (admission
// enforces it); a query takes them once, when it is accepted.
// +kubebuilder:validation:XValidation:rule="has(self.requester) == has(oldSelf.requester) && (!has(self.requester) || self.requester == oldSelf.requester)",message="requester is set by admission and is immutable"
type AgentSessionSpec struct {
	// model names an entry of the platform's model catalog. Empty means the catalog's default.
	// Users pick a model by name only, never an endpoint or a key.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$`
	Model string `json:"model,omitempty"`

	// profile names a platform-defined profile (system prompt, tool set, data policy).
	// Empty means the platform's default profile. A profile that reveals Secret values
	// applies only to the queries of the session's requester.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$`
	Profile string `json:"profile,omitempty"`

	// defaultMode applies to queries of this session that do not set their own mode.
	// Auto applies only to the queries of the session's requester: anyone else's query
	// runs in Propose instead, since they did not choose to have changes made unasked.
	// +optional
	// +kubebuilder:default=ReadOnly
	DefaultMode Mode `json:"defaultMode,omitempty"`

	// historyLimit is how many earlier queries of the session are given to the model as context.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	HistoryLimit *int32 `json:"historyLimit,omitempty"`

	// ttlSecondsAfterIdle deletes the session (and its queries) this long after its last
	// activity. Unset keeps it until it is deleted.
	// +optional
	// +kubebuilder:validation:Minimum=60
	TTLSecondsAfterIdle *int64 `json:"ttlSecondsAfterIdle,omitempty"`

	// requester is the session's creator, stamped by admission. Any value sent by a
	// client is overwritten.
	// +optional
	Requester *Requester `json:"requester,omitempty"`
}

// AgentSessionStatus is the observed state of a session.
type AgentSessionStatus struct {
	// observedGeneration is the spec generation this status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// queries is the number of queries in the session.
	// +optional
	Queries int32 `json:"queries,omitempty"`

	// participants are the usernames that have asked in this session, oldest first.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	Participants []string `json:"participants,omitempty"`

	// lastActivityTime is when a query of the session was last created or finished.
	// +optional
	LastActivityTime *metav1.Time `json:"lastActivityTime,omitempty"`

	// usage sums the usage of the session's queries.
	// +optional
	Usage Usage `json:"usage,omitempty"`

	// conditions describe the session's state.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// AgentSession is a shared conversation with the agent. Several people may add queries
// to it; each query still acts only as its own requester.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=as,categories=kubeask
// +kubebuilder:printcolumn:name="Model",type=string,JSONPath=`.spec.model`
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.defaultMode`
// +kubebuilder:printcolumn:name="Queries",type=integer,JSONPath=`.status.queries`
// +kubebuilder:printcolumn:name="Last Activity",type=date,JSONPath=`.status.lastActivityTime`
// +kubebuilder:printcolumn:name="Owner",type=string,JSONPath=`.spec.requester.username`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:selectablefield:JSONPath=`.spec.requester.username`
type AgentSession struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec defaults to {} so that admission can always stamp spec.requester.
	// +optional
	// +kubebuilder:default={}
	Spec AgentSessionSpec `json:"spec,omitempty"`
	// +optional
	Status AgentSessionStatus `json:"status,omitempty"`
}

// AgentSessionList is a list of AgentSessions.
//
// +kubebuilder:object:root=true
type AgentSessionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AgentSession `json:"items"`
}

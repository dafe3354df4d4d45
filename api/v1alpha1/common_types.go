package v1alpha1

// Mode says what the agent may do with mutating tools.
// +kubebuilder:validation:Enum=ReadOnly;Propose;Auto
type Mode string

const (
	// ModeReadOnly refuses every mutating tool call and tells the model why.
	ModeReadOnly Mode = "ReadOnly"
	// ModePropose records a mutating call as a proposed step that runs only once the
	// requester approves it in spec.approvals.
	ModePropose Mode = "Propose"
	// ModeAuto runs mutating calls straight away, as the requester.
	ModeAuto Mode = "Auto"
)

// Requester is the Kubernetes identity of the person who created an object. It is
// stamped by admission from the request's authenticated user and can never be set or
// changed by a user; every cluster action taken for the object impersonates it.
type Requester struct {
	// username is the authenticated user name, for example "alice" or
	// "system:serviceaccount:ci:deployer".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Username string `json:"username"`

	// uid is the authenticator's unique id for the user, when it gives one.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	UID string `json:"uid,omitempty"`

	// groups are the user's groups as the authenticator reported them.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=1024
	Groups []string `json:"groups,omitempty"`

	// extra holds the authenticator's additional user attributes (scopes, credential ids, ...).
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	Extra map[string]ExtraValue `json:"extra,omitempty"`
}

// ExtraValue is the list of values of one extra user attribute.
// +listType=atomic
// +kubebuilder:validation:MaxItems=64
// +kubebuilder:validation:items:MaxLength=1024
type ExtraValue []string

// Usage counts what a query or a session has consumed.
type Usage struct {
	// inputTokens is the number of prompt tokens sent to the model.
	// +optional
	InputTokens int64 `json:"inputTokens,omitempty"`
	// outputTokens is the number of tokens the model generated.
	// +optional
	OutputTokens int64 `json:"outputTokens,omitempty"`
	// llmCalls is the number of model requests made.
	// +optional
	LLMCalls int32 `json:"llmCalls,omitempty"`
	// toolCalls is the number of tool calls the model asked for.
	// +optional
	ToolCalls int32 `json:"toolCalls,omitempty"`
}

// Add returns the sum of two usages.
func (u Usage) Add(o Usage) Usage {
	return Usage{
		InputTokens:  u.InputTokens + o.InputTokens,
		OutputTokens: u.OutputTokens + o.OutputTokens,
		LLMCalls:     u.LLMCalls + o.LLMCalls,
		ToolCalls:    u.ToolCalls + o.ToolCalls,
	}
}

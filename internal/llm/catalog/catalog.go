// Package catalog reads the platform team's model catalog: which models users may pick
// by name (provider, endpoint, key Secret, limits), the profiles (system prompt, tool
// allow-list, data policy, modes) and the per-requester limits. It builds llm.Clients
// for catalog models; users never see an endpoint or a key.
//
// The file is YAML or JSON:
//
//	defaultModel: gemini-flash
//	defaultProfile: troubleshoot
//	models:
//	- name: gemini-flash
//	  provider: gemini
//	  model: gemini-2.5-flash
//	  apiKeySecretRef: {name: kubeask-llm-keys, key: gemini}
//	  limits: {maxTokens: 8192, requestsPerMinute: 60}
//	- name: local-llama
//	  provider: openai
//	  model: llama3.1:8b
//	  baseURL: http://ollama.ai.svc:11434/v1
//	  timeout: 5m
//	  allowedGroups: [ml-team]  # only they may pick it (empty: everyone)
//	profiles:
//	- name: troubleshoot        # overrides the built-in profile of that name
//	  tools: []                 # empty: every tool (the mode gates changes)
//	  allowSecretValues: false  # true: never the default, and only on request
//	  modes: [ReadOnly]
//	  allowedUsers: []          # with allowedGroups: who may use it (empty: everyone)
//	limits:
//	  default: {queriesPerHour: 30, tokensPerDay: 2000000}
//	  groups:
//	  - {name: sre, queriesPerHour: 200, tokensPerDay: 0}   # 0: unlimited
//	  users:
//	  - {name: ci-bot, queriesPerHour: 5}
//	triggers:
//	  allowAutoMode: false      # AgentTriggers may not create Auto queries
package catalog

import (
	"fmt"
	"os"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// Catalog is the parsed file. Use Parse or Load, which also validate it and add the
// built-in profile.
type Catalog struct {
	// DefaultModel names the model used when a session or query names none. Required
	// when there are models.
	DefaultModel string `json:"defaultModel"`
	// DefaultProfile names the profile used when none is named. Empty means the
	// built-in "troubleshoot" profile.
	DefaultProfile string `json:"defaultProfile,omitempty"`
	// Models are the models users may pick by name.
	Models []Model `json:"models"`
	// Profiles are the profiles users may pick by name, besides the built-in one.
	Profiles []Profile `json:"profiles,omitempty"`
	// Limits are per-requester usage limits.
	Limits Limits `json:"limits,omitempty"`
	// Triggers is the platform's policy for AgentTriggers.
	Triggers TriggerPolicy `json:"triggers,omitempty"`
}

// TriggerPolicy is what the platform lets AgentTriggers do.
type TriggerPolicy struct {
	// AllowAutoMode lets triggers create queries in Auto mode, whose changes run
	// unattended as the trigger's author. Off by default: a trigger's queries then run
	// ReadOnly or Propose (changes wait for the author's approval).
	AllowAutoMode bool `json:"allowAutoMode,omitempty"`
}

// Provider names an llm sub-package.
type Provider string

const (
	ProviderGemini    Provider = "gemini"
	ProviderOpenAI    Provider = "openai"
	ProviderAnthropic Provider = "anthropic"
)

// Model is one entry users can pick.
type Model struct {
	// Name is what users write in spec.model.
	Name     string   `json:"name"`
	Provider Provider `json:"provider"`
	// Model is the provider's model id.
	Model string `json:"model"`
	// BaseURL overrides the provider's endpoint (OpenAI-compatible servers, proxies,
	// Azure OpenAI's v1 endpoint).
	BaseURL string `json:"baseURL,omitempty"`
	// APIKeySecretRef names the Secret, in the operator's namespace, holding the API
	// key. Optional for openai and anthropic (local servers, gateways that add the key),
	// required for gemini unless vertexAI is set.
	APIKeySecretRef *SecretKeyRef `json:"apiKeySecretRef,omitempty"`
	// VertexAI sends a gemini model through Vertex AI with the pod's Google credentials.
	VertexAI *VertexAI `json:"vertexAI,omitempty"`
	// Limits bound the model's use.
	Limits ModelLimits `json:"limits,omitempty"`
	// Timeout bounds one model call, retries included. Zero means llm.DefaultTimeout.
	Timeout metav1.Duration `json:"timeout,omitempty"`
	// Access says who may use the model; empty lets everyone.
	Access `json:",inline"`
}

// SecretKeyRef is one key of a Secret in the operator's namespace.
type SecretKeyRef struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

func (r SecretKeyRef) String() string { return r.Name + "/" + r.Key }

// VertexAI selects a Google Cloud project and location.
type VertexAI struct {
	Project  string `json:"project"`
	Location string `json:"location"`
}

// ModelLimits bound one model.
type ModelLimits struct {
	// MaxTokens bounds each reply. Zero leaves it to the provider (Anthropic: 4096).
	MaxTokens int `json:"maxTokens,omitempty"`
	// RequestsPerMinute paces calls to the model across all queries of this manager
	// replica. Zero means unlimited.
	RequestsPerMinute int `json:"requestsPerMinute,omitempty"`
}

// Profile is a named way to run the agent.
type Profile struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// SystemPrompt is the model's instructions. Empty means DefaultSystemPrompt.
	SystemPrompt string `json:"systemPrompt,omitempty"`
	// Tools allow-lists tool names. Empty means every tool; the query's mode still
	// decides whether a tool that changes the cluster may run.
	Tools []string `json:"tools,omitempty"`
	// AllowSecretValues lets Secret data reach the model when the query also asks for
	// it. False redacts it whatever the query says.
	AllowSecretValues bool `json:"allowSecretValues,omitempty"`
	// Modes are the modes queries with this profile may use. Empty means ReadOnly only.
	Modes []agentsv1alpha1.Mode `json:"modes,omitempty"`
	// Access says who may use the profile; empty lets everyone.
	Access `json:",inline"`
}

// Access limits a model or a profile to some requesters. With both lists empty everyone
// may use it; otherwise a requester named in allowedUsers or in one of allowedGroups.
// It is checked against the requester stamped on the query by admission, so nobody can
// claim a group they are not in.
type Access struct {
	AllowedUsers  []string `json:"allowedUsers,omitempty"`
	AllowedGroups []string `json:"allowedGroups,omitempty"`
}

// Permits reports whether the requester user, member of groups, may use it.
func (a Access) Permits(user string, groups []string) bool {
	if len(a.AllowedUsers) == 0 && len(a.AllowedGroups) == 0 {
		return true
	}
	if slices.Contains(a.AllowedUsers, user) {
		return true
	}
	for _, g := range groups {
		if slices.Contains(a.AllowedGroups, g) {
			return true
		}
	}
	return false
}

// AllowsMode reports whether queries with this profile may run in mode m.
func (p Profile) AllowsMode(m agentsv1alpha1.Mode) bool {
	if len(p.Modes) == 0 {
		return m == agentsv1alpha1.ModeReadOnly
	}
	for _, allowed := range p.Modes {
		if allowed == m {
			return true
		}
	}
	return false
}

// Prompt is the system prompt to send.
func (p Profile) Prompt() string {
	if p.SystemPrompt == "" {
		return DefaultSystemPrompt
	}
	return p.SystemPrompt
}

// Limits are per-requester usage limits. A user entry replaces the default for that
// user; otherwise the most generous of the user's group entries applies; otherwise the
// default.
type Limits struct {
	Default Quota          `json:"default,omitempty"`
	Users   []SubjectQuota `json:"users,omitempty"`
	Groups  []SubjectQuota `json:"groups,omitempty"`
}

// Quota is what one requester may use. Zero means unlimited.
type Quota struct {
	QueriesPerHour int64 `json:"queriesPerHour,omitempty"`
	TokensPerDay   int64 `json:"tokensPerDay,omitempty"`
}

// SubjectQuota is the quota of one user or group.
type SubjectQuota struct {
	Name  string `json:"name"`
	Quota `json:",inline"`
}

// Parse reads a catalog from YAML or JSON, rejecting unknown fields and duplicate keys,
// adds the built-in profile and validates the result. The error lists every problem.
func Parse(data []byte) (*Catalog, error) {
	var c Catalog
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("model catalog: %w", err)
	}
	c.addBuiltinProfile()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Load reads and parses the catalog file at path.
func Load(path string) (*Catalog, error) {
	data, err := os.ReadFile(path) //nolint:gosec // G304: the platform's own --config file, named by the operator's flags
	if err != nil {
		return nil, fmt.Errorf("model catalog: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Model returns the model called name, the default when name is empty.
func (c *Catalog) Model(name string) (*Model, error) {
	if name == "" {
		name = c.DefaultModel
	}
	for i := range c.Models {
		if c.Models[i].Name == name {
			return &c.Models[i], nil
		}
	}
	return nil, &Error{Reason: ReasonUnknownModel, Name: name, Known: c.modelNames()}
}

// Profile returns the profile called name, the default when name is empty.
func (c *Catalog) Profile(name string) (*Profile, error) {
	if name == "" {
		name = c.defaultProfile()
	}
	for i := range c.Profiles {
		if c.Profiles[i].Name == name {
			return &c.Profiles[i], nil
		}
	}
	known := make([]string, 0, len(c.Profiles))
	for _, p := range c.Profiles {
		known = append(known, p.Name)
	}
	return nil, &Error{Reason: ReasonUnknownProfile, Name: name, Known: known}
}

func (c *Catalog) modelNames() []string {
	names := make([]string, 0, len(c.Models))
	for _, m := range c.Models {
		names = append(names, m.Name)
	}
	return names
}

func (c *Catalog) defaultProfile() string {
	if c.DefaultProfile == "" {
		return BuiltinProfileName
	}
	return c.DefaultProfile
}

// addBuiltinProfile appends the built-in profile unless the file defines one with its
// name, so there is always a safe default.
func (c *Catalog) addBuiltinProfile() {
	for _, p := range c.Profiles {
		if p.Name == BuiltinProfileName {
			return
		}
	}
	c.Profiles = append(c.Profiles, BuiltinProfile())
}

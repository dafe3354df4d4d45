package catalog

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

const fullCatalog = `
defaultModel: gemini-flash
defaultProfile: ops
models:
- name: gemini-flash
  provider: gemini
  model: gemini-2.5-flash
  apiKeySecretRef: {name: kubeask-llm-keys, key: gemini}
  limits: {maxTokens: 8192, requestsPerMinute: 60}
- name: gemini-vertex
  provider: gemini
  model: gemini-2.5-pro
  vertexAI: {project: my-project, location: europe-west4}
- name: local-llama
  provider: openai
  model: "llama3.1:8b"
  baseURL: http://ollama.ai.svc:11434/v1
  timeout: 5m
- name: claude
  provider: anthropic
  model: claude-sonnet-4-5
  apiKeySecretRef: {name: kubeask-llm-keys, key: anthropic}
  allowedGroups: [ml-team]
  allowedUsers: [carol]
profiles:
- name: ops
  description: Operators may propose changes.
  systemPrompt: You are the ops assistant.
  tools: [list_pods, get_logs]
  modes: [ReadOnly, Propose]
- name: secrets
  allowSecretValues: true
  allowedGroups: [sre]
limits:
  default: {queriesPerHour: 30, tokensPerDay: 2000000}
  groups:
  - {name: sre, queriesPerHour: 200, tokensPerDay: 0}
  users:
  - {name: ci-bot, queriesPerHour: 5}
`

func TestParse(t *testing.T) {
	c, err := Parse([]byte(fullCatalog))
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Model("")
	if err != nil || m.Name != "gemini-flash" || m.Limits.RequestsPerMinute != 60 || m.APIKeySecretRef.Key != "gemini" {
		t.Errorf("default model %+v, %v", m, err)
	}
	llama, err := c.Model("local-llama")
	if err != nil || llama.Timeout.Duration != 5*time.Minute || llama.APIKeySecretRef != nil {
		t.Errorf("local-llama %+v, %v", llama, err)
	}

	p, err := c.Profile("")
	if err != nil || p.Name != "ops" || p.Prompt() != "You are the ops assistant." || p.AllowSecretValues ||
		!p.AllowsMode(agentsv1alpha1.ModePropose) || p.AllowsMode(agentsv1alpha1.ModeAuto) {
		t.Errorf("default profile %+v, %v", p, err)
	}
	// The built-in profile is always there.
	builtin, err := c.Profile(BuiltinProfileName)
	if err != nil || builtin.Prompt() != DefaultSystemPrompt || len(builtin.Tools) != 0 || builtin.AllowSecretValues ||
		!builtin.AllowsMode(agentsv1alpha1.ModeReadOnly) || builtin.AllowsMode(agentsv1alpha1.ModePropose) {
		t.Errorf("built-in profile %+v, %v", builtin, err)
	}
	if q := c.Limits.For("ci-bot", []string{"sre"}); q.QueriesPerHour != 5 || q.TokensPerDay != 0 {
		t.Errorf("ci-bot quota %+v", q)
	}
	secrets, err := c.Profile("secrets")
	if err != nil || !secrets.AllowSecretValues || !slices.Equal(secrets.AllowedGroups, []string{"sre"}) {
		t.Errorf("secrets profile %+v, %v", secrets, err)
	}
	claude, err := c.Model("claude")
	if err != nil || !slices.Equal(claude.AllowedGroups, []string{"ml-team"}) || !slices.Equal(claude.AllowedUsers, []string{"carol"}) {
		t.Errorf("claude %+v, %v", claude, err)
	}
}

func TestAccessPermits(t *testing.T) {
	tests := []struct {
		name   string
		access Access
		user   string
		groups []string
		want   bool
	}{
		{"no lists: everyone", Access{}, "alice", nil, true},
		{"a listed user", Access{AllowedUsers: []string{"alice"}}, "alice", nil, true},
		{"an unlisted user", Access{AllowedUsers: []string{"alice"}}, "bob", []string{"alice"}, false},
		{"a member of a listed group", Access{AllowedGroups: []string{"sre"}}, "bob", []string{"dev", "sre"}, true},
		{"in no listed group", Access{AllowedGroups: []string{"sre"}}, "bob", []string{"dev"}, false},
		{"a group named like the user does not count", Access{AllowedGroups: []string{"bob"}}, "bob", nil, false},
		{"either list", Access{AllowedUsers: []string{"carol"}, AllowedGroups: []string{"sre"}}, "carol", []string{"dev"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.access.Permits(tt.user, tt.groups); got != tt.want {
				t.Errorf("Permits(%q, %v) = %v, want %v", tt.user, tt.groups, got, tt.want)
			}
		})
	}
}

func TestParseMinimal(t *testing.T) {
	c, err := Parse([]byte(`{"defaultModel": "gpt", "models": [{"name": "gpt", "provider": "openai", "model": "gpt-4.1"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Profile("")
	if err != nil || p.Name != BuiltinProfileName {
		t.Errorf("default profile %+v, %v", p, err)
	}
}

func TestParseRejects(t *testing.T) {
	const model = `{name: m, provider: openai, model: gpt-4.1}`
	tests := []struct {
		name string
		yaml string
		want []string // each must appear in the error
	}{
		{"unknown provider", `{defaultModel: m, models: [{name: m, provider: mistral, model: x}]}`,
			[]string{`models[m].provider: unknown provider "mistral"`}},
		{"missing provider and model id", `{defaultModel: m, models: [{name: m}]}`,
			[]string{"models[m].provider: required", "models[m].model: required"}},
		{"missing default", `{models: [` + model + `]}`, []string{"defaultModel: required"}},
		{"default not a model", `{defaultModel: other, models: [` + model + `]}`, []string{`defaultModel: "other" is not a model`}},
		{"duplicate model", `{defaultModel: m, models: [` + model + `, ` + model + `]}`, []string{`duplicate model name "m"`}},
		{"duplicate profile", `{defaultModel: m, models: [` + model + `], profiles: [{name: p}, {name: p}]}`, []string{`duplicate profile name "p"`}},
		{"default profile missing", `{defaultModel: m, defaultProfile: nope, models: [` + model + `]}`, []string{`defaultProfile: "nope" is not a profile`}},
		{"bad name", `{defaultModel: GPT, models: [{name: GPT, provider: openai, model: x}]}`, []string{`models[GPT].name: "GPT" must be`}},
		{"negative max tokens", `{defaultModel: m, models: [{name: m, provider: openai, model: x, limits: {maxTokens: -1}}]}`,
			[]string{"models[m].limits.maxTokens: -1 is out of range"}},
		{"huge requests per minute", `{defaultModel: m, models: [{name: m, provider: openai, model: x, limits: {requestsPerMinute: 100000000}}]}`,
			[]string{"models[m].limits.requestsPerMinute: 100000000 is out of range"}},
		{"timeout too long", `{defaultModel: m, models: [{name: m, provider: openai, model: x, timeout: 3h}]}`, []string{"models[m].timeout: 3h0m0s is out of range"}},
		{"bad timeout", `{defaultModel: m, models: [{name: m, provider: openai, model: x, timeout: soon}]}`, []string{"model catalog:"}},
		{"not a number", `{defaultModel: m, models: [{name: m, provider: openai, model: x, limits: {maxTokens: lots}}]}`, []string{"model catalog:"}},
		{"relative base URL", `{defaultModel: m, models: [{name: m, provider: openai, model: x, baseURL: ollama:11434}]}`, []string{"models[m].baseURL"}},
		{"gemini without key", `{defaultModel: m, models: [{name: m, provider: gemini, model: x}]}`, []string{"models[m].apiKeySecretRef: required"}},
		{"bad secret ref", `{defaultModel: m, models: [{name: m, provider: openai, model: x, apiKeySecretRef: {name: "Bad_Name", key: ""}}]}`,
			[]string{"models[m].apiKeySecretRef.name", "models[m].apiKeySecretRef.key"}},
		{"vertex on openai", `{defaultModel: m, models: [{name: m, provider: openai, model: x, vertexAI: {project: p, location: l}}]}`, []string{"models[m].vertexAI: only for provider gemini"}},
		{"unknown mode", `{defaultModel: m, models: [` + model + `], profiles: [{name: p, modes: [Yolo]}]}`, []string{`profiles[p].modes[0]: unknown mode "Yolo"`}},
		{"bad tool name", `{defaultModel: m, models: [` + model + `], profiles: [{name: p, tools: ["get pods"]}]}`, []string{`profiles[p].tools[0]: "get pods" is not a tool name`}},
		{"negative quota", `{defaultModel: m, models: [` + model + `], limits: {default: {queriesPerHour: -1}, users: [{name: a, tokensPerDay: -2}]}}`,
			[]string{"limits.default.queriesPerHour: -1 is negative", "limits.users[0].tokensPerDay: -2 is negative"}},
		{"duplicate group", `{defaultModel: m, models: [` + model + `], limits: {groups: [{name: g}, {name: g}]}}`, []string{`limits.groups[1].name: duplicate entry "g"`}},
		{"unknown field", `{defaultModel: m, models: [{name: m, provider: openai, model: x, apiKey: sk-plain}]}`, []string{`unknown field "apiKey"`}},
		{"secret-revealing default profile", `{defaultModel: m, defaultProfile: p, models: [` + model + `], profiles: [{name: p, allowSecretValues: true}]}`,
			[]string{`defaultProfile: profile "p" allows Secret values, so it cannot be the default profile`}},
		{"secret-revealing built-in profile", `{defaultModel: m, models: [` + model + `], profiles: [{name: troubleshoot, allowSecretValues: true}]}`,
			[]string{`profiles[troubleshoot].allowSecretValues: profile "troubleshoot" allows Secret values`}},
		{"bad access lists", `{defaultModel: m, models: [{name: m, provider: openai, model: x, allowedUsers: [""]}], profiles: [{name: p, allowedGroups: [sre, sre]}]}`,
			[]string{"models[m].allowedUsers[0]: empty name", `profiles[p].allowedGroups[1]: duplicate entry "sre"`}},
		{"duplicate key", "defaultModel: m\ndefaultModel: n\nmodels: []\n", []string{"model catalog:"}},
		{"not YAML", `{models: [`, []string{"model catalog:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.yaml")
	if err := os.WriteFile(path, []byte(fullCatalog), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("no error for a missing file")
	}
}

func TestUnknownNames(t *testing.T) {
	c, err := Parse([]byte(fullCatalog))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Model("gpt-9")
	var e *Error
	if !errors.As(err, &e) || e.Reason != ReasonUnknownModel {
		t.Fatalf("got %v, want an UnknownModel *Error", err)
	}
	if !strings.Contains(err.Error(), `no model "gpt-9" (available: gemini-flash, gemini-vertex, local-llama, claude)`) {
		t.Errorf("message %q", err)
	}
	_, err = c.Profile("admin")
	if !errors.As(err, &e) || e.Reason != ReasonUnknownProfile || !strings.Contains(err.Error(), `no profile "admin"`) {
		t.Errorf("got %v, want an UnknownProfile *Error", err)
	}
}

func TestLimitsFor(t *testing.T) {
	l := Limits{
		Default: Quota{QueriesPerHour: 10, TokensPerDay: 1000},
		Users:   []SubjectQuota{{Name: "bot", Quota: Quota{QueriesPerHour: 1}}},
		Groups: []SubjectQuota{
			{Name: "dev", Quota: Quota{QueriesPerHour: 20, TokensPerDay: 5000}},
			{Name: "sre", Quota: Quota{QueriesPerHour: 50, TokensPerDay: 0}},
			{Name: "intern", Quota: Quota{QueriesPerHour: 2, TokensPerDay: 9000}},
		},
	}
	tests := []struct {
		name   string
		user   string
		groups []string
		want   Quota
	}{
		{"default", "alice", []string{"system:authenticated"}, Quota{QueriesPerHour: 10, TokensPerDay: 1000}},
		{"one group", "bob", []string{"dev"}, Quota{QueriesPerHour: 20, TokensPerDay: 5000}},
		{"most generous per field", "carol", []string{"dev", "intern"}, Quota{QueriesPerHour: 20, TokensPerDay: 9000}},
		{"unlimited wins", "dave", []string{"intern", "sre"}, Quota{QueriesPerHour: 50, TokensPerDay: 0}},
		{"user entry replaces everything", "bot", []string{"sre"}, Quota{QueriesPerHour: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := l.For(tt.user, tt.groups); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestExample keeps the documented example valid.
func TestExample(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Models) != 6 || len(c.Profiles) != 3 {
		t.Errorf("%d models, %d profiles", len(c.Models), len(c.Profiles))
	}
	p, err := c.Profile("operate")
	if err != nil || !p.AllowsMode(agentsv1alpha1.ModePropose) || !strings.HasPrefix(p.Prompt(), "You are kubeask for the platform team.") {
		t.Errorf("profile %+v, %v", p, err)
	}
	if q := c.Limits.For("system:serviceaccount:ci:deployer", []string{"sre"}); q.QueriesPerHour != 5 {
		t.Errorf("deployer quota %+v", q)
	}
	if p, err := c.Profile("break-glass"); err != nil || !p.AllowSecretValues || p.Permits("alice", []string{"dev"}) || !p.Permits("bob", []string{"sre"}) {
		t.Errorf("break-glass %+v, %v", p, err)
	}
}

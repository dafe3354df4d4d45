package catalog

import (
	"slices"
	"strings"
	"testing"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

const publicCatalog = `
defaultModel: shared
models:
- name: shared
  provider: openai
  model: secret-model-id
  baseURL: http://internal-gateway.ai.svc:8080/v1
  apiKeySecretRef: {name: llm-keys-secret, key: openai-key}
  limits: {maxTokens: 777, requestsPerMinute: 33}
- name: ops-only
  provider: anthropic
  model: claude-internal-id
  apiKeySecretRef: {name: llm-keys-secret, key: anthropic-key}
  allowedGroups: [ops]
profiles:
- name: operate
  description: Operate workloads, with approval.
  systemPrompt: "private instructions"
  tools: [get_resource]
  modes: [ReadOnly, Propose, Auto]
  allowedUsers: [alice]
limits:
  default: {queriesPerHour: 12345}
`

func TestPublicHoldsNothingPrivate(t *testing.T) {
	c, err := Parse([]byte(publicCatalog))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Public([]agentsv1alpha1.Mode{agentsv1alpha1.ModeReadOnly, agentsv1alpha1.ModePropose}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, private := range []string{"internal-gateway", "baseURL", "llm-keys-secret", "openai-key", "apiKeySecretRef", "secret-model-id",
		"claude-internal-id", "anthropic", "provider", "777", "33", "private instructions", "get_resource", "12345", "limits", DefaultSystemPrompt[:20]} {
		if strings.Contains(s, private) {
			t.Errorf("the published catalog contains %q: %s", private, s)
		}
	}
	p, err := ParsePublic(s)
	if err != nil {
		t.Fatal(err)
	}
	if p.DefaultModel != "shared" || p.DefaultProfile != BuiltinProfileName || len(p.Models) != 2 || len(p.Profiles) != 2 {
		t.Fatalf("published: %+v", p)
	}
}

func TestPublicForFiltersByUserAndGroups(t *testing.T) {
	c, err := Parse([]byte(publicCatalog))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Public([]agentsv1alpha1.Mode{agentsv1alpha1.ModeReadOnly, agentsv1alpha1.ModePropose})
	names := func(f *Public) (models, profiles []string) {
		for _, m := range f.Models {
			models = append(models, m.Name)
		}
		for _, pr := range f.Profiles {
			profiles = append(profiles, pr.Name)
		}
		return models, profiles
	}
	alice := p.For("alice", []string{"dev"})
	if m, pr := names(alice); !slices.Equal(m, []string{"shared"}) || !slices.Equal(pr, []string{"operate", BuiltinProfileName}) {
		t.Errorf("alice: models %v profiles %v", m, pr)
	}
	// Auto is in operate's modes but not allowed by the installation.
	if !slices.Equal(alice.AllowedModes, []agentsv1alpha1.Mode{agentsv1alpha1.ModeReadOnly, agentsv1alpha1.ModePropose}) {
		t.Errorf("alice's modes: %v", alice.AllowedModes)
	}
	bob := p.For("bob", []string{"ops"})
	if m, pr := names(bob); !slices.Equal(m, []string{"shared", "ops-only"}) || !slices.Equal(pr, []string{BuiltinProfileName}) {
		t.Errorf("bob: models %v profiles %v", m, pr)
	}
	if !slices.Equal(bob.AllowedModes, []agentsv1alpha1.Mode{agentsv1alpha1.ModeReadOnly}) {
		t.Errorf("bob's modes: %v", bob.AllowedModes)
	}
}

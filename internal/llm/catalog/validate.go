package catalog

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// Bounds of numeric settings: generous, but they catch a misplaced digit.
const (
	maxReplyTokens    = 1_000_000
	maxRequestsPerMin = 1_000_000
	maxTimeout        = time.Hour
)

// catalogName is the pattern of spec.model and spec.profile in the API, so every
// catalog name can actually be asked for.
var catalogName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$`)

// toolName is what every provider accepts as a function name.
var toolName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// Validate checks the catalog and returns every problem found, each prefixed with the
// path of the offending field.
func (c *Catalog) Validate() error {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}

	models := map[string]bool{}
	for i, m := range c.Models {
		path := fmt.Sprintf("models[%d]", i)
		if m.Name != "" {
			path = fmt.Sprintf("models[%s]", m.Name)
		}
		validName(add, path+".name", m.Name)
		validAccess(add, path, m.Access)
		if models[m.Name] {
			add(path+".name", "duplicate model name %q", m.Name)
		}
		models[m.Name] = true
		validModel(add, path, m)
	}
	switch {
	case len(c.Models) > 0 && c.DefaultModel == "":
		add("defaultModel", "required: name the model used when a session or query names none")
	case c.DefaultModel != "" && !models[c.DefaultModel]:
		add("defaultModel", "%q is not a model of the catalog", c.DefaultModel)
	}

	profiles := map[string]bool{}
	for i, p := range c.Profiles {
		path := fmt.Sprintf("profiles[%d]", i)
		if p.Name != "" {
			path = fmt.Sprintf("profiles[%s]", p.Name)
		}
		validName(add, path+".name", p.Name)
		validAccess(add, path, p.Access)
		if profiles[p.Name] {
			add(path+".name", "duplicate profile name %q", p.Name)
		}
		profiles[p.Name] = true
		validProfile(add, path, p)
	}
	if c.DefaultProfile != "" && !profiles[c.DefaultProfile] {
		add("defaultProfile", "%q is not a profile of the catalog", c.DefaultProfile)
	}
	// A query that names no profile must never reveal Secret values: whoever reads its
	// status or its session would see them without anyone having asked for that.
	if p, err := c.Profile(""); err == nil && p.AllowSecretValues {
		path := "defaultProfile"
		if c.DefaultProfile == "" {
			path = fmt.Sprintf("profiles[%s].allowSecretValues", p.Name)
		}
		add(path, "profile %q allows Secret values, so it cannot be the default profile: make a profile without them the default, and let queries that need them name this one", p.Name)
	}

	validQuota(add, "limits.default", c.Limits.Default)
	for _, subjects := range []struct {
		kind string
		list []SubjectQuota
	}{{"users", c.Limits.Users}, {"groups", c.Limits.Groups}} {
		seen := map[string]bool{}
		for i, s := range subjects.list {
			path := fmt.Sprintf("limits.%s[%d]", subjects.kind, i)
			if s.Name == "" {
				add(path+".name", "required")
			}
			if seen[s.Name] {
				add(path+".name", "duplicate entry %q", s.Name)
			}
			seen[s.Name] = true
			validQuota(add, path, s.Quota)
		}
	}

	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid model catalog: %w", errors.Join(errs...))
}

type adder func(path, format string, args ...any)

func validName(add adder, path, name string) {
	switch {
	case name == "":
		add(path, "required")
	case len(name) > 63 || !catalogName.MatchString(name):
		add(path, "%q must be at most 63 lower-case letters, digits, '-', '.' or '_', starting and ending with a letter or digit", name)
	}
}

func validModel(add adder, path string, m Model) {
	switch m.Provider {
	case ProviderGemini, ProviderOpenAI, ProviderAnthropic:
	case "":
		add(path+".provider", "required: one of gemini, openai, anthropic")
	default:
		add(path+".provider", "unknown provider %q: use gemini, openai or anthropic", m.Provider)
	}
	if m.Model == "" {
		add(path+".model", "required: the provider's model id")
	}
	if m.BaseURL != "" {
		u, err := url.Parse(m.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(path+".baseURL", "%q is not an absolute http(s) URL", m.BaseURL)
		}
	}
	if ref := m.APIKeySecretRef; ref != nil {
		for _, msg := range validation.IsDNS1123Subdomain(ref.Name) {
			add(path+".apiKeySecretRef.name", "%q: %s", ref.Name, msg)
		}
		for _, msg := range validation.IsConfigMapKey(ref.Key) {
			add(path+".apiKeySecretRef.key", "%q: %s", ref.Key, msg)
		}
	}
	if v := m.VertexAI; v != nil {
		if m.Provider != ProviderGemini {
			add(path+".vertexAI", "only for provider gemini")
		}
		if v.Project == "" || v.Location == "" {
			add(path+".vertexAI", "project and location are required")
		}
	}
	if m.Provider == ProviderGemini && m.VertexAI == nil && m.APIKeySecretRef == nil {
		add(path+".apiKeySecretRef", "required for the Gemini API (or set vertexAI)")
	}
	if n := m.Limits.MaxTokens; n < 0 || n > maxReplyTokens {
		add(path+".limits.maxTokens", "%d is out of range [0, %d]", n, maxReplyTokens)
	}
	if n := m.Limits.RequestsPerMinute; n < 0 || n > maxRequestsPerMin {
		add(path+".limits.requestsPerMinute", "%d is out of range [0, %d]", n, maxRequestsPerMin)
	}
	if d := m.Timeout.Duration; d < 0 || d > maxTimeout {
		add(path+".timeout", "%s is out of range [0, %s]", d, maxTimeout)
	}
}

func validProfile(add adder, path string, p Profile) {
	seen := map[string]bool{}
	for i, t := range p.Tools {
		if !toolName.MatchString(t) {
			add(fmt.Sprintf("%s.tools[%d]", path, i), "%q is not a tool name", t)
		}
		if seen[t] {
			add(fmt.Sprintf("%s.tools[%d]", path, i), "duplicate tool %q", t)
		}
		seen[t] = true
	}
	for i, m := range p.Modes {
		switch m {
		case agentsv1alpha1.ModeReadOnly, agentsv1alpha1.ModePropose, agentsv1alpha1.ModeAuto:
		default:
			add(fmt.Sprintf("%s.modes[%d]", path, i), "unknown mode %q: use ReadOnly, Propose or Auto", m)
		}
	}
}

func validAccess(add adder, path string, a Access) {
	for _, list := range []struct {
		field string
		names []string
	}{{"allowedUsers", a.AllowedUsers}, {"allowedGroups", a.AllowedGroups}} {
		seen := map[string]bool{}
		for i, n := range list.names {
			switch {
			case n == "":
				add(fmt.Sprintf("%s.%s[%d]", path, list.field, i), "empty name")
			case seen[n]:
				add(fmt.Sprintf("%s.%s[%d]", path, list.field, i), "duplicate entry %q", n)
			}
			seen[n] = true
		}
	}
}

func validQuota(add adder, path string, q Quota) {
	if q.QueriesPerHour < 0 {
		add(path+".queriesPerHour", "%d is negative (0 means unlimited)", q.QueriesPerHour)
	}
	if q.TokensPerDay < 0 {
		add(path+".tokensPerDay", "%d is negative (0 means unlimited)", q.TokensPerDay)
	}
}

package catalog

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"golang.org/x/time/rate"

	"github.com/kubeask/kubeask/internal/llm"
	"github.com/kubeask/kubeask/internal/llm/anthropic"
	"github.com/kubeask/kubeask/internal/llm/gemini"
	"github.com/kubeask/kubeask/internal/llm/openai"
)

// ClientsOptions tune NewClients.
type ClientsOptions struct {
	// HTTPClient, when set, is used for every provider (proxies, custom CAs, tests).
	HTTPClient *http.Client
	// Retry sets MaxAttempts, BaseDelay and MaxDelay of every model's llm.Policy; its
	// Timeout and Limiter are ignored, since they come from the catalog.
	Retry llm.Policy
}

// Clients builds llm.Clients for catalog models. It is safe for concurrent use; one
// instance per manager serves every query so that the per-model rate limits are shared.
type Clients struct {
	catalog *Catalog
	keys    KeyResolver
	opts    ClientsOptions
	// limiters is fixed at construction: one per model with requestsPerMinute.
	limiters map[string]*rate.Limiter

	mu sync.Mutex
	// cache keeps the client of each model with the key it was built with; a rotated
	// key builds a new client.
	cache map[string]cachedClient
}

type cachedClient struct {
	key    string
	client llm.Client
}

// NewClients returns a builder for the models of c, reading API keys with keys.
func NewClients(c *Catalog, keys KeyResolver, opts ClientsOptions) *Clients {
	limiters := map[string]*rate.Limiter{}
	for _, m := range c.Models {
		if rpm := m.Limits.RequestsPerMinute; rpm > 0 {
			// A burst of one never exceeds the provider's own per-minute window.
			limiters[m.Name] = rate.NewLimiter(rate.Limit(float64(rpm)/60), 1)
		}
	}
	return &Clients{catalog: c, keys: keys, opts: opts, limiters: limiters, cache: map[string]cachedClient{}}
}

// Client returns the client of the model called name (the default model when empty),
// with the catalog's timeout, rate limit and max tokens applied and retries on. Errors
// are *Error: UnknownModel, APIKeyUnavailable or ModelMisconfigured.
func (cs *Clients) Client(ctx context.Context, name string) (llm.Client, error) {
	m, err := cs.catalog.Model(name)
	if err != nil {
		return nil, err
	}
	var key string
	if m.APIKeySecretRef != nil {
		key, err = cs.keys.APIKey(ctx, *m.APIKeySecretRef)
		if err != nil {
			return nil, &Error{Reason: ReasonAPIKeyUnavailable, Name: m.Name, Err: err}
		}
	}

	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c, ok := cs.cache[m.Name]; ok && c.key == key {
		return c.client, nil
	}
	provider, err := cs.build(ctx, m, key)
	if err != nil {
		return nil, &Error{Reason: ReasonModelMisconfigured, Name: m.Name, Err: err}
	}
	policy := llm.Policy{
		Timeout:     m.Timeout.Duration,
		MaxAttempts: cs.opts.Retry.MaxAttempts,
		BaseDelay:   cs.opts.Retry.BaseDelay,
		MaxDelay:    cs.opts.Retry.MaxDelay,
	}
	if l, ok := cs.limiters[m.Name]; ok {
		policy.Limiter = l
	}
	client := llm.WithPolicy(provider, policy)
	cs.cache[m.Name] = cachedClient{key: key, client: client}
	return client, nil
}

func (cs *Clients) build(ctx context.Context, m *Model, key string) (llm.Client, error) {
	switch m.Provider {
	case ProviderGemini:
		cfg := gemini.Config{
			Model: m.Model, BaseURL: m.BaseURL, APIKey: key,
			MaxTokens: m.Limits.MaxTokens, HTTPClient: cs.opts.HTTPClient,
		}
		if m.VertexAI != nil {
			cfg.VertexAI, cfg.Project, cfg.Location = true, m.VertexAI.Project, m.VertexAI.Location
		}
		return gemini.New(ctx, cfg)
	case ProviderOpenAI:
		return openai.New(openai.Config{
			Model: m.Model, BaseURL: m.BaseURL, APIKey: key,
			MaxTokens: m.Limits.MaxTokens, HTTPClient: cs.opts.HTTPClient,
		})
	case ProviderAnthropic:
		return anthropic.New(anthropic.Config{
			Model: m.Model, BaseURL: m.BaseURL, APIKey: key,
			MaxTokens: m.Limits.MaxTokens, HTTPClient: cs.opts.HTTPClient,
		})
	default:
		return nil, fmt.Errorf("unknown provider %q", m.Provider)
	}
}

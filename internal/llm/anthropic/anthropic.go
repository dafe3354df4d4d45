// Package anthropic is the llm.Client for Anthropic's Messages API, on the official
// github.com/anthropics/anthropic-sdk-go client.
package anthropic

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/kubeask/kubeask/internal/llm"
)

// Provider is the provider name used in errors and in the model catalog.
const Provider = "anthropic"

// DefaultMaxTokens bounds replies when neither the request nor the config does; the
// Messages API requires a bound.
const DefaultMaxTokens = 4096

// attemptTimeout is handed to the SDK so it does not compute its own from max_tokens
// (and refuse large ones without streaming); llm.WithPolicy's shorter per-call timeout
// governs in practice.
const attemptTimeout = 10 * time.Minute

// Config selects the endpoint and model.
type Config struct {
	// Model is the model id, for example "claude-sonnet-4-5".
	Model string
	// BaseURL is the API root without the version path. Empty means
	// https://api.anthropic.com/.
	BaseURL string
	// APIKey authenticates the requests (the SDK sends it as a bearer token).
	APIKey string
	// MaxTokens bounds replies when the request does not. Zero means DefaultMaxTokens.
	MaxTokens int
	// HTTPClient replaces the default HTTP client (proxies, custom CAs).
	HTTPClient *http.Client
}

// Client is an llm.Client for one model.
type Client struct {
	sdk       sdk.Client
	model     string
	maxTokens int
	// tools keeps each declared tool encoded once (see encodeTool).
	tools llm.ToolCache[sdk.ToolUnionParam]
}

// New builds a Client. It makes no request.
func New(cfg Config) (*Client, error) {
	if cfg.Model == "" {
		return nil, errors.New("anthropic: model id is required")
	}
	opts := []option.RequestOption{
		// The manager's environment (ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL, profiles)
		// must never decide where a catalog model's traffic goes or which key it uses.
		option.WithoutEnvironmentDefaults(),
		// llm.WithPolicy owns retries.
		option.WithMaxRetries(0),
		option.WithRequestTimeout(attemptTimeout),
	}
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("anthropic: base URL %q is not an absolute URL", cfg.BaseURL)
		}
		opts = append(opts, option.WithBaseURL(cfg.BaseURL))
	}
	if cfg.APIKey != "" {
		opts = append(opts, option.WithAPIKey(cfg.APIKey))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, option.WithHTTPClient(cfg.HTTPClient))
	}
	maxTokens := cfg.MaxTokens
	if maxTokens <= 0 {
		maxTokens = DefaultMaxTokens
	}
	return &Client{sdk: sdk.NewClient(opts...), model: cfg.Model, maxTokens: maxTokens}, nil
}

// Chat sends the conversation as one Messages API request.
func (c *Client) Chat(ctx context.Context, req llm.Request) (*llm.Response, error) {
	params, err := c.params(req)
	if err != nil {
		return nil, err
	}
	msg, err := c.sdk.Messages.New(ctx, params)
	if err != nil {
		return nil, classify(err)
	}
	return fromMessage(msg), nil
}

// classify turns an SDK error into an *llm.Error.
func classify(err error) *llm.Error {
	var apiErr *sdk.Error
	if !errors.As(err, &apiErr) {
		return llm.FromError(Provider, err)
	}
	f := llm.HTTPFailure{
		Provider:   Provider,
		StatusCode: apiErr.StatusCode,
		Codes:      []string{string(apiErr.Type())},
		Message:    apiErr.Message,
		Err:        err,
	}
	if apiErr.Response != nil {
		f.RetryAfter = llm.RetryAfter(apiErr.Response.Header, time.Now())
	}
	return llm.Classify(f)
}

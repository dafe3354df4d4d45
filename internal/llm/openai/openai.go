// Package openai is the llm.Client for OpenAI-compatible chat completion endpoints:
// OpenAI, Azure OpenAI (v1 API), Ollama, vLLM, llama.cpp, LM Studio and gateways that
// speak the same protocol. It uses the official github.com/openai/openai-go client.
package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/kubeask/kubeask/internal/llm"
)

// Provider is the provider name used in errors and in the model catalog.
const Provider = "openai"

// Config selects the endpoint and model.
type Config struct {
	// Model is the provider's model id, for example "gpt-4.1" or "llama3.1:8b".
	Model string
	// BaseURL is the API root including the version path, for example
	// "http://ollama:11434/v1" or "https://my-resource.openai.azure.com/openai/v1".
	// Empty means https://api.openai.com/v1.
	BaseURL string
	// APIKey is sent as a bearer token. Local servers usually need none.
	APIKey string
	// MaxTokens bounds replies when the request does not. Zero leaves it to the server.
	MaxTokens int
	// HTTPClient replaces the default HTTP client (proxies, custom CAs).
	HTTPClient *http.Client
}

// Client is an llm.Client for one model.
type Client struct {
	sdk   sdk.Client
	model string
	// maxTokens is the default reply bound.
	maxTokens int
	// legacyMaxTokens sends max_tokens rather than max_completion_tokens: OpenAI's own
	// reasoning models reject the former, while many compatible servers know only it.
	legacyMaxTokens bool
	// tools keeps each declared tool encoded once (see encodeTool).
	tools llm.ToolCache[sdk.ChatCompletionToolUnionParam]
}

// New builds a Client. It makes no request.
func New(cfg Config) (*Client, error) {
	if cfg.Model == "" {
		return nil, errors.New("openai: model id is required")
	}
	opts := []option.RequestOption{
		// Our retry loop (llm.WithPolicy) is the only one, so that it is testable and
		// honours Retry-After the same way for every provider.
		option.WithMaxRetries(0),
		// Always set, even empty, so an OPENAI_API_KEY in the manager's environment
		// never leaks to a server the catalog did not give it to.
		option.WithAPIKey(cfg.APIKey),
	}
	official := true
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("openai: base URL %q is not an absolute URL", cfg.BaseURL)
		}
		opts = append(opts, option.WithBaseURL(cfg.BaseURL))
		host := u.Hostname()
		official = host == "api.openai.com" || strings.HasSuffix(host, ".openai.azure.com") ||
			strings.HasSuffix(host, ".cognitiveservices.azure.com")
	} else {
		opts = append(opts, option.WithBaseURL("https://api.openai.com/v1/"))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, option.WithHTTPClient(cfg.HTTPClient))
	}
	return &Client{
		sdk:             sdk.NewClient(opts...),
		model:           cfg.Model,
		maxTokens:       cfg.MaxTokens,
		legacyMaxTokens: !official,
	}, nil
}

// Chat sends the conversation as one chat completion request.
func (c *Client) Chat(ctx context.Context, req llm.Request) (*llm.Response, error) {
	params, err := c.params(req)
	if err != nil {
		return nil, err
	}
	completion, err := c.sdk.Chat.Completions.New(ctx, params)
	if err != nil {
		return nil, classify(err)
	}
	return fromCompletion(completion)
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
		Codes:      []string{apiErr.Code, apiErr.Type},
		Message:    apiErr.Message,
		Err:        err,
	}
	if apiErr.Response != nil {
		f.RetryAfter = llm.RetryAfter(apiErr.Response.Header, time.Now())
	}
	if f.Message == "" && apiErr.Response != nil && apiErr.Response.Body != nil {
		// Compatible servers do not all wrap errors in {"error": ...}: vLLM answers
		// {"object":"error","message":...}, proxies answer plain text. The SDK keeps the
		// body readable on the response for this.
		f.Message = bodyMessage(apiErr.Response.Body)
	}
	return llm.Classify(f)
}

// bodyMessage extracts a human message from an error body that is not in OpenAI's shape.
func bodyMessage(body io.Reader) string {
	raw, err := io.ReadAll(io.LimitReader(body, 4096))
	if err != nil {
		return ""
	}
	var flat struct {
		Message string `json:"message"`
		Detail  string `json:"detail"`
	}
	if json.Unmarshal(raw, &flat) == nil {
		if flat.Message != "" {
			return flat.Message
		}
		if flat.Detail != "" {
			return flat.Detail
		}
	}
	return strings.TrimSpace(string(raw))
}

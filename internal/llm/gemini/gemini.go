// Package gemini is the llm.Client for Google's Gemini models, on the official
// google.golang.org/genai client: the Gemini API with an API key, or Vertex AI.
package gemini

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"cloud.google.com/go/auth"
	"google.golang.org/genai"

	"github.com/kubeask/kubeask/internal/llm"
)

// Provider is the provider name used in errors and in the model catalog.
const Provider = "gemini"

// Config selects the backend, endpoint and model.
type Config struct {
	// Model is the model id, for example "gemini-2.5-flash".
	Model string
	// BaseURL overrides the API root, for example a proxy. Empty means Google's
	// default for the backend.
	BaseURL string
	// APIKey authenticates to the Gemini API. Required unless VertexAI is set.
	APIKey string
	// VertexAI selects the Vertex AI backend, authenticated with the pod's Application
	// Default Credentials (Workload Identity), in Project and Location.
	VertexAI bool
	Project  string
	Location string
	// Credentials replace the Application Default Credentials on Vertex AI. Nil, as in
	// production, means ADC; tests set a fixed token so that nothing looks for ADC.
	Credentials *auth.Credentials
	// MaxTokens bounds replies when the request does not. Zero leaves it to the model.
	MaxTokens int
	// HTTPClient replaces the default HTTP client on the Gemini API backend (proxies,
	// custom CAs). Vertex AI builds its own authenticated client.
	HTTPClient *http.Client
}

// Client is an llm.Client for one model.
type Client struct {
	sdk       *genai.Client
	model     string
	maxTokens int
	// decls keeps each declared tool's function declaration, built once by
	// toDeclaration. genai only reads declarations, so concurrent requests share them.
	decls llm.ToolCache[*genai.FunctionDeclaration]
}

// New builds a Client. It makes no request.
func New(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Model == "" {
		return nil, errors.New("gemini: model id is required")
	}
	cc := &genai.ClientConfig{
		// HTTPOptions.RetryOptions stays nil: genai then makes exactly one attempt and
		// llm.WithPolicy owns retries.
		HTTPOptions: genai.HTTPOptions{BaseURL: cfg.BaseURL},
	}
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("gemini: base URL %q is not an absolute URL", cfg.BaseURL)
		}
	}
	if cfg.VertexAI {
		// Required here so that genai never falls back to GOOGLE_CLOUD_PROJECT or
		// GOOGLE_CLOUD_LOCATION from the manager's environment.
		if cfg.Project == "" || cfg.Location == "" {
			return nil, errors.New("gemini: Vertex AI needs a project and a location")
		}
		cc.Backend = genai.BackendVertexAI
		cc.Project = cfg.Project
		cc.Location = cfg.Location
		cc.Credentials = cfg.Credentials
	} else {
		if cfg.Credentials != nil {
			return nil, errors.New("gemini: credentials are for Vertex AI; the Gemini API takes an API key")
		}
		// Required here so that genai never falls back to GOOGLE_API_KEY or
		// GEMINI_API_KEY from the manager's environment.
		if cfg.APIKey == "" {
			return nil, errors.New("gemini: an API key is required for the Gemini API")
		}
		cc.Backend = genai.BackendGeminiAPI
		cc.APIKey = cfg.APIKey
		cc.HTTPClient = withHeaderCapture(cfg.HTTPClient)
	}
	client, err := genai.NewClient(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("gemini: %w", err)
	}
	return &Client{sdk: client, model: cfg.Model, maxTokens: cfg.MaxTokens}, nil
}

// Chat sends the conversation as one generateContent request.
func (c *Client) Chat(ctx context.Context, req llm.Request) (*llm.Response, error) {
	contents, config, err := c.convert(req)
	if err != nil {
		return nil, err
	}
	slot := &capturedHeader{}
	resp, err := c.sdk.Models.GenerateContent(withCapture(ctx, slot), c.model, contents, config)
	if err != nil {
		return nil, classify(err, slot.get())
	}
	return fromResponse(resp), nil
}

// classify turns a genai error into an *llm.Error. Google APIs say how long to wait in a
// RetryInfo detail of the body; a Retry-After header (proxies) wins when present.
func classify(err error, header http.Header) *llm.Error {
	var apiErr genai.APIError
	if !errors.As(err, &apiErr) {
		return llm.FromError(Provider, err)
	}
	f := llm.HTTPFailure{
		Provider:   Provider,
		StatusCode: apiErr.Code,
		Codes:      []string{apiErr.Status},
		Message:    apiErr.Message,
		RetryAfter: llm.RetryAfter(header, time.Now()),
		Err:        err,
	}
	for _, d := range apiErr.Details {
		typ, _ := d["@type"].(string)
		switch {
		case strings.HasSuffix(typ, "google.rpc.ErrorInfo"):
			if reason, ok := d["reason"].(string); ok {
				f.Codes = append(f.Codes, reason)
			}
		case strings.HasSuffix(typ, "google.rpc.RetryInfo"):
			if delay, ok := d["retryDelay"].(string); ok && f.RetryAfter == 0 {
				if parsed, err := time.ParseDuration(delay); err == nil && parsed > 0 {
					f.RetryAfter = parsed
				}
			}
		}
	}
	return llm.Classify(f)
}

package llm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// Kind classifies a failed call by what the operator or user can do about it. The values
// are CamelCase so the controller can use them as a condition reason as they are.
type Kind string

const (
	// KindAuth: the provider refused the credentials (missing, wrong or revoked API key,
	// or a key without access to the model). Not retried.
	KindAuth Kind = "Auth"
	// KindRateLimited: too many requests right now (provider 429, or the catalog's
	// requests-per-minute limit). Retried while the wait fits the call's deadline.
	KindRateLimited Kind = "RateLimited"
	// KindQuotaExceeded: the provider account is out of quota or credit. Not retried.
	KindQuotaExceeded Kind = "QuotaExceeded"
	// KindContextTooLong: the conversation does not fit the model's context window.
	KindContextTooLong Kind = "ContextTooLong"
	// KindBadRequest: the provider rejected the request as invalid.
	KindBadRequest Kind = "BadRequest"
	// KindNotFound: the provider does not know the model or the endpoint path.
	KindNotFound Kind = "NotFound"
	// KindUnavailable: server error, overload or unreachable endpoint. Retried.
	KindUnavailable Kind = "Unavailable"
	// KindTimeout: no answer within the per-call timeout.
	KindTimeout Kind = "Timeout"
	// KindCanceled: the caller's context was canceled.
	KindCanceled Kind = "Canceled"
	// KindUnknown: anything else, for example a reply that could not be decoded.
	KindUnknown Kind = "Unknown"
)

// Error is a classified failure of a model call.
type Error struct {
	Kind Kind
	// Provider is "gemini", "openai", "anthropic" or empty for failures outside any
	// provider (rate limiter, timeout).
	Provider string
	// StatusCode is the HTTP status, or 0 when there was no response.
	StatusCode int
	// Message is the provider's own explanation, when it gave one.
	Message string
	// RetryAfter is how long the provider asked us to wait, when it said.
	RetryAfter time.Duration
	// Attempts is how many requests were made, set by WithPolicy.
	Attempts int
	// Err is the underlying error (the SDK's, or a context error).
	Err error
}

// Error is one line a person can act on, for a status condition message.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Provider != "" {
		b.WriteString(e.Provider)
		b.WriteString(": ")
	}
	if e.Kind == KindUnavailable && e.StatusCode == 0 && e.Err != nil {
		// No response at all (connection refused, DNS, reset): nothing says the
		// provider is overloaded, only that it could not be reached.
		b.WriteString("the provider could not be reached; check that it runs and the base URL in the model catalog")
	} else {
		b.WriteString(e.Kind.summary())
	}
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.StatusCode)
	}
	switch {
	case e.Message != "":
		b.WriteString(": ")
		b.WriteString(e.Message)
	case e.Err != nil && e.StatusCode == 0:
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// summary is the human half of every Error message, saying what to do where there is
// something to do.
func (k Kind) summary() string {
	switch k {
	case KindAuth:
		return "the provider rejected the credentials; check the API key Secret of this model in the model catalog"
	case KindRateLimited:
		return "the provider is rate limiting requests; try again later"
	case KindQuotaExceeded:
		return "the provider account is out of quota or credit"
	case KindContextTooLong:
		return "the conversation is longer than the model's context window; start a new session or lower its historyLimit"
	case KindBadRequest:
		return "the provider rejected the request"
	case KindNotFound:
		return "the provider does not know this model or endpoint; check the model id and base URL in the model catalog"
	case KindUnavailable:
		return "the provider is unavailable or overloaded"
	case KindTimeout:
		return "the model did not answer in time"
	case KindCanceled:
		return "the call was canceled"
	default:
		return "the call to the provider failed"
	}
}

// Retryable reports whether the same request may succeed later.
func (e *Error) Retryable() bool {
	return e.Kind == KindRateLimited || e.Kind == KindUnavailable
}

// KindOf returns the Kind of err, KindUnknown if it is not an *Error.
func KindOf(err error) Kind {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Kind
	}
	return KindUnknown
}

// HTTPFailure is what a provider adapter extracted from a non-2xx response. Classify
// turns it into an *Error with the same rules for every provider.
type HTTPFailure struct {
	Provider   string
	StatusCode int
	// Codes are the provider's machine-readable words: OpenAI's error.code and
	// error.type, Anthropic's error.type, Google's status and ErrorInfo reasons.
	Codes      []string
	Message    string
	RetryAfter time.Duration
	Err        error
}

// Classify maps an HTTP failure to an *Error.
func Classify(f HTTPFailure) *Error {
	e := &Error{
		Provider:   f.Provider,
		StatusCode: f.StatusCode,
		Message:    strings.TrimSpace(f.Message),
		RetryAfter: f.RetryAfter,
		Err:        f.Err,
	}
	e.Kind = classifyStatus(f)
	return e
}

func classifyStatus(f HTTPFailure) Kind {
	// Quota codes mark an account out of money or quota, which waiting does not fix,
	// even when it comes as a 429.
	quotaCodes := []string{"insufficient_quota", "billing_error", "billing_not_active"}
	// Some providers report bad credentials as a 400 (Gemini's invalid API key).
	authCodes := []string{"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED", "authentication_error", "invalid_api_key"}
	// Context overflow comes as a 400 that otherwise looks like any bad request:
	//   - OpenAI code "context_length_exceeded", vLLM/llama.cpp "maximum context length";
	//   - Anthropic "prompt is too long: 210000 tokens > 200000 maximum";
	//   - Gemini "The input token count (1200000) exceeds the maximum number of tokens allowed";
	//   - llama.cpp type "exceed_context_size_error", "exceeds the available context size";
	//   - Ollama and others "context window", "too many tokens".
	tooLongHints := []string{
		"context_length_exceeded", "exceed_context_size_error", "maximum context length",
		"context length", "context size", "context window", "prompt is too long",
		"exceeds the maximum number of tokens", "too many tokens",
	}
	switch {
	case hasCode(f.Codes, quotaCodes):
		return KindQuotaExceeded
	case hasCode(f.Codes, authCodes):
		return KindAuth
	case f.StatusCode == http.StatusRequestEntityTooLarge:
		return KindContextTooLong
	case f.StatusCode >= 400 && f.StatusCode < 500 && f.StatusCode != http.StatusTooManyRequests &&
		(hasCode(f.Codes, tooLongHints) || containsAny(f.Message, tooLongHints)):
		return KindContextTooLong
	}
	switch f.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return KindAuth
	case http.StatusNotFound:
		return KindNotFound
	case http.StatusTooManyRequests:
		return KindRateLimited
	case http.StatusRequestTimeout, http.StatusConflict:
		// 408 and 409 (Anthropic uses it for transient conflicts) succeed on retry.
		return KindUnavailable
	}
	switch {
	case f.StatusCode >= 500:
		return KindUnavailable
	case f.StatusCode >= 400:
		return KindBadRequest
	}
	return KindUnknown
}

func hasCode(codes, wanted []string) bool {
	for _, c := range codes {
		for _, w := range wanted {
			if strings.EqualFold(c, w) {
				return true
			}
		}
	}
	return false
}

func containsAny(s string, hints []string) bool {
	s = strings.ToLower(s)
	for _, h := range hints {
		if strings.Contains(s, h) {
			return true
		}
	}
	return false
}

// FromError classifies an error that came without an HTTP response: context errors,
// connection failures, undecodable replies. An *Error passes through unchanged.
func FromError(provider string, err error) *Error {
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	e := &Error{Provider: provider, Err: err, Kind: KindUnknown}
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		e.Kind = KindTimeout
	case errors.Is(err, context.Canceled):
		e.Kind = KindCanceled
	case errors.As(err, &netErr):
		e.Kind = KindUnavailable
		if netErr.Timeout() {
			e.Kind = KindTimeout
		}
	}
	return e
}

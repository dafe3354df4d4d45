package llm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestNewToolCall(t *testing.T) {
	tests := []struct {
		name      string
		raw       string
		wantArgs  string
		wantError string // substring; empty means no error
	}{
		{"object", `{"namespace":"default"}`, `{"namespace":"default"}`, ""},
		{"spaces kept", ` {"a": 1} `, ` {"a": 1} `, ""},
		{"empty is no arguments", "", "{}", ""},
		{"null is no arguments", "null", "{}", ""},
		{"truncated", `{"namespace": "default"`, `{"namespace": "default"`, "not valid JSON"},
		{"not JSON", `namespace=default`, `namespace=default`, "not valid JSON"},
		{"string", `"{\"a\":1}"`, `"{\"a\":1}"`, "must be a JSON object, got a string"},
		{"array", `[1,2]`, `[1,2]`, "got an array"},
		{"number", `42`, `42`, "got a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call := NewToolCall("id-1", "list_pods", []byte(tt.raw))
			if string(call.Arguments) != tt.wantArgs {
				t.Errorf("Arguments %q, want %q", call.Arguments, tt.wantArgs)
			}
			if tt.wantError == "" && call.ArgumentsError != "" {
				t.Errorf("unexpected ArgumentsError %q", call.ArgumentsError)
			}
			if tt.wantError != "" && !strings.Contains(call.ArgumentsError, tt.wantError) {
				t.Errorf("ArgumentsError %q, want it to contain %q", call.ArgumentsError, tt.wantError)
			}
			obj := call.ArgumentsObject()
			if obj == nil || (tt.wantError != "" && len(obj) != 0) {
				t.Errorf("ArgumentsObject %v", obj)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"none", http.Header{}, 0},
		{"nil", nil, 0},
		{"seconds", http.Header{"Retry-After": {"3"}}, 3 * time.Second},
		{"fractional seconds", http.Header{"Retry-After": {"1.5"}}, 1500 * time.Millisecond},
		{"milliseconds win", http.Header{"Retry-After": {"3"}, "Retry-After-Ms": {"250"}}, 250 * time.Millisecond},
		{"http date", http.Header{"Retry-After": {now.Add(10 * time.Second).Format(http.TimeFormat)}}, 10 * time.Second},
		{"date in the past", http.Header{"Retry-After": {now.Add(-time.Minute).Format(http.TimeFormat)}}, 0},
		{"negative", http.Header{"Retry-After": {"-5"}}, 0},
		{"garbage", http.Header{"Retry-After": {"soon"}}, 0},
		{"huge is capped", http.Header{"Retry-After": {"1e30"}}, 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RetryAfter(tt.header, now); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		f    HTTPFailure
		want Kind
	}{
		{"401", HTTPFailure{StatusCode: 401}, KindAuth},
		{"403", HTTPFailure{StatusCode: 403}, KindAuth},
		{"gemini bad key is a 400", HTTPFailure{StatusCode: 400, Codes: []string{"INVALID_ARGUMENT", "API_KEY_INVALID"}}, KindAuth},
		{"404", HTTPFailure{StatusCode: 404}, KindNotFound},
		{"429", HTTPFailure{StatusCode: 429, Codes: []string{"rate_limit_exceeded"}}, KindRateLimited},
		{"429 out of quota", HTTPFailure{StatusCode: 429, Codes: []string{"insufficient_quota"}}, KindQuotaExceeded},
		{"429 mentioning tokens stays rate limited", HTTPFailure{StatusCode: 429, Message: "too many tokens per minute"}, KindRateLimited},
		{"billing", HTTPFailure{StatusCode: 400, Codes: []string{"billing_error"}}, KindQuotaExceeded},
		{"openai too long", HTTPFailure{StatusCode: 400, Codes: []string{"context_length_exceeded"}}, KindContextTooLong},
		{"anthropic too long", HTTPFailure{StatusCode: 400, Message: "prompt is too long: 215031 tokens > 200000 maximum"}, KindContextTooLong},
		{"gemini too long", HTTPFailure{StatusCode: 400, Message: "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."}, KindContextTooLong},
		{"llama.cpp too long", HTTPFailure{StatusCode: 400, Codes: []string{"exceed_context_size_error"}}, KindContextTooLong},
		{"413", HTTPFailure{StatusCode: 413}, KindContextTooLong},
		{"400", HTTPFailure{StatusCode: 400, Message: "tools[0].name: invalid"}, KindBadRequest},
		{"422", HTTPFailure{StatusCode: 422}, KindBadRequest},
		{"408", HTTPFailure{StatusCode: 408}, KindUnavailable},
		{"500", HTTPFailure{StatusCode: 500}, KindUnavailable},
		{"503", HTTPFailure{StatusCode: 503}, KindUnavailable},
		{"529", HTTPFailure{StatusCode: 529}, KindUnavailable},
		{"500 mentioning context stays unavailable", HTTPFailure{StatusCode: 500, Message: "context length"}, KindUnavailable},
		{"no status", HTTPFailure{}, KindUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.f).Kind; got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestFromError(t *testing.T) {
	classified := &Error{Kind: KindAuth}
	tests := []struct {
		name string
		err  error
		want Kind
	}{
		{"deadline", fmt.Errorf("post: %w", context.DeadlineExceeded), KindTimeout},
		{"canceled", fmt.Errorf("post: %w", context.Canceled), KindCanceled},
		{"connection refused", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, KindUnavailable},
		{"already classified", fmt.Errorf("wrapped: %w", classified), KindAuth},
		{"decode error", errors.New("invalid character '<' looking for beginning of value"), KindUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FromError("openai", tt.err).Kind; got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	e := &Error{Kind: KindAuth, Provider: "gemini", StatusCode: 400, Message: "API key not valid.", Attempts: 1}
	want := "gemini: the provider rejected the credentials; check the API key Secret of this model in the model catalog (HTTP 400): API key not valid."
	if e.Error() != want {
		t.Errorf("got %q\nwant %q", e.Error(), want)
	}
	e = &Error{Kind: KindUnavailable, Err: errors.New("dial tcp: connection refused"), Attempts: 3}
	if got := e.Error(); !strings.Contains(got, "connection refused") || !strings.Contains(got, "after 3 attempts") {
		t.Errorf("got %q", got)
	}
}

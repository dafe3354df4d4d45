package llm

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// scriptedClient answers each Chat with the next scripted error (nil means success).
type scriptedClient struct {
	mu     sync.Mutex
	script []error
	calls  int
	// block makes Chat wait for its context instead.
	block bool
}

func (s *scriptedClient) Chat(ctx context.Context, _ Request) (*Response, error) {
	s.mu.Lock()
	s.calls++
	var err error
	if len(s.script) > 0 {
		err, s.script = s.script[0], s.script[1:]
	}
	s.mu.Unlock()
	if s.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	return &Response{Message: Message{Role: RoleAssistant, Text: "ok"}}, nil
}

func (s *scriptedClient) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

type refusingLimiter struct{ err error }

func (l refusingLimiter) Wait(context.Context) error { return l.err }

var quick = Policy{Timeout: 5 * time.Second, MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}

func TestPolicyRetries(t *testing.T) {
	unavailable := &Error{Kind: KindUnavailable, StatusCode: 503}
	limited := &Error{Kind: KindRateLimited, StatusCode: 429}
	tests := []struct {
		name      string
		script    []error
		wantKind  Kind // empty means success
		wantCalls int
	}{
		{"success", nil, "", 1},
		{"503 then success", []error{unavailable, nil}, "", 2},
		{"429 twice then success", []error{limited, limited, nil}, "", 3},
		{"gives up after MaxAttempts", []error{unavailable, unavailable, unavailable, nil}, KindUnavailable, 3},
		{"auth is not retried", []error{&Error{Kind: KindAuth}}, KindAuth, 1},
		{"context too long is not retried", []error{&Error{Kind: KindContextTooLong}}, KindContextTooLong, 1},
		{"unclassified error", []error{errors.New("boom")}, KindUnknown, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := &scriptedClient{script: tt.script}
			resp, err := WithPolicy(next, quick).Chat(t.Context(), Request{})
			if tt.wantKind == "" {
				if err != nil || resp == nil {
					t.Fatalf("got %v, want success", err)
				}
			} else {
				e, ok := errors.AsType[*Error](err)
				if !ok || e.Kind != tt.wantKind || e.Attempts != tt.wantCalls {
					t.Fatalf("got %#v, want kind %s after %d attempts", err, tt.wantKind, tt.wantCalls)
				}
			}
			if next.count() != tt.wantCalls {
				t.Errorf("%d calls, want %d", next.count(), tt.wantCalls)
			}
		})
	}
}

// TestPolicyRetryAfterBeyondDeadline: when the server asks for a wait longer than the
// call has left, the call fails at once with the server's hint rather than sleeping
// into a timeout.
func TestPolicyRetryAfterBeyondDeadline(t *testing.T) {
	next := &scriptedClient{script: []error{&Error{Kind: KindRateLimited, RetryAfter: time.Hour}, nil}}
	_, err := WithPolicy(next, quick).Chat(t.Context(), Request{})
	e, ok := errors.AsType[*Error](err)
	if !ok || e.Kind != KindRateLimited || e.RetryAfter != time.Hour {
		t.Fatalf("got %v, want RateLimited with RetryAfter 1h", err)
	}
	if next.count() != 1 {
		t.Errorf("%d calls, want 1", next.count())
	}
}

func TestPolicyLimiter(t *testing.T) {
	next := &scriptedClient{}
	p := quick
	p.Limiter = refusingLimiter{err: errors.New("rate: Wait(n=1) would exceed context deadline")}
	_, err := WithPolicy(next, p).Chat(t.Context(), Request{})
	if KindOf(err) != KindRateLimited {
		t.Fatalf("got %v, want RateLimited", err)
	}
	if next.count() != 0 {
		t.Errorf("the provider was called %d times past the limiter", next.count())
	}
}

func TestPolicyCallerCancels(t *testing.T) {
	next := &scriptedClient{block: true}
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	_, err := WithPolicy(next, quick).Chat(ctx, Request{})
	if KindOf(err) != KindCanceled {
		t.Fatalf("got %v, want Canceled", err)
	}
}

func TestPolicyTimeout(t *testing.T) {
	next := &scriptedClient{block: true}
	p := quick
	p.Timeout = 50 * time.Millisecond
	_, err := WithPolicy(next, p).Chat(t.Context(), Request{})
	if KindOf(err) != KindTimeout {
		t.Fatalf("got %v, want Timeout", err)
	}
	if next.count() != 1 {
		t.Errorf("%d calls, want 1", next.count())
	}
}

package llm

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Defaults of Policy.
const (
	DefaultTimeout     = 2 * time.Minute
	DefaultMaxAttempts = 4
	DefaultBaseDelay   = time.Second
	DefaultMaxDelay    = 30 * time.Second
)

// Limiter paces requests; *rate.Limiter from golang.org/x/time/rate satisfies it. Wait
// must return an error at once when the wait would pass ctx's deadline.
type Limiter interface {
	Wait(ctx context.Context) error
}

// Policy says how WithPolicy guards a Client. The zero value uses the defaults.
type Policy struct {
	// Timeout bounds one Chat call, retries and waits included, so the agent always gets
	// an answer or a classified error in bounded time. Zero means DefaultTimeout.
	Timeout time.Duration
	// MaxAttempts is the number of requests one Chat may make, the first included.
	// Zero means DefaultMaxAttempts; 1 disables retries.
	MaxAttempts int
	// BaseDelay is the backoff before the first retry, doubled for each further retry,
	// when the server gave no Retry-After. Zero means DefaultBaseDelay.
	BaseDelay time.Duration
	// MaxDelay caps one backoff delay. A server's Retry-After is honoured beyond it, up
	// to the call's deadline. Zero means DefaultMaxDelay.
	MaxDelay time.Duration
	// Limiter, when set, is waited on before every request, retries included.
	Limiter Limiter
}

func (p Policy) withDefaults() Policy {
	if p.Timeout <= 0 {
		p.Timeout = DefaultTimeout
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = DefaultBaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultMaxDelay
	}
	return p
}

// WithPolicy wraps next with the per-call timeout, the rate limiter and retries with
// exponential backoff on retryable errors (429 and 5xx), honouring the server's
// Retry-After. The provider SDKs' own retries are switched off by the adapters so that
// this is the only retry loop. Every error it returns is an *Error.
func WithPolicy(next Client, p Policy) Client {
	return &guarded{next: next, policy: p.withDefaults()}
}

type guarded struct {
	next   Client
	policy Policy
}

func (g *guarded) Chat(ctx context.Context, req Request) (*Response, error) {
	callCtx, cancel := context.WithTimeout(ctx, g.policy.Timeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		if g.policy.Limiter != nil {
			if err := g.policy.Limiter.Wait(callCtx); err != nil {
				e := &Error{
					Kind:    KindRateLimited,
					Message: "the model catalog's requests-per-minute limit for this model leaves no slot before the deadline",
					Err:     err,
				}
				return nil, g.finish(ctx, callCtx, e, attempt-1)
			}
		}
		resp, err := g.next.Chat(callCtx, req)
		if err == nil {
			return resp, nil
		}
		e := FromError("", err)
		if !e.Retryable() || attempt >= g.policy.MaxAttempts || callCtx.Err() != nil {
			return nil, g.finish(ctx, callCtx, e, attempt)
		}
		wait := g.delay(attempt, e.RetryAfter)
		if deadline, ok := callCtx.Deadline(); ok && time.Until(deadline) < wait {
			// Sleeping would only end in a timeout; the caller learns more from the
			// provider's error, whose RetryAfter says when to come back.
			return nil, g.finish(ctx, callCtx, e, attempt)
		}
		if err := sleep(callCtx, wait); err != nil {
			return nil, g.finish(ctx, callCtx, e, attempt)
		}
	}
}

// finish stamps the attempt count and turns a context expiry into Timeout or Canceled,
// whichever actually happened, so the provider's wording of a cut connection does not
// hide it.
func (g *guarded) finish(parent, callCtx context.Context, e *Error, attempts int) *Error {
	switch {
	case errors.Is(parent.Err(), context.Canceled):
		e = &Error{Kind: KindCanceled, Provider: e.Provider, Err: parent.Err()}
	case parent.Err() != nil:
		e = &Error{Kind: KindTimeout, Provider: e.Provider, Err: parent.Err(),
			Message: "the caller's deadline passed"}
	case callCtx.Err() != nil && e.Kind != KindRateLimited:
		e = &Error{Kind: KindTimeout, Provider: e.Provider, Err: callCtx.Err(),
			Message: fmt.Sprintf("no answer within the per-call timeout of %s", g.policy.Timeout)}
	}
	e.Attempts = attempts
	return e
}

// delay is the wait before retry number attempt: the server's hint when it gave one,
// else exponential backoff with jitter so that many queries hitting the same limit do
// not retry in lockstep.
func (g *guarded) delay(attempt int, hint time.Duration) time.Duration {
	if hint > 0 {
		return hint
	}
	d := g.policy.BaseDelay << min(attempt-1, 20)
	if d <= 0 || d > g.policy.MaxDelay {
		d = g.policy.MaxDelay
	}
	half := d / 2
	return half + rand.N(half+1) //nolint:gosec // G404: retry jitter, not a secret
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

package auth

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/kubeask/kubeask/internal/identity"
)

// A successful review is trusted for the cache's TTL (a minute by default), or less
// when the token or the authenticator says it expires sooner, and never longer: a
// token revoked right after its review stops working when the entry expires.
func TestCachedLifetime(t *testing.T) {
	start := time.Unix(1_000_000, 0)
	for _, tc := range []struct {
		name string
		ttl  time.Duration
		// token is the bearer token; a JWT's exp bounds the entry.
		token func(t *testing.T) string
		// callerExpiry is what the inner authenticator reports, as an offset from start.
		callerExpiry time.Duration
		// trusted is how long one review is relied on.
		trusted time.Duration
	}{
		{name: "default TTL", token: opaque, trusted: DefaultCacheTTL},
		{name: "configured TTL", ttl: 10 * time.Second, token: opaque, trusted: 10 * time.Second},
		{name: "a JWT expiring sooner", token: jwtExpiringAt(start.Add(20 * time.Second)), trusted: 20 * time.Second},
		{name: "a JWT expiring later", token: jwtExpiringAt(start.Add(time.Hour)), trusted: DefaultCacheTTL},
		{name: "the authenticator's expiry", token: opaque, callerExpiry: 30 * time.Second, trusted: 30 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := start
			inner := &countingAuth{result: &Caller{Identity: identity.Identity{Username: "alice"}}}
			if tc.callerExpiry > 0 {
				inner.result.Expiry = start.Add(tc.callerExpiry)
			}
			c := &Cached{Inner: inner, TTL: tc.ttl, Now: func() time.Time { return now }}
			token := tc.token(t)
			if _, err := c.Authenticate(t.Context(), token); err != nil {
				t.Fatal(err)
			}
			// Revoked right after the review: the API server would now refuse it.
			inner.result, inner.err = nil, fmt.Errorf("%w: revoked", ErrUnauthenticated)
			for _, at := range []time.Duration{time.Second, tc.trusted / 2, tc.trusted - time.Second} {
				now = start.Add(at)
				caller, err := c.Authenticate(t.Context(), token)
				if err != nil || caller.Identity.Username != "alice" {
					t.Fatalf("at +%v, within the %v the review is trusted: %v", at, tc.trusted, err)
				}
				if caller.Expiry != start.Add(tc.trusted) {
					t.Errorf("at +%v: the caller's expiry is %v, want +%v", at, caller.Expiry.Sub(start), tc.trusted)
				}
			}
			if n := inner.calls.Load(); n != 1 {
				t.Fatalf("%d reviews within the entry's lifetime, want 1", n)
			}
			// The revocation bound: once the entry expires the token is reviewed again
			// and refused.
			now = start.Add(tc.trusted)
			if _, err := c.Authenticate(t.Context(), token); !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("at +%v, the revoked token still works: %v", tc.trusted, err)
			}
		})
	}
}

func opaque(*testing.T) string { return "opaque-token-123" }

func jwtExpiringAt(exp time.Time) func(t *testing.T) string {
	return func(t *testing.T) string { return unsignedJWT(t, exp) }
}

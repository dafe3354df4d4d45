package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Cache bounds, chosen so that a revoked token stops working within a minute while a
// busy client costs the API server about one review per minute.
const (
	DefaultCacheTTL    = time.Minute
	negativeCacheTTL   = 5 * time.Second
	defaultCacheMaxLen = 10000
)

// Cached remembers an authenticator's answers by token hash, for at most TTL and never
// beyond the token's own expiry (read from its exp claim when it is a JWT, or reported
// by the authenticator). Failures are remembered briefly, so a flood of bad tokens
// does not become a flood of TokenReviews. Concurrent checks of one token share one
// call.
type Cached struct {
	Inner Authenticator
	// TTL is the longest a result is trusted; 0 means DefaultCacheTTL.
	TTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu      sync.Mutex
	entries map[string]cacheEntry
	group   singleflight.Group
}

type cacheEntry struct {
	caller  *Caller
	err     error
	expires time.Time
}

func (c *Cached) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Authenticate implements Authenticator.
func (c *Cached) Authenticate(ctx context.Context, token string) (*Caller, error) {
	key := TokenHash(token)
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.caller, e.err
	}
	v, err, _ := c.group.Do(key, func() (any, error) {
		caller, err := c.Inner.Authenticate(ctx, token)
		if err != nil && !errors.Is(err, ErrUnauthenticated) {
			return nil, err // an outage is not cached
		}
		now := c.now()
		entry := cacheEntry{err: err, expires: now.Add(negativeCacheTTL)}
		if err == nil {
			ttl := c.TTL
			if ttl <= 0 {
				ttl = DefaultCacheTTL
			}
			expires := now.Add(ttl)
			if exp, ok := jwtExpiry(token); ok && exp.Before(expires) {
				expires = exp
			}
			if !caller.Expiry.IsZero() && caller.Expiry.Before(expires) {
				expires = caller.Expiry
			}
			if !expires.After(now) {
				return nil, errors.Join(ErrUnauthenticated, errors.New("token expired"))
			}
			cp := *caller
			cp.Expiry = expires
			entry.caller, entry.expires = &cp, expires
		}
		c.store(key, entry, now)
		return entry.caller, entry.err
	})
	if err != nil {
		return nil, err
	}
	return v.(*Caller), nil
}

func (c *Cached) store(key string, e cacheEntry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]cacheEntry{}
	}
	if len(c.entries) >= defaultCacheMaxLen {
		for k, old := range c.entries {
			if !now.Before(old.expires) {
				delete(c.entries, k)
			}
		}
		// Still full of live entries: drop arbitrary ones; they are re-checked on use.
		for k := range c.entries {
			if len(c.entries) < defaultCacheMaxLen {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[key] = e
}

// jwtExpiry reads the exp claim of a JWT without verifying it. It is only ever used to
// shorten how long a result is cached, so a forged claim gains nothing.
func jwtExpiry(token string) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp *json.Number `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Exp == nil {
		return time.Time{}, false
	}
	sec, err := claims.Exp.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(sec), 0), true
}

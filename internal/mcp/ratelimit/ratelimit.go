// Package ratelimit gives each caller its own token bucket, so that one busy or
// runaway client slows only itself.
package ratelimit

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// idleAfter is how long an unused bucket is kept; a full bucket is equivalent to a
// fresh one, so forgetting it changes nothing but memory.
const idleAfter = 10 * time.Minute

// Limiter holds one bucket per key.
type Limiter struct {
	// PerSecond is the refill rate; Burst the bucket size.
	PerSecond float64
	Burst     int
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim      *rate.Limiter
	lastSeen time.Time
}

// Allow takes one token from key's bucket. When the bucket is empty it returns false
// and how long until a token is available.
func (l *Limiter) Allow(key string) (bool, time.Duration) { return l.AllowN(key, 1) }

// AllowN takes n tokens from key's bucket at once, or none: when the bucket holds fewer
// it returns false and how long until it holds n. n larger than the burst is never
// allowed (false, with a wait of a second).
func (l *Limiter) AllowN(key string, n int) (bool, time.Duration) {
	if l == nil || l.PerSecond <= 0 || n <= 0 {
		return true, 0
	}
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[string]*bucket{}
	}
	if now.Sub(l.lastSweep) > idleAfter {
		for k, b := range l.buckets {
			if now.Sub(b.lastSeen) > idleAfter {
				delete(l.buckets, k)
			}
		}
		l.lastSweep = now
	}
	b := l.buckets[key]
	if b == nil {
		burst := max(l.Burst, 1)
		b = &bucket{lim: rate.NewLimiter(rate.Limit(l.PerSecond), burst)}
		l.buckets[key] = b
	}
	b.lastSeen = now
	r := b.lim.ReserveN(now, n)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// RetryAfterSeconds renders d for a Retry-After header: whole seconds, at least 1.
func RetryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

package ratelimit

import (
	"testing"
	"time"
)

func TestLimiterPerKey(t *testing.T) {
	now := time.Unix(1000, 0)
	l := &Limiter{PerSecond: 1, Burst: 2, Now: func() time.Time { return now }}
	for i := range 2 {
		if ok, _ := l.Allow("alice"); !ok {
			t.Fatalf("call %d within the burst was refused", i)
		}
	}
	ok, wait := l.Allow("alice")
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("third call: ok=%v wait=%v, want refused with a wait of at most 1s", ok, wait)
	}
	if ok, _ := l.Allow("bob"); !ok {
		t.Fatal("bob was limited by alice's calls")
	}
	now = now.Add(time.Second)
	if ok, _ := l.Allow("alice"); !ok {
		t.Fatal("alice was still limited after the bucket refilled")
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int
	}{{0, 1}, {time.Millisecond, 1}, {time.Second, 1}, {1500 * time.Millisecond, 2}, {10 * time.Second, 10}} {
		if got := RetryAfterSeconds(tc.d); got != tc.want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}

func TestDisabledLimiterAllowsAll(t *testing.T) {
	var l *Limiter
	if ok, _ := l.Allow("x"); !ok {
		t.Fatal("a nil limiter refused a call")
	}
}

func TestAllowNTakesAllOrNothing(t *testing.T) {
	now := time.Unix(1000, 0)
	l := &Limiter{PerSecond: 1, Burst: 10, Now: func() time.Time { return now }}
	if ok, _ := l.AllowN("alice", 8); !ok {
		t.Fatal("8 of a bucket of 10 were refused")
	}
	ok, wait := l.AllowN("alice", 3)
	if ok || wait != time.Second {
		t.Fatalf("3 more with 2 left: ok=%v wait=%v, want refused with a wait of 1s", ok, wait)
	}
	if ok, _ := l.AllowN("alice", 2); !ok {
		t.Fatal("a refused AllowN took tokens: the 2 left were refused")
	}
	if ok, _ := l.AllowN("bob", 11); ok {
		t.Fatal("more than the burst was allowed")
	}
}

package llm

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryAfter reads how long the server asked the client to wait: the non-standard
// retry-after-ms header (OpenAI, Anthropic) first because it is more precise, then
// Retry-After in seconds or as an HTTP date (RFC 9110). It returns 0 when there is no
// usable hint. Hints are capped at maxRetryAfter so a hostile value cannot overflow.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	if h == nil {
		return 0
	}
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return capHint(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return capHint(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, maxRetryAfter)
		}
	}
	return 0
}

// maxRetryAfter bounds a server's hint; no call waits that long anyway.
const maxRetryAfter = 24 * time.Hour

func capHint(ns float64) time.Duration {
	if ns >= float64(maxRetryAfter) {
		return maxRetryAfter
	}
	return time.Duration(ns)
}

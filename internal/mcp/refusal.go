package mcp

import (
	"net/http"
	"sync"
	"time"

	"github.com/kubeask/kubeask/internal/mcp/audit"
	"github.com/kubeask/kubeask/internal/mcp/auth"
	"github.com/kubeask/kubeask/internal/mcp/ratelimit"
)

// Refusal lines are rate-limited for the whole endpoint: refusalLinesPerSecond
// sustained, refusalLinesBurst at once; the next line written says how many were not.
const (
	refusalLinesPerSecond = 5
	refusalLinesBurst     = 20
	maxUserAgent          = 200
)

// refusalLog rate-limits the audit lines of refused requests.
type refusalLog struct {
	limiter ratelimit.Limiter

	mu         sync.Mutex
	suppressed int
}

func newRefusalLog() *refusalLog {
	return &refusalLog{limiter: ratelimit.Limiter{PerSecond: refusalLinesPerSecond, Burst: refusalLinesBurst}}
}

// refused counts a request the endpoint turns away (the metric) and audits it, as far
// as the refusal lines' rate limit allows. caller is nil when the request was refused
// before its caller was known. The request's credential is never written.
func (s *Server) refused(r *http.Request, status int, reason string, caller *auth.Caller, detail string) {
	s.metrics.Reject(reason)
	if s.audit == nil {
		return
	}
	if ok, _ := s.refusals.limiter.Allow(""); !ok {
		s.refusals.mu.Lock()
		s.refusals.suppressed++
		s.refusals.mu.Unlock()
		return
	}
	s.refusals.mu.Lock()
	suppressed := s.refusals.suppressed
	s.refusals.suppressed = 0
	s.refusals.mu.Unlock()
	rec := audit.Refusal{
		Time: time.Now().UTC(), Status: status, Reason: reason, Method: r.Method, Path: r.URL.Path,
		RemoteAddr: r.RemoteAddr, UserAgent: truncate(r.UserAgent(), maxUserAgent), Origin: truncate(r.Header.Get("Origin"), maxUserAgent),
		Detail: detail, Suppressed: suppressed,
	}
	if caller != nil {
		rec.User, rec.UID, rec.Groups, rec.Auth = caller.Identity.Username, caller.Identity.UID, caller.Identity.Groups, caller.Mode
	}
	s.audit.LogRefusal(rec)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

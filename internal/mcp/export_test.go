package mcp

import "time"

// SSECallers is how many callers the legacy SSE transport keeps an entry for.
func (s *Server) SSECallers() int { return s.sse.callers() }

// SetRefusalClock makes the rate limit of refusal audit lines read the time from now.
func (s *Server) SetRefusalClock(now func() time.Time) { s.refusals.limiter.Now = now }

package mcp

// SSECallers is how many callers the legacy SSE transport keeps an entry for.
func (s *Server) SSECallers() int { return s.sse.callers() }

package mcp

import (
	"context"
	"net/http"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/kubeask/kubeask/internal/mcp/auth"
)

// sseSessions keeps one SDK SSE handler per caller. A legacy SSE session is a
// long-lived GET plus POSTs naming its session id; keeping each caller's sessions in
// a handler of their own means a POST is only ever matched against the sessions its
// own (freshly authenticated) caller opened, so a leaked session id is useless to
// anyone else.
type sseSessions struct {
	mu       sync.Mutex
	byCaller map[string]*sseEntry
}

type sseEntry struct {
	handler *mcp.SSEHandler
	open    int
}

func (s *Server) serveSSE(w http.ResponseWriter, r *http.Request) {
	caller := callerFromContext(r.Context())
	key := caller.Key()
	s.sse.mu.Lock()
	e := s.sse.byCaller[key]
	if e == nil {
		e = &sseEntry{handler: mcp.NewSSEHandler(func(req *http.Request) *mcp.Server {
			// Each SSE session gets a server bound to the caller that opened it; the
			// SDK does not pass per-POST credentials to handlers on this transport.
			c := callerFromContext(req.Context())
			remote := req.RemoteAddr
			return s.newMCPServer(func(*mcp.CallToolRequest) (*auth.Caller, string) { return c, remote })
		}, &mcp.SSEOptions{MaxRequestBodyBytes: s.opts.MaxBodyBytes})}
		s.sse.byCaller[key] = e
	}
	isStream := r.Method == http.MethodGet
	if isStream {
		e.open++
	}
	s.sse.mu.Unlock()
	if !isStream {
		e.handler.ServeHTTP(w, r)
		return
	}
	defer func() {
		s.sse.mu.Lock()
		e.open--
		if e.open == 0 {
			delete(s.sse.byCaller, key)
		}
		s.sse.mu.Unlock()
	}()
	// End the stream when the server starts shutting down, so that Shutdown does not
	// wait for clients that never hang up.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.draining, cancel)
	defer stop()
	e.handler.ServeHTTP(w, r.WithContext(ctx))
}

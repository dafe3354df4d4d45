package mcp

import (
	"context"
	"fmt"
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
//
// A caller's entry lives exactly as long as one of its streams is open: a GET creates
// it and the end of its last stream removes it. A request that is not a GET never
// creates one, since a caller with no open stream has no session for it to name; it is
// answered by none, a handler with no sessions, so that however many such requests
// come, from however many callers, nothing is kept.
//
// Streams are also counted per person (Caller.RateKey: username, uid and groups, so
// that more tokens buy no more streams), and a GET beyond the bound gets 429: each
// stream holds a connection and a goroutine for as long as the client keeps it.
type sseSessions struct {
	mu       sync.Mutex
	byCaller map[string]*sseEntry
	streams  map[string]int
	none     *mcp.SSEHandler
}

type sseEntry struct {
	handler *mcp.SSEHandler
	open    int
}

func newSSESessions(opts *mcp.SSEOptions) *sseSessions {
	return &sseSessions{
		byCaller: map[string]*sseEntry{},
		streams:  map[string]int{},
		// Only GETs open sessions, and none never serves one.
		none: mcp.NewSSEHandler(func(*http.Request) *mcp.Server { return nil }, opts),
	}
}

// callers is how many callers have an entry.
func (s *sseSessions) callers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byCaller)
}

func (s *Server) serveSSE(w http.ResponseWriter, r *http.Request) {
	caller := callerFromContext(r.Context())
	key := caller.Key()
	isStream := r.Method == http.MethodGet
	s.sse.mu.Lock()
	e := s.sse.byCaller[key]
	if !isStream {
		s.sse.mu.Unlock()
		if e == nil {
			// 404 for a session id, 400 without one, 405 or 415 as the SDK answers.
			s.sse.none.ServeHTTP(w, r)
			return
		}
		e.handler.ServeHTTP(w, r)
		return
	}
	person := caller.RateKey()
	if s.sse.streams[person] >= s.opts.MaxSSEStreams {
		s.sse.mu.Unlock()
		s.refused(r, http.StatusTooManyRequests, "sse_streams", caller, "too many open SSE streams (--mcp-max-sse-streams)")
		w.Header().Set("Retry-After", "5")
		http.Error(w, fmt.Sprintf("Too Many Requests: you hold %d open SSE streams, the most one user may (--mcp-max-sse-streams); close one first", s.opts.MaxSSEStreams), http.StatusTooManyRequests)
		return
	}
	s.sse.streams[person]++
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
	e.open++
	s.sse.mu.Unlock()
	defer func() {
		s.sse.mu.Lock()
		e.open--
		if e.open == 0 {
			delete(s.sse.byCaller, key)
		}
		if s.sse.streams[person]--; s.sse.streams[person] <= 0 {
			delete(s.sse.streams, person)
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

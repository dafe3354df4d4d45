package webui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/follow"
)

// Stream bounds: a stream ends after streamLifetime (the browser reconnects, and the
// session and token are checked again); a comment every keepAlive keeps proxies from
// closing an idle stream.
const (
	streamLifetime = 10 * time.Minute
	keepAlive      = 15 * time.Second
)

// live streams a query as server-sent events: its article, rendered again each time
// the query changes, until it stops (answered, failed, or waiting for a person). The
// changes come from a watch made as the person, with kubectl ask's own follow code:
// nothing is read from the manager's cache.
func (s *Server) live(w http.ResponseWriter, r *http.Request, v *visit) {
	ns, name := r.PathValue("ns"), r.PathValue("name")
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), streamLifetime)
	defer cancel()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	var mu sync.Mutex
	started := false
	send := func(event, data string) {
		mu.Lock()
		defer mu.Unlock()
		if !started {
			w.WriteHeader(http.StatusOK)
			started = true
		}
		var b strings.Builder
		if event != "" {
			fmt.Fprintf(&b, "event: %s\n", event)
		}
		for _, line := range strings.Split(data, "\n") {
			fmt.Fprintf(&b, "data: %s\n", line)
		}
		b.WriteString("\n")
		_, _ = w.Write([]byte(b.String()))
		flusher.Flush()
	}
	go func() {
		t := time.NewTicker(keepAlive)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				mu.Lock()
				if started {
					_, _ = w.Write([]byte(": keep-alive\n\n"))
					flusher.Flush()
				}
				mu.Unlock()
			}
		}
	}()
	v.did("watch", "agentqueries", ns, name)
	back := r.URL.Query().Get("back")
	if !strings.HasPrefix(back, "/ns/") || strings.Contains(back, "//") {
		back = "/ns/" + ns + "/queries/" + name
	}
	last := ""
	_, err := follow.Watch(ctx, v.who.client, client.ObjectKey{Namespace: ns, Name: name}, func(q *agentsv1alpha1.AgentQuery) {
		html, err := s.fragment("query", s.viewQuery(ctx, v, q, back))
		if err != nil || html == last {
			return
		}
		last = html
		send("query", html)
	})
	switch {
	case err == nil:
		send("done", "")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// The browser reconnects and carries on.
	default:
		mu.Lock()
		headerSent := started
		mu.Unlock()
		if !headerSent {
			http.Error(w, err.Error(), apiStatus(err))
			return
		}
		send("failed", err.Error())
	}
}

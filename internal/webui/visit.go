package webui

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kubeask/kubeask/internal/mcp/audit"
	"github.com/kubeask/kubeask/internal/mcp/auth"
	"github.com/kubeask/kubeask/internal/mcp/ratelimit"
)

// visit is one request of a known person.
type visit struct {
	who  *person
	sess *uiSession
	// Set by handlers for the audit line.
	args    map[string]string
	access  []audit.Access
	query   *audit.QueryRef
	outcome string
	err     string
}

func (v *visit) did(verb, resource, ns, name string) {
	v.access = append(v.access, audit.Access{Verb: verb, Resource: resource, Namespace: ns, Name: name})
}

// person wraps a handler that needs to know who asks: it finds the session, checks
// the token again (in the cluster), rate limits the person, checks CSRF on every state
// change, and writes the audit line.
func (s *Server) person(route string, h func(http.ResponseWriter, *http.Request, *visit)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sess := s.fromRequest(r)
		if sess == nil {
			s.unauthenticated(w, r)
			return
		}
		who, err := s.who(r.Context(), sess)
		if errors.Is(err, auth.ErrUnauthenticated) {
			s.sessions.drop(sess)
			s.clearCookie(w)
			s.unauthenticated(w, r)
			return
		}
		if err != nil {
			s.render(w, r, http.StatusServiceUnavailable, "message", nil, message{Title: "Cannot check who you are", Text: err.Error()})
			return
		}
		v := &visit{who: who, sess: sess, args: map[string]string{}}
		for _, k := range []string{"ns", "name"} {
			if val := r.PathValue(k); val != "" {
				v.args[k] = val
			}
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() { s.auditVisit(r, route, v, rec.status, start) }()
		if ok, wait := s.limiter.Allow(who.rateKey); !ok {
			rec.Header().Set("Retry-After", strconv.Itoa(ratelimit.RetryAfterSeconds(wait)))
			v.outcome = audit.OutcomeRefused
			s.render(rec, r, http.StatusTooManyRequests, "message", v, message{Title: "Slow down", Text: "Too many requests from you; try again in a moment."})
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(rec, r.Body, 1<<20)
			if !sameOrigin(r) || !validCSRF(r, sess) {
				v.outcome, v.err = audit.OutcomeRefused, "CSRF check failed"
				s.render(rec, r, http.StatusForbidden, "message", v, message{
					Title: "This form is out of date",
					Text:  "The request did not carry this page's security token (it may come from another site, or from before you logged in again). Go back, reload the page and try again.",
				})
				return
			}
		}
		h(rec, r, v)
	})
}

// auditVisit writes the MCP endpoint's audit line for a request, with the route as the
// tool: who, what, which API calls were made as them, how it ended.
func (s *Server) auditVisit(r *http.Request, route string, v *visit, status int, start time.Time) {
	outcome := v.outcome
	if outcome == "" {
		switch {
		case status == http.StatusForbidden:
			outcome = audit.OutcomeForbidden
		case status >= 500:
			outcome = audit.OutcomeFailed
		case status >= 400:
			outcome = audit.OutcomeToolError
		default:
			outcome = audit.OutcomeOK
		}
	}
	args, err := json.Marshal(v.args)
	if err != nil { // strings only: it cannot fail
		args = nil
	}
	s.audit.Log(audit.Record{
		Time: start.UTC(), User: v.who.name, UID: v.who.uid, Groups: v.who.groups, Auth: v.who.authBy,
		Client: "kubeask-ui", RemoteAddr: r.RemoteAddr, Tool: "ui." + route, Arguments: args,
		Kubernetes: v.access, Outcome: outcome, Error: v.err, Query: v.query,
		LatencyMS: float64(time.Since(start).Microseconds()) / 1000,
	})
}

// statusRecorder remembers the status for the audit line and still flushes (SSE).
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// safeNext keeps a redirect target on this site: a path, never //host or a URL.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return url.QueryEscape(next)
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// apiStatus maps an API error to the page's status.
func apiStatus(err error) int {
	switch {
	case apierrors.IsForbidden(err):
		return http.StatusForbidden
	case apierrors.IsNotFound(err):
		return http.StatusNotFound
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err), apierrors.IsConflict(err), apierrors.IsAlreadyExists(err):
		return http.StatusUnprocessableEntity
	case apierrors.IsUnauthorized(err):
		return http.StatusUnauthorized
	}
	return http.StatusBadGateway
}

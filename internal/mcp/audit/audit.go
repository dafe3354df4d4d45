// Package audit writes one structured JSON line per MCP tool call: who called which
// tool with which (masked) arguments, what the call did on the API server, how it
// ended and how long it took.
package audit

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// Access is one Kubernetes call made during a tool call.
type Access struct {
	Verb      string `json:"verb"`
	Resource  string `json:"resource"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
}

// Outcomes of a tool call.
const (
	// OutcomeOK: the tool ran and returned a result.
	OutcomeOK = "ok"
	// OutcomeForbidden: the API server refused the caller (403), reported as a tool error.
	OutcomeForbidden = "forbidden"
	// OutcomeToolError: the tool reported an error the caller can act on (not found,
	// invalid arguments, ...).
	OutcomeToolError = "tool_error"
	// OutcomeRefused: the endpoint's mutation policy, or the user, refused the call.
	OutcomeRefused = "refused"
	// OutcomeInputRequired: the call waits for the user's confirmation (elicitation).
	OutcomeInputRequired = "input_required"
	// OutcomeFailed: the tool itself failed (a bug or an outage).
	OutcomeFailed = "failed"
	// OutcomeThrottled: the endpoint's own Kubernetes client for the caller was
	// throttled (client-side rate limit); the call was not made and may be retried.
	OutcomeThrottled = "throttled"
)

// Record is one audit line.
type Record struct {
	Time       time.Time           `json:"time"`
	Kind       string              `json:"kind"`
	User       string              `json:"user"`
	UID        string              `json:"uid,omitempty"`
	Groups     []string            `json:"groups,omitempty"`
	Auth       string              `json:"auth"`
	Client     string              `json:"client,omitempty"`
	RemoteAddr string              `json:"remoteAddr,omitempty"`
	Tool       string              `json:"tool"`
	Arguments  json.RawMessage     `json:"arguments,omitempty"`
	Kubernetes []Access            `json:"kubernetes"`
	Outcome    string              `json:"outcome"`
	Error      string              `json:"error,omitempty"`
	LatencyMS  float64             `json:"latencyMs"`
	Query      *QueryRef           `json:"query,omitempty"`
	Extra      map[string][]string `json:"-"`
}

// QueryRef names the AgentQuery an ask call created.
type QueryRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// Kind marks audit lines among other logs.
const Kind = "kubeask.mcp.audit/v1"

// Logger writes records as JSON lines to W. It is safe for concurrent use.
type Logger struct {
	mu sync.Mutex
	w  io.Writer
}

// NewLogger writes to w; nil w discards.
func NewLogger(w io.Writer) *Logger {
	return &Logger{w: w}
}

// Log writes r as one line. Arguments must already be masked (see Mask).
func (l *Logger) Log(r Record) {
	if l == nil || l.w == nil {
		return
	}
	r.Kind = Kind
	if r.Kubernetes == nil {
		r.Kubernetes = []Access{}
	}
	line, err := marshal(r)
	if err != nil {
		line, _ = marshal(Record{Time: r.Time, Kind: Kind, User: r.User, Tool: r.Tool, Outcome: r.Outcome, Error: "audit record not encodable: " + err.Error()})
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.w.Write(line)
}

// RefusalKind marks the lines of HTTP requests the endpoint refused before they
// reached a tool (401, 403, 413, 429, 503).
const RefusalKind = "kubeask.mcp.refusal/v1"

// Refusal is one refused request. It never holds the credential: Detail is the
// endpoint's own reason, not anything the request carried.
type Refusal struct {
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"`
	Status int       `json:"status"`
	// Reason is the kubeask_mcp_http_rejected_total reason: unauthenticated,
	// forbidden, origin, rate_limited, batch_too_large, sse_streams, auth_unavailable.
	Reason     string   `json:"reason"`
	Method     string   `json:"method"`
	Path       string   `json:"path"`
	RemoteAddr string   `json:"remoteAddr,omitempty"`
	UserAgent  string   `json:"userAgent,omitempty"`
	Origin     string   `json:"origin,omitempty"`
	User       string   `json:"user,omitempty"`
	UID        string   `json:"uid,omitempty"`
	Groups     []string `json:"groups,omitempty"`
	Auth       string   `json:"auth,omitempty"`
	Detail     string   `json:"detail,omitempty"`
	// Suppressed is how many refusals were not written since the previous line: the
	// lines are rate-limited, so that a flood of bad requests is not a flood of lines.
	Suppressed int `json:"suppressed,omitempty"`
}

// LogRefusal writes r as one line.
func (l *Logger) LogRefusal(r Refusal) {
	if l == nil || l.w == nil {
		return
	}
	r.Kind = RefusalKind
	line, err := marshal(r)
	if err != nil {
		return
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.w.Write(line)
}

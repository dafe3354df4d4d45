// Package metrics counts MCP tool calls per tool and outcome, and requests the
// endpoint turned away before they reached a tool.
package metrics

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the endpoint's Prometheus collectors.
type Metrics struct {
	Calls    *prometheus.CounterVec
	Duration *prometheus.HistogramVec
	Rejected *prometheus.CounterVec
	// Throttled counts tool calls that the endpoint's own Kubernetes clients throttled
	// (client-go's client-side rate limit), by tool.
	Throttled *prometheus.CounterVec
}

// New builds the collectors and registers them on reg (controller-runtime's registry
// in the manager, so they are served on its metrics endpoint). Collectors already
// registered by an earlier server in the process are reused.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubeask_mcp_tool_calls_total",
			Help: "MCP tool calls by tool and outcome (ok, forbidden, tool_error, refused, input_required, failed).",
		}, []string{"tool", "outcome"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kubeask_mcp_tool_call_duration_seconds",
			Help:    "Latency of MCP tool calls by tool and outcome.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"tool", "outcome"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubeask_mcp_http_rejected_total",
			Help: "HTTP requests to the MCP endpoint refused before reaching a tool, by reason (unauthenticated, forbidden, rate_limited, batch_too_large, sse_streams, origin, auth_unavailable).",
		}, []string{"reason"}),
		Throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubeask_mcp_client_throttled_total",
			Help: "MCP tool calls refused because the endpoint's own Kubernetes client for the caller was throttled (client-side rate limit, --kube-api-qps/--kube-api-burst), by tool.",
		}, []string{"tool"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.Calls, err = register(reg, m.Calls)
	if err != nil {
		return nil, err
	}
	m.Duration, err = register(reg, m.Duration)
	if err != nil {
		return nil, err
	}
	m.Rejected, err = register(reg, m.Rejected)
	if err != nil {
		return nil, err
	}
	m.Throttled, err = register(reg, m.Throttled)
	if err != nil {
		return nil, err
	}
	return m, nil
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}

// ObserveCall records one tool call.
func (m *Metrics) ObserveCall(tool, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.Calls.WithLabelValues(tool, outcome).Inc()
	m.Duration.WithLabelValues(tool, outcome).Observe(d.Seconds())
}

// Reject records a refused HTTP request.
func (m *Metrics) Reject(reason string) {
	if m == nil {
		return
	}
	m.Rejected.WithLabelValues(reason).Inc()
}

// Throttle records a tool call the client-side rate limit stopped.
func (m *Metrics) Throttle(tool string) {
	if m == nil {
		return
	}
	m.Throttled.WithLabelValues(tool).Inc()
}

package mcp

import (
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/kubeask/kubeask/internal/mcp/audit"
)

// throttledText is the tool error of a call stopped by the client-side rate limit.
const throttledText = "kubeask is sending the API server too many requests for you right now (the endpoint's client-side rate limit): " +
	"the call was not made. Retry in a few seconds, with fewer calls at once."

// clientThrottled reports whether err is client-go's client-side rate limiter refusing
// to wait (the wait would outlast the call's deadline): the endpoint's own limit, not
// the API server's answer. client-go wraps the limiter's error in this text and no
// error type.
func clientThrottled(err error) bool {
	return err != nil && strings.Contains(err.Error(), "client rate limiter Wait returned an error")
}

// throttleLogInterval is how long the endpoint stays quiet about client-side
// throttling after saying so: a throttled client is throttled on many calls, and the
// counter metric counts each.
const throttleLogInterval = time.Minute

// throttleLog says once, at warning level, that calls are being throttled, then at
// most once per throttleLogInterval with how many it did not report.
type throttleLog struct {
	now func() time.Time

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (t *throttleLog) report(log logr.Logger, tool, user string, err error) {
	now := time.Now()
	if t.now != nil {
		now = t.now()
	}
	t.mu.Lock()
	if !t.last.IsZero() && now.Sub(t.last) < throttleLogInterval {
		t.suppressed++
		t.mu.Unlock()
		return
	}
	suppressed := t.suppressed
	t.last, t.suppressed = now, 0
	t.mu.Unlock()
	log.Info("WARNING: MCP tool calls are throttled by the endpoint's own Kubernetes clients (client-side rate limit); callers get a retryable tool error. "+
		"Raise --kube-api-qps and --kube-api-burst if this is regular load; kubeask_mcp_client_throttled_total counts every such call",
		"tool", tool, "user", user, "reason", err.Error(), "notReportedSinceLast", suppressed)
}

// throttled answers a call stopped by the client-side rate limit: counted, logged
// once in a while, audited as throttled.
func (c *call) throttled(err error) *mcp.CallToolResult {
	c.s.metrics.Throttle(c.tool)
	c.s.throttleLog.report(c.s.log, c.tool, c.caller.Identity.Username, err)
	return c.finish(toolError(throttledText), audit.OutcomeThrottled, firstLine(err.Error()))
}

// errorResult turns an error of the Kubernetes clients of ask, sessions_list and
// triggers_list into the call's result.
func (c *call) errorResult(err error, outcome string) *mcp.CallToolResult {
	if clientThrottled(err) {
		return c.throttled(err)
	}
	res := classified(err)
	if outcome == "" {
		outcome = outcomeOf(res)
	}
	return c.finish(res, outcome, err.Error())
}

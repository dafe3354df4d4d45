package mcp_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"k8s.io/client-go/rest"

	"github.com/kubeask/kubeask/internal/identity"
	kmcp "github.com/kubeask/kubeask/internal/mcp"
)

// counter reads a counter of the server's registry by name and labels.
func counter(t *testing.T, ts *testServer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := ts.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// pingBatch is a JSON-RPC batch of n pings.
func pingBatch(n int) string {
	msgs := make([]string, n)
	for i := range msgs {
		msgs[i] = fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"ping"}`, i+1)
	}
	return "[" + strings.Join(msgs, ",") + "]"
}

// A JSON-RPC batch (accepted from clients that send no MCP-Protocol-Version header)
// pays the rate limit for each of its messages, and holds at most the burst.
func TestBatchPaysPerMessage(t *testing.T) {
	ts := newServer(t, func(c *kmcp.Config) { c.Options.RateLimit, c.Options.RateBurst = 0.2, 10 })
	if code, _ := rawPost(t, ts.URL, aliceToken, pingBatch(11)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a batch larger than the burst: status %d, want 413", code)
	}
	if code, _ := rawPost(t, ts.URL, bobToken, pingBatch(kmcp.MaxBatchMessages+1)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a batch of %d: status %d, want 413", kmcp.MaxBatchMessages+1, code)
	}
	if code, _ := rawPost(t, ts.URL, aliceToken, pingBatch(8)); code != http.StatusOK {
		t.Fatalf("a batch of 8 within a burst of 10: status %d", code)
	}
	// 2 tokens left: a second batch of 8 is refused.
	code, header := rawPost(t, ts.URL, aliceToken, pingBatch(8))
	if code != http.StatusTooManyRequests {
		t.Fatalf("a second batch of 8: status %d, want 429 (the first must have paid for its 8 messages)", code)
	}
	if secs, err := strconv.Atoi(header.Get("Retry-After")); err != nil || secs < 1 {
		t.Errorf("Retry-After = %q", header.Get("Retry-After"))
	}
	if code, _ := rawPost(t, ts.URL, bobToken, pingBatch(8)); code != http.StatusOK {
		t.Errorf("bob's batch was limited by alice's: status %d", code)
	}
	if got := counter(t, ts, "kubeask_mcp_http_rejected_total", map[string]string{"reason": "batch_too_large"}); got != 2 {
		t.Errorf("batch_too_large rejections = %v, want 2", got)
	}
}

// sseStream opens a legacy SSE stream and returns the server's status; the stream
// stays open until close is called (or the test ends).
func sseStream(t *testing.T, url, token string) (status int, close func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	close = sync.OnceFunc(func() { cancel(); _ = resp.Body.Close() })
	t.Cleanup(close)
	return resp.StatusCode, close
}

// One user holds at most --mcp-max-sse-streams open SSE streams; others are not
// affected, and a closed stream frees its place.
func TestSSEStreamsPerUser(t *testing.T) {
	ts := newServer(t, func(c *kmcp.Config) { c.Options.MaxSSEStreams = 2 })
	url := ts.Base + kmcp.PathSSE
	first, closeFirst := sseStream(t, url, aliceToken)
	second, _ := sseStream(t, url, aliceToken)
	if first != http.StatusOK || second != http.StatusOK {
		t.Fatalf("alice's first two streams: status %d and %d", first, second)
	}
	if third, _ := sseStream(t, url, aliceToken); third != http.StatusTooManyRequests {
		t.Fatalf("a third stream of alice: status %d, want 429", third)
	}
	if bob, _ := sseStream(t, url, bobToken); bob != http.StatusOK {
		t.Errorf("bob's stream: status %d", bob)
	}
	if got := counter(t, ts, "kubeask_mcp_http_rejected_total", map[string]string{"reason": "sse_streams"}); got != 1 {
		t.Errorf("sse_streams rejections = %v, want 1", got)
	}
	closeFirst()
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, closeIt := sseStream(t, url, aliceToken)
		if status == http.StatusOK {
			break
		}
		closeIt()
		if time.Now().After(deadline) {
			t.Fatalf("a closed stream did not free its place: status %d", status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logLines collects a logr.Logger's lines.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logger() funcr.Options { return funcr.Options{Verbosity: 1} }

func (l *logLines) write(prefix, args string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, prefix+" "+args)
}

func (l *logLines) matching(substrings ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		all := true
		for _, s := range substrings {
			all = all && strings.Contains(line, s)
		}
		if all {
			out = append(out, line)
		}
	}
	return out
}

// When the endpoint's own client for a caller is throttled (client-go's client-side
// rate limit), the call is a retryable tool error, counted by a metric and audited as
// throttled, and the log says so once, as a warning, not as an error per call.
func TestClientSideThrottling(t *testing.T) {
	logs := &logLines{}
	ts := newServer(t, func(c *kmcp.Config) {
		slow := rest.CopyConfig(env(t).operatorCfg)
		slow.QPS, slow.Burst = 0.001, 1
		ids, err := identity.NewFactory(slow, identity.Policy{})
		if err != nil {
			t.Fatal(err)
		}
		c.Identities = ids
		c.Options.ToolTimeout = 5 * time.Second
		c.Log = funcr.New(logs.write, logs.logger())
	})
	cs := connect(t, ts.URL, aliceToken, nil)
	throttled := 0
	const calls = 6
	for range calls {
		text, isErr := callTool(t, cs, "resources_get", map[string]any{"resource": "pods", "namespace": "team-a", "name": "checkout-1"})
		if !isErr {
			continue
		}
		if !strings.Contains(text, "client-side rate limit") || !strings.Contains(text, "Retry") {
			t.Errorf("a throttled call's result does not say so:\n%s", text)
		}
		throttled++
	}
	if throttled < calls-2 {
		t.Fatalf("%d of %d calls were throttled, want at least %d with a burst of 1", throttled, calls, calls-2)
	}
	if got := counter(t, ts, "kubeask_mcp_client_throttled_total", map[string]string{"tool": "resources_get"}); got != float64(throttled) {
		t.Errorf("kubeask_mcp_client_throttled_total = %v, want %d", got, throttled)
	}
	if got := counter(t, ts, "kubeask_mcp_tool_calls_total", map[string]string{"tool": "resources_get", "outcome": "throttled"}); got != float64(throttled) {
		t.Errorf("calls with outcome throttled = %v, want %d", got, throttled)
	}
	if warnings := logs.matching("WARNING", "throttled"); len(warnings) != 1 {
		t.Errorf("%d warnings about throttling, want 1:\n%s", len(warnings), strings.Join(warnings, "\n"))
	}
	if errs := logs.matching(`"error"=`); len(errs) != 0 {
		t.Errorf("throttling was logged as an error:\n%s", strings.Join(errs, "\n"))
	}
}

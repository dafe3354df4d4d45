package mcp_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	kmcp "github.com/kubeask/kubeask/internal/mcp"
)

// A kubectl call the API server refuses is audited as forbidden, with the verb,
// resource, namespace and name it was refused, not only the command line.
func TestKubectlDenialIsAuditedAsForbidden(t *testing.T) {
	ts := newServer(t, func(c *kmcp.Config) { c.KubectlPath = kubectlPath(t) })
	cs := connect(t, ts.URL, aliceToken, nil)
	for _, tc := range []struct {
		args []string
		want map[string]any
	}{
		{[]string{"get", "pods", "-n", "team-b"}, map[string]any{"verb": "list", "resource": "pods", "namespace": "team-b"}},
		{[]string{"get", "pod", "payments-1", "-n", "team-b", "-o", "yaml"}, map[string]any{"verb": "get", "resource": "pods", "namespace": "team-b", "name": "payments-1"}},
	} {
		text, isErr := callTool(t, cs, "kubectl", map[string]any{"args": tc.args})
		if !isErr || !strings.Contains(text, "Forbidden") {
			t.Fatalf("kubectl %v as alice: error=%v:\n%s", tc.args, isErr, text)
		}
		recs := ts.Audit.records(t)
		rec := recs[len(recs)-1]
		if rec["outcome"] != "forbidden" {
			t.Errorf("kubectl %v: outcome %v, want forbidden", tc.args, rec["outcome"])
		}
		if e, _ := rec["error"].(string); !strings.Contains(e, "is forbidden: User \"alice\" cannot") {
			t.Errorf("kubectl %v: error line %q does not say what was refused", tc.args, e)
		}
		found := false
		for _, a := range rec["kubernetes"].([]any) {
			m := a.(map[string]any)
			if fmt.Sprint(m) == fmt.Sprint(tc.want) {
				found = true
			}
		}
		if !found {
			t.Errorf("kubectl %v: kubernetes = %v, want %v among them", tc.args, rec["kubernetes"], tc.want)
		}
	}
	if got := counter(t, ts, "kubeask_mcp_tool_calls_total", map[string]string{"tool": "kubectl", "outcome": "forbidden"}); got != 2 {
		t.Errorf("kubectl calls counted forbidden: %v, want 2", got)
	}
}

// refusals are the audit lines of refused requests.
func refusals(t *testing.T, ts *testServer) []map[string]any {
	t.Helper()
	return ts.Audit.linesOf(t, "kubeask.mcp.refusal/v1")
}

// Requests refused with 401, 403 and 429 get an audit line without the credential;
// the lines are rate-limited and the next line says how many were left out.
func TestRefusedRequestsAreAudited(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(2_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ts := newServer(t, func(c *kmcp.Config) { c.Options.RateLimit, c.Options.RateBurst = 0.01, 1 })
	ts.SetRefusalClock(clock)
	const badToken = "bad-token-4f9c2e7a1b3d5e6f"
	if code, _ := rawPost(t, ts.URL, "", initializeBody); code != http.StatusUnauthorized {
		t.Fatalf("no token: status %d", code)
	}
	if code, _ := rawPost(t, ts.URL, badToken, initializeBody, "User-Agent", "probe/1.0"); code != http.StatusUnauthorized {
		t.Fatalf("a bad token: status %d", code)
	}
	if code, _ := rawPost(t, ts.URL, aliceToken, initializeBody, "Origin", "http://evil.example"); code != http.StatusForbidden {
		t.Fatalf("a foreign origin: status %d", code)
	}
	if code, _ := rawPost(t, ts.URL, aliceToken, initializeBody); code != http.StatusOK {
		t.Fatalf("alice within her burst: status %d", code)
	}
	if code, _ := rawPost(t, ts.URL, aliceToken, initializeBody); code != http.StatusTooManyRequests {
		t.Fatalf("alice beyond her burst: status %d", code)
	}
	got := refusals(t, ts)
	want := []struct {
		status        float64
		reason, user  string
		detailOrAgent string
	}{
		{401, "unauthenticated", "", "a bearer token is required"},
		{401, "unauthenticated", "", "probe/1.0"},
		{403, "origin", "", "http://evil.example"},
		{429, "rate_limited", "alice", "rate limit"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d refusal lines, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		r := got[i]
		if r["status"] != w.status || r["reason"] != w.reason || (r["user"] != nil && r["user"] != w.user) || (w.user != "" && r["user"] != w.user) ||
			r["path"] != kmcp.PathStreamable || r["method"] != http.MethodPost || !strings.Contains(fmt.Sprint(r), w.detailOrAgent) {
			t.Errorf("refusal %d = %v, want status %v reason %s user %q with %q", i, r, w.status, w.reason, w.user, w.detailOrAgent)
		}
	}
	// A flood: 40 more bad tokens within the same instant write at most the burst
	// (20 lines, 4 taken above); after a pause the next line counts the rest.
	for i := range 40 {
		rawPost(t, ts.URL, fmt.Sprintf("%s-%d", badToken, i), initializeBody)
	}
	flood := len(refusals(t, ts)) - len(want)
	if flood != 20-len(want) {
		t.Errorf("%d lines for a flood of 40 refusals, want %d (the rest of the burst)", flood, 20-len(want))
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	rawPost(t, ts.URL, "", initializeBody)
	all := refusals(t, ts)
	if last := all[len(all)-1]; last["suppressed"] != float64(40-flood) {
		t.Errorf("the line after the flood: suppressed = %v, want %d", last["suppressed"], 40-flood)
	}
	ts.Audit.mu.Lock()
	log := ts.Audit.buf.String()
	ts.Audit.mu.Unlock()
	if strings.Contains(log, badToken) || strings.Contains(log, aliceToken) {
		t.Errorf("the audit log holds a token:\n%s", log)
	}
}

// A prompt is audited through the same redaction as tool arguments and output.
func TestAskPromptIsRedactedInTheAuditLog(t *testing.T) {
	ts := newServer(t, func(c *kmcp.Config) { c.Options.AskTimeout = time.Millisecond })
	cs := connect(t, ts.URL, aliceToken, nil)
	prompt := "the app cannot log in with DB_PASSWORD=hunter2-pasted; also tried postgres://app:s3cret-url@db:5432/app"
	callTool(t, cs, "ask", map[string]any{"prompt": prompt, "namespace": "team-a"})
	recs := ts.Audit.records(t)
	rec := recs[len(recs)-1]
	args := fmt.Sprint(rec["arguments"])
	if rec["tool"] != "ask" || strings.Contains(args, "hunter2-pasted") || strings.Contains(args, "s3cret-url") || !strings.Contains(args, "the app cannot log in") {
		t.Errorf("ask's audit line: %v", rec)
	}
}

// In read-only mode a kubectl call refused for what it is (a credential flag, a
// command the tool never runs) says why, not that it would change the cluster.
func TestReadOnlyRefusalsSayWhy(t *testing.T) {
	ts := newServer(t, func(c *kmcp.Config) { c.KubectlPath = kubectlPath(t) })
	cs := connect(t, ts.URL, aliceToken, nil)
	for _, tc := range []struct {
		args         []string
		want, forbid string
	}{
		{[]string{"get", "pods", "-n", "team-a", "--as", "admin"}, "--as is not allowed (credentials)", "would change the cluster"},
		{[]string{"config", "view"}, `"config" is not an allowed kubectl command`, "would change the cluster"},
		{[]string{"delete", "pod", "checkout-1", "-n", "team-a"}, "would change the cluster", "not allowed"},
	} {
		text, isErr := callTool(t, cs, "kubectl", map[string]any{"args": tc.args})
		if !isErr || !strings.Contains(text, tc.want) || strings.Contains(text, tc.forbid) {
			t.Errorf("kubectl %v: error=%v, want %q and not %q:\n%s", tc.args, isErr, tc.want, tc.forbid, text)
		}
	}
}

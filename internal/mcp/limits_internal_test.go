package mcp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
)

func TestBatchSize(t *testing.T) {
	for _, tc := range []struct {
		body string
		want int
	}{
		{``, 1},
		{`{"jsonrpc":"2.0","id":1,"method":"ping"}`, 1},
		{`[]`, 1},
		{`[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, 1},
		{" \n\t[{\"id\":1},{\"id\":2},{\"method\":\"notifications/initialized\"}]", 3},
		{`[1,2,3,4]`, 4},
		{`[{"id":1},`, 1}, // does not parse: the SDK answers it
		{`"[1,2]"`, 1},
	} {
		if got := batchSize([]byte(tc.body)); got != tc.want {
			t.Errorf("batchSize(%q) = %d, want %d", tc.body, got, tc.want)
		}
	}
}

func TestClientThrottled(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{context.DeadlineExceeded, false},
		{errors.New("pods is forbidden"), false},
		{fmt.Errorf("tool failed: %w", fmt.Errorf("client rate limiter Wait returned an error: %w", errors.New("rate: Wait(n=1) would exceed context deadline"))), true},
	} {
		if got := clientThrottled(tc.err); got != tc.want {
			t.Errorf("clientThrottled(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// The throttling warning is written once, then at most once per interval with the
// number of calls it did not report.
func TestThrottleLogOncePerInterval(t *testing.T) {
	now := time.Unix(1000, 0)
	var lines []string
	log := funcr.New(func(_, args string) { lines = append(lines, args) }, funcr.Options{})
	tl := &throttleLog{now: func() time.Time { return now }}
	err := errors.New("client rate limiter Wait returned an error: x")
	for range 5 {
		tl.report(log, "resources_get", "alice", err)
		now = now.Add(time.Second)
	}
	if len(lines) != 1 {
		t.Fatalf("%d lines for 5 throttled calls within the interval, want 1", len(lines))
	}
	now = now.Add(throttleLogInterval)
	tl.report(log, "resources_get", "alice", err)
	if len(lines) != 2 || !strings.Contains(lines[1], `"notReportedSinceLast"=4`) {
		t.Fatalf("after the interval: %q", lines)
	}
}

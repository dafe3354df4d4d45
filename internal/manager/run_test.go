package manager_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/kubeask/kubeask/internal/manager"
	"github.com/kubeask/kubeask/internal/testcluster"
	"github.com/kubeask/kubeask/internal/version"
)

// TestStartLogNamesTheVersion runs the manager against a real API server and reads its
// start line: whoever reads a pod's logs learns which build is running.
func TestStartLogNamesTheVersion(t *testing.T) {
	ctrl.SetLogger(logr.Discard())
	cluster, err := testcluster.Start(testcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Stop() })
	cfg, err := cluster.OperatorConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var lines []string
	logger := funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, args)
	}, funcr.Options{})
	opts := manager.NewOptions()
	opts.MetricsAddr, opts.ProbeAddr = "0", "0"
	opts.GracefulShutdown = 5 * time.Second
	opts.Complete()
	if err := opts.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(logr.NewContext(t.Context(), logger))
	done := make(chan error, 1)
	go func() { done <- opts.Run(ctx, cfg) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	}()

	want := `"version"=` + strconv.Quote(version.String())
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		mu.Lock()
		for _, l := range lines {
			if strings.Contains(l, `"msg"="starting kubeask-manager"`) {
				mu.Unlock()
				if !strings.Contains(l, want) {
					t.Fatalf("start line %s does not contain %s", l, want)
				}
				return
			}
		}
		mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no start line within a minute; logged: %q", lines)
}

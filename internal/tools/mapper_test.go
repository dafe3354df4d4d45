package tools_test

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"

	"github.com/kubeask/kubeask/internal/tools"
)

// countDiscovery counts the fetches of the API group list, one per discovery refresh.
type countDiscovery struct {
	base  http.RoundTripper
	count *atomic.Int64
}

func (c countDiscovery) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path == "/apis" {
		c.count.Add(1)
	}
	return c.base.RoundTrip(req)
}

// A flood of unknown resource names refreshes the shared discovery cache at most once
// per interval, concurrent callers sharing it; a CRD installed meanwhile is found once
// the interval has passed.
func TestUnknownNamesRefreshDiscoveryAtMostOncePerInterval(t *testing.T) {
	var fetches atomic.Int64
	cfg, err := cluster.UserConfig("kubeask-operator")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return countDiscovery{rt, &fetches} })
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := tools.NewMapper(dc)
	var mu sync.Mutex
	now := time.Unix(1_000_000, 0)
	m.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }

	if _, err := m.Resolve("pods", ""); err != nil {
		t.Fatal(err)
	}
	flood := func(n int, name string) {
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if _, err := m.Resolve(fmt.Sprintf(name, i), ""); err == nil {
					t.Errorf("%s resolved", fmt.Sprintf(name, i))
				}
			})
		}
		wg.Wait()
	}
	before := fetches.Load()
	flood(50, "flurbs%d")
	flood(50, "gizmos%d")
	if n := fetches.Load() - before; n > 1 {
		t.Fatalf("100 unknown names refreshed discovery %d times within one interval, want at most 1", n)
	}

	// A CRD installed now is not found until the interval has passed.
	installWidgets(t)
	before = fetches.Load()
	if _, err := m.Resolve("widgets", ""); err == nil {
		t.Fatal("widgets resolved within the interval: discovery was refreshed again")
	}
	if n := fetches.Load() - before; n != 0 {
		t.Fatalf("discovery refreshed %d times within the interval", n)
	}
	advance(tools.RefreshInterval)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := m.Resolve("widgets", ""); err != nil {
				t.Errorf("widgets after the interval: %v", err)
			}
		})
	}
	wg.Wait()
	if n := fetches.Load() - before; n != 1 {
		t.Errorf("20 concurrent callers after the interval refreshed discovery %d times, want 1", n)
	}
	if mapping, err := m.Resolve("widget", ""); err != nil || mapping.GroupVersionKind.Kind != "Widget" {
		t.Errorf("widget: %v %v", mapping, err)
	}
}

// installWidgets installs the CRD widgets.example.com and waits until discovery
// serves it.
func installWidgets(t *testing.T) {
	t.Helper()
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": "widgets.example.com"},
		"spec": map[string]any{
			"group": "example.com",
			"scope": "Namespaced",
			"names": map[string]any{"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
			}},
		},
	}}
	if err := admin.Create(t.Context(), crd); err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(rest.CopyConfig(cluster.Admin))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if l, err := dc.ServerResourcesForGroupVersion("example.com/v1"); err == nil && len(l.APIResources) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("widgets.example.com not served after 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

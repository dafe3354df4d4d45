package tools

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"
)

// RefreshInterval is the least time between two refreshes of the discovery cache
// that names it does not know cause.
const RefreshInterval = 10 * time.Second

// Mapper resolves what a caller calls a resource ("pods", "deploy", "Deployment",
// "deployments.apps", "ingresses.v1.networking.k8s.io") to its REST mapping.
//
// It is shared by all requesters and built from the operator's own discovery client:
// discovery documents describe the API, not objects, and every authenticated user may
// read them (system:discovery), so sharing them reveals nothing.
type Mapper struct {
	discovery discovery.CachedDiscoveryInterface
	mapper    meta.ResettableRESTMapper
	interval  time.Duration
	now       func() time.Time

	mu sync.Mutex
	// generation counts the refreshes; refreshed is when the last one was made.
	generation uint64
	refreshed  time.Time
}

// NewMapper builds a mapper on a discovery client.
func NewMapper(dc discovery.DiscoveryInterface) *Mapper {
	cached := memory.NewMemCacheClient(dc)
	deferred := restmapper.NewDeferredDiscoveryRESTMapper(cached)
	return &Mapper{discovery: cached, mapper: deferred, interval: RefreshInterval, now: time.Now}
}

// Discovery is the cached discovery client.
func (m *Mapper) Discovery() discovery.CachedDiscoveryInterface { return m.discovery }

// Resolve maps resource (and an optional apiVersion such as "apps/v1") to a mapping.
// A name the cached discovery does not know refreshes it, so that CRDs installed since
// are found, but at most once per RefreshInterval: the cache is shared, and a model (or
// a flood of calls) naming resources that do not exist must not make every caller
// fetch all of discovery again. A CRD installed within the interval after a refresh is
// found once it has passed.
func (m *Mapper) Resolve(resource, apiVersion string) (*meta.RESTMapping, error) {
	m.mu.Lock()
	seen := m.generation
	m.mu.Unlock()
	mapping, err := m.resolve(resource, apiVersion)
	var ae ArgumentError
	if err == nil || errors.As(err, &ae) {
		return mapping, err
	}
	if !m.refresh(seen) {
		return nil, err
	}
	return m.resolve(resource, apiVersion)
}

// refresh resets the discovery cache for a caller whose lookup began at generation
// seen, and reports whether looking again may help: yes when the cache was reset since
// (by this call, or by another caller: concurrent callers share one reset, and the
// mapper fetches discovery again once), no when the last reset is more recent than the
// interval.
func (m *Mapper) refresh(seen uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.generation != seen {
		return true
	}
	now := m.now()
	if m.generation > 0 && now.Sub(m.refreshed) < m.interval {
		return false
	}
	m.mapper.Reset()
	m.generation++
	m.refreshed = now
	return true
}

func (m *Mapper) resolve(resource, apiVersion string) (*meta.RESTMapping, error) {
	resource = strings.TrimSpace(resource)
	if resource == "" {
		return nil, ArgumentError{Reason: "resource is empty"}
	}
	expander := restmapper.NewShortcutExpander(m.mapper, m.discovery, nil)
	var gv schema.GroupVersion
	if apiVersion != "" {
		var err error
		if gv, err = schema.ParseGroupVersion(apiVersion); err != nil {
			return nil, ArgumentError{Reason: fmt.Sprintf("apiVersion %q: %v", apiVersion, err)}
		}
	}
	// As a resource name: "pods", "deploy", "deployments.apps", "deployments.v1.apps".
	fullGVR, gr := schema.ParseResourceArg(strings.ToLower(resource))
	var gvr schema.GroupVersionResource
	if fullGVR != nil {
		gvr = *fullGVR
	} else {
		gvr = gr.WithVersion("")
	}
	if apiVersion != "" {
		gvr.Group, gvr.Version = gv.Group, gv.Version
	}
	if found, err := expander.ResourceFor(gvr); err == nil {
		gvk, err := expander.KindFor(found)
		if err == nil {
			return expander.RESTMapping(gvk.GroupKind(), gvk.Version)
		}
	}
	// As a kind: "Deployment", "deployment.apps".
	gk := schema.ParseGroupKind(resource)
	if apiVersion != "" {
		gk.Group = gv.Group
		if mapping, err := expander.RESTMapping(gk, gv.Version); err == nil {
			return mapping, nil
		}
	} else if mapping, err := expander.RESTMapping(gk); err == nil {
		return mapping, nil
	}
	return nil, fmt.Errorf("%w %q", errUnknownResource, resource)
}

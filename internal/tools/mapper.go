package tools

import (
	"fmt"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"
)

// Mapper resolves what a caller calls a resource ("pods", "deploy", "Deployment",
// "deployments.apps", "ingresses.v1.networking.k8s.io") to its REST mapping.
//
// It is shared by all requesters and built from the operator's own discovery client:
// discovery documents describe the API, not objects, and every authenticated user may
// read them (system:discovery), so sharing them reveals nothing.
type Mapper struct {
	discovery discovery.CachedDiscoveryInterface
	mapper    meta.ResettableRESTMapper
	mu        sync.Mutex
}

// NewMapper builds a mapper on a discovery client.
func NewMapper(dc discovery.DiscoveryInterface) *Mapper {
	cached := memory.NewMemCacheClient(dc)
	deferred := restmapper.NewDeferredDiscoveryRESTMapper(cached)
	return &Mapper{discovery: cached, mapper: deferred}
}

// Discovery is the cached discovery client.
func (m *Mapper) Discovery() discovery.CachedDiscoveryInterface { return m.discovery }

// Resolve maps resource (and an optional apiVersion such as "apps/v1") to a mapping.
// A miss refreshes discovery once, so that CRDs installed since are found.
func (m *Mapper) Resolve(resource, apiVersion string) (*meta.RESTMapping, error) {
	mapping, err := m.resolve(resource, apiVersion)
	if err == nil {
		return mapping, nil
	}
	m.mu.Lock()
	m.mapper.Reset()
	m.mu.Unlock()
	return m.resolve(resource, apiVersion)
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

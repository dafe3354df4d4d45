package kube

import (
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FromConfig connects with a config someone else built, in namespace ns: the web UI's,
// which impersonates the person in the browser. server names the cluster in messages.
// Its KubectlMapper discovers with that same config, so even discovery is made as that
// person.
func FromConfig(cfg *rest.Config, ns, server string) (*Client, error) {
	cfg = rest.CopyConfig(cfg)
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: Scheme()})
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", cfg.Host, err)
	}
	return &Client{WithWatch: c, Config: cfg, Namespace: ns, Server: server, Mapper: sync.OnceValues(func() (meta.RESTMapper, error) {
		dc, err := discovery.NewDiscoveryClientForConfig(cfg)
		if err != nil {
			return nil, err
		}
		deferred := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
		return restmapper.NewShortcutExpander(deferred, dc, nil), nil
	})}, nil
}

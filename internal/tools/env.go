package tools

import (
	"errors"
	"fmt"
	"net/http"
	"sync"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/kubeask/kubeask/internal/identity"
)

// DefaultMaxBytes bounds each tool result given to the model.
const DefaultMaxBytes = 16 << 10

// OutputPolicy bounds and filters what a tool returns.
type OutputPolicy struct {
	// MaxBytes is the byte budget of one result; 0 means DefaultMaxBytes.
	MaxBytes int
	// AllowSecretValues shows Secret data and credential-like fields; by default they
	// are redacted.
	AllowSecretValues bool
}

// Access is one Kubernetes call a tool made, for the audit log.
type Access struct {
	Verb, Resource, Namespace, Name string
}

// Env is what a tool call runs with: clients that act as the requester.
type Env struct {
	Dynamic dynamic.Interface
	// REST is an unversioned REST client for requests the typed clients cannot make
	// (server-side Table listings of any resource).
	REST   rest.Interface
	Mapper *Mapper
	Output OutputPolicy
	// FieldManager names the requester's changes in managedFields.
	FieldManager string
	// OnAccess, if set, is told of every Kubernetes call.
	OnAccess func(Access)
	// Impersonated is the operator's connection with the requester's impersonation set,
	// for a tool that hands credentials to a child process (kubectl's private
	// kubeconfig). The in-process clients above never use it.
	Impersonated *rest.Config
	// KubectlPath is the kubectl binary the kubectl tool runs; empty means the tool is
	// unavailable (the manager sets it from --kubectl-path).
	KubectlPath string

	// clientset is built on first use (see Clientset).
	clientset func() (kubernetes.Interface, error)
	// discovery is the requester's discovery client, built on first use (see
	// Discovery).
	discovery func() (discovery.DiscoveryInterface, error)
}

// Discovery returns a discovery client that acts as the requester, uncached: what the
// API server lets them see of its API is theirs, not the shared Mapper's (which
// resolves names with the operator's discovery).
func (e *Env) Discovery() (discovery.DiscoveryInterface, error) {
	if e.discovery == nil {
		return nil, errors.New("this Env has no discovery client: build it with NewEnv or NewEnvForClient")
	}
	return e.discovery()
}

// Clientset returns the typed clients. They are built on first use: a clientset is some
// fifty REST clients, most calls need only the dynamic client, and an Env is built per
// query.
func (e *Env) Clientset() (kubernetes.Interface, error) {
	if e.clientset == nil {
		return nil, errors.New("this Env has no typed clients: build it with NewEnv or NewEnvForClient")
	}
	return e.clientset()
}

// NewEnv builds the clients for id over the factory's shared transport.
func NewEnv(f *identity.Factory, id identity.Identity, mapper *Mapper, out OutputPolicy) (*Env, error) {
	cfg, httpClient, err := f.ClientFor(id)
	if err != nil {
		return nil, err
	}
	impersonated, err := f.ConfigFor(id)
	if err != nil {
		return nil, err
	}
	env, err := NewEnvForClient(cfg, httpClient, mapper, out)
	if err != nil {
		return nil, err
	}
	env.Impersonated = impersonated
	return env, nil
}

// NewEnvForClient builds the clients over httpClient, which must carry the caller's
// identity itself (impersonation, or the caller's own token in MCP passthrough mode).
// The Env has no Impersonated config, so the kubectl tool stays unavailable unless the
// caller sets one.
func NewEnvForClient(cfg *rest.Config, httpClient *http.Client, mapper *Mapper, out OutputPolicy) (*Env, error) {
	dyn, err := dynamic.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	clientset := sync.OnceValues(func() (kubernetes.Interface, error) {
		cs, err := kubernetes.NewForConfigAndClient(cfg, httpClient)
		if err != nil {
			return nil, fmt.Errorf("clientset: %w", err)
		}
		return cs, nil
	})
	disco := sync.OnceValues(func() (discovery.DiscoveryInterface, error) {
		dc, err := discovery.NewDiscoveryClientForConfigAndClient(cfg, httpClient)
		if err != nil {
			return nil, fmt.Errorf("discovery client: %w", err)
		}
		return dc, nil
	})
	raw := rest.CopyConfig(cfg)
	raw.NegotiatedSerializer = clientgoscheme.Codecs.WithoutConversion()
	rc, err := rest.UnversionedRESTClientForConfigAndClient(raw, httpClient)
	if err != nil {
		return nil, fmt.Errorf("REST client: %w", err)
	}
	return &Env{Dynamic: dyn, REST: rc, Mapper: mapper, Output: out, FieldManager: "kubeask", clientset: clientset, discovery: disco}, nil
}

func (e *Env) record(verb, resource, namespace, name string) {
	if e.OnAccess != nil {
		e.OnAccess(Access{Verb: verb, Resource: resource, Namespace: namespace, Name: name})
	}
}

func (e *Env) maxBytes() int {
	if e.Output.MaxBytes > 0 {
		return e.Output.MaxBytes
	}
	return DefaultMaxBytes
}

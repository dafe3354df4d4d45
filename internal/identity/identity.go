// Package identity turns a requester into Kubernetes clients that act as that person.
//
// The operator's own rest.Config is never used for a user's request as it is: every
// client handed out here impersonates the requester, and all of them share one HTTP
// transport (one connection pool) with the operator's own credentials underneath. The
// configs that go with those clients carry no credentials at all. The API server then authorizes each call as the requester, so a tool can
// never see or do more than the person who asked.
package identity

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/transport"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// serviceAccountPrefix marks service-account usernames.
const serviceAccountPrefix = "system:serviceaccount:"

// ErrRefused is returned for a requester the platform does not let the agent act as.
var ErrRefused = errors.New("refused to act as this requester")

// Policy says whom the operator may act as, and with which attributes.
type Policy struct {
	// ExtraAllowList names the user "extra" keys that are impersonated; others are
	// dropped. Extra values such as scopes narrow what a token may do, so the platform
	// chooses which ones keep their meaning when impersonated. "*" keeps every key.
	ExtraAllowList []string
	// DenyUsers and DenyGroups name requesters the agent never acts as, for example a
	// GitOps controller's service account, so that a query it applies does not run with
	// its rights.
	DenyUsers  []string
	DenyGroups []string
}

// Factory builds impersonating configs and HTTP clients from the operator's config.
type Factory struct {
	base   *rest.Config
	http   *http.Client
	policy Policy
}

// NewFactory copies base (it is never modified) and builds the shared transport.
func NewFactory(base *rest.Config, policy Policy) (*Factory, error) {
	if base.Impersonate.UserName != "" {
		return nil, errors.New("the operator's own config must not impersonate anyone")
	}
	cfg := rest.CopyConfig(base)
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the shared transport: %w", err)
	}
	return &Factory{base: cfg, http: httpClient, policy: policy}, nil
}

// Identity is the Kubernetes user a request is made as.
type Identity struct {
	Username string
	UID      string
	Groups   []string
	Extra    map[string][]string
}

// FromRequester converts an AgentQuery's requester.
func FromRequester(r *agentsv1alpha1.Requester) Identity {
	if r == nil {
		return Identity{}
	}
	id := Identity{Username: r.Username, UID: r.UID, Groups: slices.Clone(r.Groups)}
	if len(r.Extra) > 0 {
		id.Extra = make(map[string][]string, len(r.Extra))
		for k, v := range r.Extra {
			id.Extra[k] = slices.Clone([]string(v))
		}
	}
	return id
}

// Check refuses an empty identity or one on the deny lists.
func (f *Factory) Check(id Identity) error {
	if id.Username == "" {
		return fmt.Errorf("%w: the requester is empty", ErrRefused)
	}
	if slices.Contains(f.policy.DenyUsers, id.Username) {
		return fmt.Errorf("%w: %s is on the platform's deny list (queries it creates must be applied as their real author)", ErrRefused, id.Username)
	}
	for _, g := range id.Groups {
		if slices.Contains(f.policy.DenyGroups, g) {
			return fmt.Errorf("%w: %s is in group %s, which is on the platform's deny list", ErrRefused, id.Username, g)
		}
	}
	return nil
}

// impersonation is what is actually sent for id.
//
// A service account is impersonated by username alone: the API server derives its
// groups from the name, and constrained impersonation (serviceaccount mode) accepts
// nothing else. system:authenticated is always added by the API server, so it is not
// sent. Extra keys outside the allow list are dropped.
func (f *Factory) impersonation(id Identity) transport.ImpersonationConfig {
	if strings.HasPrefix(id.Username, serviceAccountPrefix) {
		return transport.ImpersonationConfig{UserName: id.Username}
	}
	ic := transport.ImpersonationConfig{UserName: id.Username, UID: id.UID}
	for _, g := range id.Groups {
		if g != "system:authenticated" {
			ic.Groups = append(ic.Groups, g)
		}
	}
	for k, v := range id.Extra {
		if slices.Contains(f.policy.ExtraAllowList, k) || slices.Contains(f.policy.ExtraAllowList, "*") {
			if ic.Extra == nil {
				ic.Extra = map[string][]string{}
			}
			ic.Extra[k] = slices.Clone(v)
		}
	}
	return ic
}

// ConfigFor returns a new rest.Config that impersonates id, for code that needs a
// config (for example to build a typed clientset with its own HTTP client).
func (f *Factory) ConfigFor(id Identity) (*rest.Config, error) {
	if err := f.Check(id); err != nil {
		return nil, err
	}
	cfg := rest.CopyConfig(f.base)
	ic := f.impersonation(id)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: ic.UserName, UID: ic.UID, Groups: ic.Groups, Extra: ic.Extra}
	return cfg, nil
}

// ClientFor returns a config and an HTTP client that impersonates id over the shared
// transport. Pass both to the NewForConfigAndClient constructors of client-go.
//
// The config holds only what locates and verifies the API server (host, API path,
// content settings, CA and TLS server name) and client tuning (QPS, burst, timeout,
// user agent): no bearer token, client certificate, exec or auth provider, basic auth
// or impersonation. The operator's credentials live only inside the shared transport,
// under the impersonation; a caller that builds its own transport from this config
// gets an anonymous client, never the operator's rights.
func (f *Factory) ClientFor(id Identity) (*rest.Config, *http.Client, error) {
	if err := f.Check(id); err != nil {
		return nil, nil, err
	}
	rt := transport.NewImpersonatingRoundTripper(f.impersonation(id), f.http.Transport)
	return serverOnly(f.base), &http.Client{Transport: rt, Timeout: f.http.Timeout}, nil
}

// serverOnly copies base without any credential. rest.AnonymousClientConfig is
// client-go's own list of fields that are safe to copy, kept up to date upstream; the
// byte slices are cloned so that nothing shares memory with the operator's config.
func serverOnly(base *rest.Config) *rest.Config {
	cfg := rest.AnonymousClientConfig(base)
	cfg.CAData = slices.Clone(base.CAData)
	cfg.NextProtos = slices.Clone(base.NextProtos)
	return cfg
}

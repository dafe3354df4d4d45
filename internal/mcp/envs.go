package mcp

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeask/kubeask/internal/mcp/auth"
	"github.com/kubeask/kubeask/internal/tools"
)

// callerClients are the clients that act as one caller: the tool Env (copied per call,
// with the call's own OnAccess) and a controller-runtime client for ask,
// sessions_list and triggers_list.
type callerClients struct {
	env    *tools.Env
	client client.Client
}

// envCache keeps each caller's clients for a short while, so that a client making
// many calls does not rebuild them every time. An entry never outlives the caller's
// authentication (Caller.Expiry) or envTTL.
type envCache struct {
	build func(*auth.Caller) (*callerClients, error)

	mu      sync.Mutex
	entries map[string]envEntry
}

type envEntry struct {
	clients *callerClients
	expires time.Time
}

const (
	envTTL        = time.Minute
	envCacheLimit = 4096
)

func newEnvCache(build func(*auth.Caller) (*callerClients, error)) *envCache {
	return &envCache{build: build, entries: map[string]envEntry{}}
}

func (c *envCache) get(caller *auth.Caller) (*callerClients, error) {
	key := caller.Key()
	now := time.Now()
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.clients, nil
	}
	clients, err := c.build(caller)
	if err != nil {
		return nil, err
	}
	expires := now.Add(envTTL)
	if !caller.Expiry.IsZero() && caller.Expiry.Before(expires) {
		expires = caller.Expiry
	}
	c.mu.Lock()
	if len(c.entries) >= envCacheLimit {
		for k, old := range c.entries {
			if !now.Before(old.expires) || len(c.entries) >= envCacheLimit {
				delete(c.entries, k)
			}
		}
	}
	c.entries[key] = envEntry{clients: clients, expires: expires}
	c.mu.Unlock()
	return clients, nil
}

// buildEnv builds the caller's clients: impersonating ones over the operator's shared
// transport, or, in passthrough mode, ones that present the caller's own token.
func (s *Server) buildEnv(caller *auth.Caller) (*callerClients, error) {
	var env *tools.Env
	var cfg *rest.Config
	var httpClient *http.Client
	var err error
	if caller.Mode == auth.ModePassthrough {
		cfg = auth.BearerConfig(s.cfg.RESTConfig, caller.Token)
		if httpClient, err = rest.HTTPClientFor(cfg); err != nil {
			return nil, err
		}
		if env, err = bearerEnv(cfg, httpClient, s.cfg.Mapper, s.cfg.Output); err != nil {
			return nil, err
		}
	} else {
		if env, err = tools.NewEnv(s.cfg.Identities, caller.Identity, s.cfg.Mapper, s.cfg.Output); err != nil {
			return nil, err
		}
		env.KubectlPath = s.cfg.KubectlPath
		if cfg, httpClient, err = s.cfg.Identities.ClientFor(caller.Identity); err != nil {
			return nil, err
		}
	}
	env.FieldManager = "kubeask-mcp"
	c, err := client.New(cfg, client.Options{Scheme: s.cfg.Scheme, Mapper: s.cfg.RESTMapper, HTTPClient: httpClient})
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", caller.Identity.Username, err)
	}
	return &callerClients{env: env, client: c}, nil
}

// bearerEnv is tools.NewEnv for a connection that authenticates with the caller's own
// token (passthrough). It has no Impersonated config, so the kubectl tool, which
// would have to write the token to disk, stays unavailable.
func bearerEnv(cfg *rest.Config, httpClient *http.Client, mapper *tools.Mapper, out tools.OutputPolicy) (*tools.Env, error) {
	return tools.NewEnvForClient(cfg, httpClient, mapper, out)
}

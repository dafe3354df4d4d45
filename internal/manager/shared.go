package manager

import (
	"fmt"

	"k8s.io/client-go/rest"

	"github.com/kubeask/kubeask/internal/identity"
	"github.com/kubeask/kubeask/internal/llm/catalog"
)

// shared is what the agent, the triggers, the MCP endpoint and the web UI all use,
// built once: the platform's catalog, loaded from --config (nil without one), and the
// factory of impersonated clients, whose one HTTP transport they share.
type shared struct {
	catalog *catalog.Catalog
	ids     *identity.Factory
}

func (o *Options) newShared(cfg *rest.Config) (*shared, error) {
	s := &shared{}
	if o.ConfigPath != "" {
		var err error
		if s.catalog, err = catalog.Load(o.ConfigPath); err != nil {
			return nil, fmt.Errorf("loading --config: %w", err)
		}
	}
	ids, err := identity.NewFactory(cfg, identity.Policy{
		ExtraAllowList: o.ImpersonateExtra, DenyUsers: o.DenyUsers, DenyGroups: o.DenyGroups,
	})
	if err != nil {
		return nil, err
	}
	s.ids = ids
	return s, nil
}

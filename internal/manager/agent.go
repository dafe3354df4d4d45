package manager

import (
	"fmt"
	"os"

	"golang.org/x/time/rate"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/kubeask/kubeask/internal/agent"
	"github.com/kubeask/kubeask/internal/llm/catalog"
	"github.com/kubeask/kubeask/internal/llm/quota"
	"github.com/kubeask/kubeask/internal/tools"
)

// newAgent builds the agent and its worker pool from the platform config, or returns
// nil when no config is given.
func (o *Options) newAgent(mgr ctrl.Manager, cfg *rest.Config, sh *shared) (*agent.Agent, *agent.Pool, error) {
	if sh.catalog == nil {
		return nil, nil, nil
	}
	cat, ids := sh.catalog, sh.ids
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("discovery client: %w", err)
	}
	registry, err := tools.NewRegistry(tools.Builtin()...)
	if err != nil {
		return nil, nil, err
	}
	a := &agent.Agent{
		Client:   mgr.GetClient(),
		Reader:   mgr.GetAPIReader(),
		Identity: ids,
		Mapper:   tools.NewMapper(dc),
		Tools:    registry,
		Catalog:  cat,
		// API keys are read straight from the API server: the cache never holds Secrets.
		Models:         catalog.NewClients(cat, catalog.SecretKeys{Reader: mgr.GetAPIReader(), Namespace: o.Namespace}, catalog.ClientsOptions{}),
		Quota:          quota.New(cat.Limits, nil),
		Events:         mgr.GetEventRecorder("kubeask-agent"),
		Output:         tools.OutputPolicy{MaxBytes: o.ToolOutputBytes},
		KubectlPath:    o.KubectlPath,
		StatusInterval: o.StatusUpdateInterval,
		ProgressWrites: progressBudget(o.StatusUpdateQPS),
		AllowedModes:   o.AllowedModes,
		// The pod's name: status.runID then says which replica runs a query.
		Holder: hostname(),
	}
	agent.InjectFaults(a) // a no-op unless built with the faultinject tag (tests)
	pool := agent.NewPool(a, o.AgentWorkers)
	if err := mgr.Add(pool); err != nil {
		return nil, nil, err
	}
	return a, pool, nil
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return h
}

// progressBudget is the shared limiter of progress writes, or nil for none.
func progressBudget(qps float64) *rate.Limiter {
	if qps <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(qps), max(1, int(qps)))
}

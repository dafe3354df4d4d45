// Package kubeconfig connects the plugin to a cluster with the user's kubeconfig and
// kubectl's flags (--context, --namespace, --kubeconfig, ...).
package kubeconfig

import (
	"fmt"
	"io"
	"sort"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeask/kubeask/internal/askcli/kube"
)

// Connect connects with flags. Warnings from the API server go to warnings.
func Connect(flags *genericclioptions.ConfigFlags, warnings io.Writer) (*kube.Client, error) {
	loader := flags.ToRawKubeConfigLoader()
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("reading kubeconfig: %w", err)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "kubectl-ask"
	cfg.WarningHandler = rest.NewWarningWriter(warnings, rest.WarningWriterOptions{Deduplicate: true})
	ns, _, err := loader.Namespace()
	if err != nil {
		return nil, fmt.Errorf("reading the namespace from kubeconfig: %w", err)
	}
	raw, err := loader.RawConfig()
	if err != nil {
		return nil, fmt.Errorf("reading kubeconfig: %w", err)
	}
	ctxName := raw.CurrentContext
	if flags.Context != nil && *flags.Context != "" {
		ctxName = *flags.Context
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: kube.Scheme()})
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", cfg.Host, err)
	}
	return &kube.Client{WithWatch: c, Config: cfg, Namespace: ns, Context: ctxName, Server: cfg.Host, Mapper: flags.ToRESTMapper}, nil
}

// ForContext returns flags for kubeconfig context name, keeping from base only what is
// safe to send to every cluster: the kubeconfig file, the namespace, impersonation and
// the timeout. Credentials and servers given on the command line (--token, --server,
// --user, --client-certificate, ...) are not carried over, so each cluster receives only
// the credentials its own context names.
func ForContext(base *genericclioptions.ConfigFlags, name string) *genericclioptions.ConfigFlags {
	f := genericclioptions.NewConfigFlags(true)
	f.KubeConfig = base.KubeConfig
	f.Namespace = base.Namespace
	f.Impersonate = base.Impersonate
	f.ImpersonateUID = base.ImpersonateUID
	f.ImpersonateGroup = base.ImpersonateGroup
	f.Timeout = base.Timeout
	f.CacheDir = base.CacheDir
	f.Context = &name
	return f
}

// Contexts lists the kubeconfig's contexts, sorted.
func Contexts(flags *genericclioptions.ConfigFlags) ([]string, error) {
	raw, err := flags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return nil, fmt.Errorf("reading kubeconfig: %w", err)
	}
	var names []string
	for n := range raw.Contexts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

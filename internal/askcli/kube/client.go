// Package kube connects the plugin to one cluster with the user's own kubeconfig and
// explains API errors in words a person can act on. The plugin never talks to anything
// but the API server of the context it was given.
package kube

import (
	"fmt"
	"io"
	"sort"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// Client is a connection to one cluster as the kubeconfig's user.
type Client struct {
	client.WithWatch
	// Config is the REST config built from the kubeconfig and the flags.
	Config *rest.Config
	// Namespace is the namespace to work in (--namespace, else the context's).
	Namespace string
	// Context is the kubeconfig context's name, for messages and hints.
	Context string
	// Server is the API server's URL, for messages.
	Server string

	flags genericclioptions.RESTClientGetter
	// mapper replaces flags' mapper for a client built by FromConfig.
	mapper func() (meta.RESTMapper, error)
}

// Scheme knows the built-in types and the kubeask API.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err) // static registration; cannot fail
	}
	if err := agentsv1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// New connects with flags. Warnings from the API server go to warnings.
func New(flags *genericclioptions.ConfigFlags, warnings io.Writer) (*Client, error) {
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
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: Scheme()})
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", cfg.Host, err)
	}
	return &Client{WithWatch: c, Config: cfg, Namespace: ns, Context: ctxName, Server: cfg.Host, flags: flags}, nil
}

// KubectlMapper resolves kinds and kubectl-style resource names (deploy, po, ...) with the
// cluster's discovery, as kubectl does.
func (c *Client) KubectlMapper() (meta.RESTMapper, error) {
	if c.mapper != nil {
		return c.mapper()
	}
	return c.flags.ToRESTMapper()
}

// Dynamic returns a dynamic client as the same user.
func (c *Client) Dynamic() (dynamic.Interface, error) { return dynamic.NewForConfig(c.Config) }

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

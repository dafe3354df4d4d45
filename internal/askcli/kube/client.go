// Package kube is the plugin's connection to one cluster and explains API errors in
// words a person can act on. The plugin never talks to anything but the API server of
// the context it was given. It does not read kubeconfig files (package kubeconfig
// does), so that the manager, which serves the web UI with this package, does not link
// kubectl's kubeconfig and kustomize machinery.
package kube

import (
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
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

	// Mapper resolves kinds and kubectl-style resource names with the cluster's
	// discovery, as the client's user.
	Mapper func() (meta.RESTMapper, error)
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

// KubectlMapper resolves kinds and kubectl-style resource names (deploy, po, ...) with the
// cluster's discovery, as kubectl does.
func (c *Client) KubectlMapper() (meta.RESTMapper, error) { return c.Mapper() }

// Dynamic returns a dynamic client as the same user.
func (c *Client) Dynamic() (dynamic.Interface, error) { return dynamic.NewForConfig(c.Config) }

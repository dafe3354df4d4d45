package engine

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/identity"
)

// Users builds clients that act as a trigger's requester.
type Users struct {
	Identity *identity.Factory
	Scheme   *runtime.Scheme
	// Mapper is the manager's REST mapper, shared so that building a client needs no
	// discovery.
	Mapper meta.RESTMapper
}

// ClientFor returns a client that impersonates r over the factory's shared transport.
// It refuses requesters on the platform's deny lists (identity.ErrRefused).
func (u Users) ClientFor(r *agentsv1alpha1.Requester) (client.Client, error) {
	cfg, httpClient, err := u.Identity.ClientFor(identity.FromRequester(r))
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: u.Scheme, Mapper: u.Mapper, HTTPClient: httpClient})
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", r.Username, err)
	}
	return c, nil
}

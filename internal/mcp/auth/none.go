package auth

import (
	"context"

	"github.com/kubeask/kubeask/internal/identity"
)

// None authenticates nobody: every request acts as one fixed, configured user
// (impersonated like any other). It exists for local development on loopback; the
// server refuses it on any other address.
type None struct {
	Identity identity.Identity
}

// Authenticate implements Authenticator.
func (n *None) Authenticate(context.Context, string) (*Caller, error) {
	return &Caller{Identity: n.Identity, Mode: ModeNone}, nil
}

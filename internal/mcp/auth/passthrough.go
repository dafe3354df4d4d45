package auth

import (
	"context"
	"fmt"
	"slices"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubeask/kubeask/internal/identity"
)

// Passthrough uses the caller's token itself as the Kubernetes credential, for
// clusters where the operator may not impersonate. It learns who the caller is with a
// SelfSubjectReview made with that token (for the audit log and rate limiting); the API
// server decides every call on the token, exactly as for kubectl.
//
// This deviates from the MCP authorization spec, which forbids passing a client's
// token through to an upstream API: the token must be one the API server accepts, so
// it cannot be audience-bound to this endpoint, and a stolen token works against the
// API server directly. See docs/mcp.md.
type Passthrough struct {
	// Base is the API server connection (host and CA) without credentials.
	Base *rest.Config
}

// Authenticate implements Authenticator.
func (p *Passthrough) Authenticate(ctx context.Context, token string) (*Caller, error) {
	if !plausibleToken(token) {
		return nil, fmt.Errorf("%w: malformed token", ErrUnauthenticated)
	}
	cs, err := kubernetes.NewForConfig(BearerConfig(p.Base, token))
	if err != nil {
		return nil, err
	}
	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if apierrors.IsUnauthorized(err) {
		return nil, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	if err != nil {
		return nil, fmt.Errorf("SelfSubjectReview: %w", err)
	}
	u := review.Status.UserInfo
	id := identity.Identity{Username: u.Username, UID: u.UID, Groups: slices.Clone(u.Groups)}
	return &Caller{Identity: id, Mode: ModePassthrough, Token: token}, nil
}

// BearerConfig is base (host, CA, timeouts) with token as its only credential.
func BearerConfig(base *rest.Config, token string) *rest.Config {
	cfg := rest.AnonymousClientConfig(base)
	cfg.BearerToken = token
	cfg.QPS, cfg.Burst = base.QPS, base.Burst
	return cfg
}

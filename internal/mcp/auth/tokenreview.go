package auth

import (
	"context"
	"fmt"
	"slices"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authv1client "k8s.io/client-go/kubernetes/typed/authentication/v1"

	"github.com/kubeask/kubeask/internal/identity"
)

// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create

// TokenReview validates tokens with the API server's TokenReview API (the operator
// needs `create tokenreviews`, as in system:auth-delegator). The token is only sent to
// the API server, in the review; afterwards the caller is impersonated.
type TokenReview struct {
	Reviews authv1client.TokenReviewInterface
	// Audiences the token must be valid for (any of them). Empty means the API
	// server's own audiences, so any token the API server accepts. Tokens minted for
	// the endpoint (kubectl create token --audience kubeask-mcp) cannot be replayed
	// against the API server, which is why an audience is recommended.
	Audiences []string
}

// Authenticate implements Authenticator.
func (t *TokenReview) Authenticate(ctx context.Context, token string) (*Caller, error) {
	if !plausibleToken(token) {
		return nil, fmt.Errorf("%w: malformed token", ErrUnauthenticated)
	}
	review, err := t.Reviews.Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: t.Audiences},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("TokenReview: %w", err)
	}
	st := review.Status
	if !st.Authenticated {
		return nil, fmt.Errorf("%w: %s", ErrUnauthenticated, st.Error)
	}
	if len(t.Audiences) > 0 && !slices.ContainsFunc(st.Audiences, func(a string) bool { return slices.Contains(t.Audiences, a) }) {
		return nil, fmt.Errorf("%w: the token is not for audience %v", ErrUnauthenticated, t.Audiences)
	}
	if st.User.Username == "" {
		return nil, fmt.Errorf("%w: the API server returned no username", ErrUnauthenticated)
	}
	id := identity.Identity{Username: st.User.Username, UID: st.User.UID, Groups: slices.Clone(st.User.Groups)}
	if len(st.User.Extra) > 0 {
		id.Extra = make(map[string][]string, len(st.User.Extra))
		for k, v := range st.User.Extra {
			id.Extra[k] = slices.Clone([]string(v))
		}
	}
	return &Caller{Identity: id, Mode: ModeTokenReview}, nil
}

// plausibleToken refuses what no authenticator would accept before it costs an API
// call: empty, huge, or with characters outside a header token's alphabet.
func plausibleToken(token string) bool {
	if token == "" || len(token) > 16<<10 {
		return false
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

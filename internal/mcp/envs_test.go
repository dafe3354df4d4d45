package mcp

import (
	"testing"

	"github.com/kubeask/kubeask/internal/identity"
	"github.com/kubeask/kubeask/internal/mcp/auth"
)

// The client cache builds one set of clients per caller, and callers that differ only
// in extra are different callers.
func TestEnvCacheKeepsCallersApart(t *testing.T) {
	var built []identity.Identity
	cache := newEnvCache(func(c *auth.Caller) (*callerClients, error) {
		built = append(built, c.Identity)
		return &callerClients{}, nil
	})
	caller := func(credentialID string) *auth.Caller {
		return &auth.Caller{Mode: auth.ModeTokenReview, Identity: identity.Identity{
			Username: "system:serviceaccount:team-a:ci", UID: "u-1", Groups: []string{"system:serviceaccounts"},
			Extra: map[string][]string{"authentication.kubernetes.io/credential-id": {credentialID}},
		}}
	}
	first, err := cache.get(caller("JTI=1"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := cache.get(caller("JTI=1"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := cache.get(caller("JTI=2"))
	if err != nil {
		t.Fatal(err)
	}
	if first != again || len(built) != 2 {
		t.Errorf("one caller's clients were built %d times for 3 calls of 2 callers", len(built))
	}
	if first == second {
		t.Error("two tokens with different extras share clients")
	}
}

package mcp_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	kmcp "github.com/kubeask/kubeask/internal/mcp"
	"github.com/kubeask/kubeask/internal/mcp/auth"
	"github.com/kubeask/kubeask/internal/testcluster/oidcissuer"
)

// --mcp-auth=oidc against a real issuer (package oidcissuer, HTTPS on loopback, trusted
// through --mcp-oidc-ca-file): the endpoint checks the ID token itself (issuer,
// audience, signature from the issuer's JWKS, expiry), maps its claims like the API
// server's --oidc-* flags, and impersonates the person, so the cluster's RBAC decides.
func TestOIDCModeActsAsTheTokensPerson(t *testing.T) {
	const clientID, redirect = "kubeask-mcp", "http://127.0.0.1:33418/callback"
	users := map[string]oidcissuer.User{"alice": {Subject: "alice", Email: "alice@example.com", Groups: []string{"dev"}}}
	is, err := oidcissuer.New(oidcissuer.Options{Users: users, Clients: []oidcissuer.Client{{ID: clientID, RedirectURIs: []string{redirect}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(is.Close)
	stranger, err := oidcissuer.New(oidcissuer.Options{Users: users})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stranger.Close)
	ts := newServer(t, func(c *kmcp.Config) {
		o := &c.Options
		o.Auth, o.OIDCIssuerURL, o.OIDCClientID, o.OIDCCAFile = auth.ModeOIDC, is.URL, clientID, is.CAFile
		// alice is oidc:alice in group dev: the fixture's RBAC lets dev work in team-a.
		o.OIDCUsernameClaim, o.OIDCUsernamePrefix, o.OIDCGroupsClaim = "sub", "oidc:", "groups"
	})
	// alice's ID token, from the code flow with PKCE.
	alice, err := is.Login(t.Context(), clientID, redirect, "alice")
	if err != nil {
		t.Fatal(err)
	}
	cs := connect(t, ts.URL, alice, nil)
	text, isErr := callTool(t, cs, "resources_list", map[string]any{"resource": "pods", "namespace": "team-a"})
	if isErr || !strings.Contains(text, "checkout-1") {
		t.Errorf("alice listing pods in team-a: error=%v:\n%s", isErr, text)
	}
	text, isErr = callTool(t, cs, "resources_list", map[string]any{"resource": "pods", "namespace": "team-b"})
	if !isErr || !strings.Contains(text, "forbidden") || strings.Contains(text, "payments-1") {
		t.Errorf("alice listing pods in team-b: want a forbidden tool error, got error=%v:\n%s", isErr, text)
	}
	recs := ts.Audit.records(t)
	if len(recs) != 2 {
		t.Fatalf("audit: %v", recs)
	}
	for _, r := range recs {
		if r["user"] != "oidc:alice" || r["auth"] != auth.ModeOIDC {
			t.Errorf("audit line %v, want user oidc:alice by oidc", r)
		}
	}

	for name, mint := range map[string]func() (string, error){
		"another audience": func() (string, error) { return is.IDToken("alice", "someone-else", nil) },
		"another issuer":   func() (string, error) { return stranger.IDToken("alice", clientID, nil) },
		"another issuer claiming this one": func() (string, error) {
			return stranger.IDToken("alice", clientID, func(c *oidcissuer.Claims) { c.Issuer = is.URL })
		},
		"expired": func() (string, error) {
			return is.IDToken("alice", clientID, func(c *oidcissuer.Claims) { c.Expiry = time.Now().Add(-time.Minute).Unix() })
		},
	} {
		token, err := mint()
		if err != nil {
			t.Fatal(err)
		}
		if code, _ := rawPost(t, ts.URL, token, initializeBody); code != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, code)
		}
	}
}

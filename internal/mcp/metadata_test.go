package mcp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/kubeask/kubeask/internal/identity"
	kmcp "github.com/kubeask/kubeask/internal/mcp"
	"github.com/kubeask/kubeask/internal/mcp/auth"
)

// resourceMetadata fetches the RFC 9728 document, with a Host header of the
// requester's choosing when host is set.
func resourceMetadata(t *testing.T, base, host string) map[string]any {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+kmcp.PathResourceMetadata, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var meta map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&meta); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("metadata: status %d, %v", resp.StatusCode, err)
	}
	return meta
}

// The metadata and the WWW-Authenticate challenge name --mcp-public-url or, without
// it, the listener's address: never the Host header a request carries.
func TestMetadataNeverReflectsHost(t *testing.T) {
	const evil = "evil.example:8443"
	ts := newServer(t, nil)
	code, header := rawPost(t, ts.URL, "", initializeBody, "Host", evil)
	if code != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", code)
	}
	challenge := header.Get("WWW-Authenticate")
	if strings.Contains(challenge, "evil") || !strings.Contains(challenge, `resource_metadata="`+ts.Base+kmcp.PathResourceMetadata+`"`) {
		t.Errorf("WWW-Authenticate = %q, want the listener's address %s", challenge, ts.Base)
	}
	if meta := resourceMetadata(t, ts.Base, evil); meta["resource"] != ts.URL {
		t.Errorf("resource = %v with Host %s, want %s", meta["resource"], evil, ts.URL)
	}

	public := newServer(t, func(c *kmcp.Config) { c.Options.PublicURL = "https://kubeask.example.com/" })
	if meta := resourceMetadata(t, public.Base, evil); meta["resource"] != "https://kubeask.example.com"+kmcp.PathStreamable {
		t.Errorf("resource = %v, want --mcp-public-url's", meta["resource"])
	}
	_, header = rawPost(t, public.URL, "", initializeBody, "Host", evil)
	if c := header.Get("WWW-Authenticate"); !strings.Contains(c, `resource_metadata="https://kubeask.example.com/.well-known/oauth-protected-resource"`) {
		t.Errorf("WWW-Authenticate = %q", c)
	}
}

// nobodyAuth accepts any token as one fixed caller (for modes whose real authenticator
// would need an identity provider).
type fixedAuth struct{ caller *auth.Caller }

func (a fixedAuth) Authenticate(context.Context, string) (*auth.Caller, error) { return a.caller, nil }

// The metadata lists the authorization servers whose tokens work: the issuer in oidc
// mode, --mcp-authorization-server in tokenreview and passthrough mode, and none when
// none is configured (clients then need a static header, see docs/mcp.md).
func TestMetadataAuthorizationServers(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*kmcp.Options)
		want []string
	}{
		{"tokenreview without one", func(*kmcp.Options) {}, nil},
		{"tokenreview with the cluster's issuer", func(o *kmcp.Options) {
			o.AuthorizationServers = []string{"https://dex.example.com"}
		}, []string{"https://dex.example.com"}},
		{"passthrough with the cluster's issuer", func(o *kmcp.Options) {
			o.Auth, o.AuthorizationServers = auth.ModePassthrough, []string{"https://dex.example.com", "https://keycloak.example.com/realms/k8s"}
		}, []string{"https://dex.example.com", "https://keycloak.example.com/realms/k8s"}},
		{"oidc", func(o *kmcp.Options) {
			o.Auth, o.OIDCIssuerURL, o.OIDCClientID = auth.ModeOIDC, "https://issuer.example.com", "kubeask-mcp"
		}, []string{"https://issuer.example.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newServer(t, func(c *kmcp.Config) {
				tc.edit(&c.Options)
				if c.Options.Auth == auth.ModeOIDC {
					c.Authenticator = fixedAuth{&auth.Caller{Identity: identity.Identity{Username: "alice"}, Mode: auth.ModeOIDC}}
				}
			})
			meta := resourceMetadata(t, ts.Base, "")
			var got []string
			if list, ok := meta["authorization_servers"].([]any); ok {
				for _, s := range list {
					got = append(got, s.(string))
				}
			} else if _, present := meta["authorization_servers"]; present {
				t.Fatalf("authorization_servers = %v", meta["authorization_servers"])
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("authorization_servers = %v, want %v", got, tc.want)
			}
		})
	}
}

// api_resources runs discovery as the caller: a user the API server denies discovery
// (here system:anonymous, which only system:authenticated's binding would let in)
// gets forbidden, although the operator behind the endpoint may read all of it.
func TestAPIResourcesRunsAsTheCaller(t *testing.T) {
	ts := newServer(t, func(c *kmcp.Config) {
		c.Authenticator = fixedAuth{&auth.Caller{Identity: identity.Identity{Username: "system:anonymous", Groups: []string{"system:unauthenticated"}}, Mode: auth.ModeTokenReview}}
	})
	text, isErr := callTool(t, connect(t, ts.URL, "any-token", nil), "api_resources", map[string]any{})
	if !isErr || !strings.Contains(text, "forbidden") || strings.Contains(text, "deployments") {
		t.Errorf("api_resources as a caller denied discovery: want a forbidden tool error, got error=%v:\n%s", isErr, text)
	}
	recs := ts.Audit.records(t)
	if len(recs) != 1 || recs[0]["outcome"] != "forbidden" {
		t.Fatalf("audit: %v", recs)
	}
	if k, _ := recs[0]["kubernetes"].([]any); len(k) != 1 || k[0].(map[string]any)["resource"] != "discovery" {
		t.Errorf("audit kubernetes = %v, want the discovery call", recs[0]["kubernetes"])
	}
	// alice (system:authenticated, like every user) reads it.
	f := env(t)
	text, isErr = callTool(t, connect(t, f.endpoint, aliceToken, nil), "api_resources", map[string]any{"apiGroup": "apps"})
	if isErr || !strings.Contains(text, "deployments") {
		t.Errorf("api_resources as alice: error=%v:\n%s", isErr, text)
	}
}

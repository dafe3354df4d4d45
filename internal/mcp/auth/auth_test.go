package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/kubeask/kubeask/internal/identity"
)

type countingAuth struct {
	calls  atomic.Int64
	result *Caller
	err    error
}

func (c *countingAuth) Authenticate(context.Context, string) (*Caller, error) {
	c.calls.Add(1)
	return c.result, c.err
}

func TestCachedBounds(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { return now }
	inner := &countingAuth{result: &Caller{Identity: identity.Identity{Username: "alice"}}}
	c := &Cached{Inner: inner, Now: clock}
	for range 3 {
		if _, err := c.Authenticate(t.Context(), "tok"); err != nil {
			t.Fatal(err)
		}
	}
	if inner.calls.Load() != 1 {
		t.Fatalf("3 checks of one token made %d reviews, want 1", inner.calls.Load())
	}
	now = now.Add(DefaultCacheTTL + time.Second)
	if _, err := c.Authenticate(t.Context(), "tok"); err != nil || inner.calls.Load() != 2 {
		t.Fatalf("after the TTL the token must be reviewed again (calls=%d, err=%v)", inner.calls.Load(), err)
	}

	// A JWT expiring in 10s is trusted for 10s, not a minute.
	jwtTok := unsignedJWT(t, now.Add(10*time.Second))
	caller, err := c.Authenticate(t.Context(), jwtTok)
	if err != nil || !caller.Expiry.Equal(now.Add(10*time.Second)) {
		t.Fatalf("expiry = %v (err %v), want the token's exp", caller.Expiry, err)
	}
	// An already expired JWT is refused even if the inner check passed.
	if _, err := c.Authenticate(t.Context(), unsignedJWT(t, now.Add(-time.Second))); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("expired JWT: %v", err)
	}

	// Failures are remembered briefly; outages are not remembered.
	bad := &countingAuth{err: ErrUnauthenticated}
	c = &Cached{Inner: bad, Now: clock}
	_, _ = c.Authenticate(t.Context(), "bad")
	_, _ = c.Authenticate(t.Context(), "bad")
	if bad.calls.Load() != 1 {
		t.Errorf("a bad token was reviewed %d times within the negative TTL", bad.calls.Load())
	}
	down := &countingAuth{err: errors.New("connection refused")}
	c = &Cached{Inner: down, Now: clock}
	_, _ = c.Authenticate(t.Context(), "x")
	_, err = c.Authenticate(t.Context(), "x")
	if down.calls.Load() != 2 || errors.Is(err, ErrUnauthenticated) {
		t.Errorf("an outage must not be cached nor reported as a bad token (calls=%d, err=%v)", down.calls.Load(), err)
	}
}

func unsignedJWT(t *testing.T, exp time.Time) string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, nil)
	s, err := jwt.Signed(signer).Claims(jwt.Claims{Expiry: jwt.NewNumericDate(exp)}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// issuer is a minimal OIDC provider: discovery and a JWKS.
type issuer struct {
	*httptest.Server
	key *ecdsa.PrivateKey
}

func newIssuer(t *testing.T) *issuer {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	is := &issuer{key: key}
	mux := http.NewServeMux()
	is.Server = httptest.NewServer(mux)
	t.Cleanup(is.Close)
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": is.URL, "jwks_uri": is.URL + "/keys",
			"authorization_endpoint": is.URL + "/auth", "token_endpoint": is.URL + "/token", "id_token_signing_alg_values_supported": []string{"ES256"}})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	})
	return is
}

func (is *issuer) token(t *testing.T, claims map[string]any, key *ecdsa.PrivateKey) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestOIDC(t *testing.T) {
	is := newIssuer(t)
	now := time.Now()
	base := func(extra map[string]any) map[string]any {
		c := map[string]any{"iss": is.URL, "aud": "kubeask-mcp", "sub": "u-123", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(),
			"email": "alice@example.com", "groups": []string{"dev", "sre"}}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	for _, tc := range []struct {
		name       string
		cfg        OIDCConfig
		claims     map[string]any
		forgedKey  bool
		wantUser   string
		wantGroups []string
		wantErr    bool
	}{
		{name: "default prefix is the issuer", cfg: OIDCConfig{}, claims: base(nil), wantUser: is.URL + "#u-123"},
		{name: "email claim has no default prefix", cfg: OIDCConfig{UsernameClaim: "email", GroupsClaim: "groups", GroupsPrefix: "oidc:"},
			claims: base(nil), wantUser: "alice@example.com", wantGroups: []string{"oidc:dev", "oidc:sre"}},
		{name: "unverified email is refused", cfg: OIDCConfig{UsernameClaim: "email"}, claims: base(map[string]any{"email_verified": false}), wantErr: true},
		{name: "no prefix and a single group string", cfg: OIDCConfig{UsernamePrefix: "-", GroupsClaim: "team"}, claims: base(map[string]any{"team": "dev"}),
			wantUser: "u-123", wantGroups: []string{"dev"}},
		{name: "explicit prefix", cfg: OIDCConfig{UsernamePrefix: "corp:"}, claims: base(nil), wantUser: "corp:u-123"},
		{name: "wrong audience", claims: base(map[string]any{"aud": "someone-else"}), wantErr: true},
		{name: "wrong issuer", claims: base(map[string]any{"iss": "https://evil.example"}), wantErr: true},
		{name: "expired", claims: base(map[string]any{"exp": now.Add(-time.Minute).Unix()}), wantErr: true},
		{name: "signed by another key", claims: base(nil), forgedKey: true, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.IssuerURL, cfg.ClientID = is.URL, "kubeask-mcp"
			o, err := NewOIDC(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			key := is.key
			if tc.forgedKey {
				key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			}
			caller, err := o.Authenticate(t.Context(), is.token(t, tc.claims, key))
			if tc.wantErr {
				if !errors.Is(err, ErrUnauthenticated) {
					t.Fatalf("want unauthenticated, got %v %+v", err, caller)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if caller.Identity.Username != tc.wantUser || !slices.Equal(caller.Identity.Groups, tc.wantGroups) || caller.Mode != ModeOIDC || caller.Token != "" {
				t.Errorf("caller = %+v, want %s %v", caller, tc.wantUser, tc.wantGroups)
			}
		})
	}
}

func TestCallerKey(t *testing.T) {
	a := &Caller{Identity: identity.Identity{Username: "alice", Groups: []string{"b", "a"}}}
	b := &Caller{Identity: identity.Identity{Username: "alice", Groups: []string{"a", "b"}}}
	c := &Caller{Identity: identity.Identity{Username: "alice", Groups: []string{"a"}}}
	if a.Key() != b.Key() || a.Key() == c.Key() {
		t.Error("the key must depend on the set of groups, not their order")
	}
	p1 := &Caller{Identity: a.Identity, Token: "t1"}
	p2 := &Caller{Identity: a.Identity, Token: "t2"}
	if p1.Key() == p2.Key() {
		t.Error("in passthrough mode two tokens of one user are two callers")
	}
	withExtra := func(extra map[string][]string) *Caller {
		return &Caller{Identity: identity.Identity{Username: "alice", Groups: []string{"a", "b"}, Extra: extra}}
	}
	cred1 := withExtra(map[string][]string{"authentication.kubernetes.io/credential-id": {"JTI=1"}, "scopes": {"view"}})
	cred1Again := withExtra(map[string][]string{"scopes": {"view"}, "authentication.kubernetes.io/credential-id": {"JTI=1"}})
	cred2 := withExtra(map[string][]string{"authentication.kubernetes.io/credential-id": {"JTI=2"}, "scopes": {"view"}})
	if cred1.Key() != cred1Again.Key() {
		t.Error("the key must not depend on the order of extra keys")
	}
	for name, other := range map[string]*Caller{
		"no extra":              b,
		"another credential id": cred2,
		"fewer extra keys":      withExtra(map[string][]string{"scopes": {"view"}}),
		"an extra value moved":  withExtra(map[string][]string{"scopes": {"view", "JTI=1"}}),
		"an empty extra key":    withExtra(map[string][]string{"authentication.kubernetes.io/credential-id": {"JTI=1"}, "scopes": {"view"}, "x": nil}),
	} {
		if other.Key() == cred1.Key() {
			t.Errorf("%s: two callers that differ in extra share a key", name)
		}
	}
	if cred1.RateKey() != cred2.RateKey() || p1.RateKey() != p2.RateKey() {
		t.Error("rate limiting is per person: tokens of one user must share a bucket")
	}
	if cred1.RateKey() == c.RateKey() {
		t.Error("rate limiting must tell users with different groups apart")
	}
	// Length-prefixed fields: names cannot be shifted from one field to another.
	if (&Caller{Identity: identity.Identity{Username: "a", Groups: []string{"b\x00c"}}}).Key() ==
		(&Caller{Identity: identity.Identity{Username: "a", Groups: []string{"b", "c"}}}).Key() {
		t.Error("a group containing a separator encodes like two groups")
	}
}

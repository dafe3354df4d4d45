package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/kubeask/kubeask/internal/identity"
)

// OIDCConfig maps tokens to users exactly as kube-apiserver's --oidc-* flags do.
type OIDCConfig struct {
	// IssuerURL must match the tokens' iss claim; discovery and JWKS are fetched from it.
	IssuerURL string
	// ClientID is the audience the tokens must carry.
	ClientID string
	// UsernameClaim is the claim holding the username; default "sub".
	UsernameClaim string
	// UsernamePrefix is prepended to the username. Unset: "<issuer>#" unless the claim
	// is "email"; "-" means no prefix.
	UsernamePrefix string
	// GroupsClaim is the claim holding the groups (a string or a list); empty: none.
	GroupsClaim string
	// GroupsPrefix is prepended to every group.
	GroupsPrefix string
	// HTTPClient fetches discovery and keys (for a private CA); nil: the default.
	HTTPClient *http.Client
}

// OIDC validates JWTs issued for the endpoint: issuer, audience, signature (via the
// issuer's JWKS) and expiry, then maps claims to a user.
type OIDC struct {
	cfg      OIDCConfig
	verifier *oidc.IDTokenVerifier
}

// NewOIDC discovers the issuer and returns the authenticator.
func NewOIDC(ctx context.Context, cfg OIDCConfig) (*OIDC, error) {
	if cfg.IssuerURL == "" || cfg.ClientID == "" {
		return nil, errors.New("oidc needs an issuer URL and a client ID")
	}
	if cfg.UsernameClaim == "" {
		cfg.UsernameClaim = "sub"
	}
	switch {
	case cfg.UsernamePrefix == "-":
		cfg.UsernamePrefix = ""
	case cfg.UsernamePrefix == "" && cfg.UsernameClaim != "email":
		cfg.UsernamePrefix = cfg.IssuerURL + "#"
	}
	if cfg.HTTPClient != nil {
		ctx = oidc.ClientContext(ctx, cfg.HTTPClient)
	}
	provider, err := oidc.NewProvider(ctx, cfg.IssuerURL)
	if err != nil {
		return nil, fmt.Errorf("OIDC discovery of %s: %w", cfg.IssuerURL, err)
	}
	// The verifier keeps ctx for fetching keys later: it must outlive this call.
	return &OIDC{cfg: cfg, verifier: provider.VerifierContext(ctx, &oidc.Config{ClientID: cfg.ClientID})}, nil
}

// Authenticate implements Authenticator.
func (o *OIDC) Authenticate(ctx context.Context, token string) (*Caller, error) {
	if !plausibleToken(token) {
		return nil, fmt.Errorf("%w: malformed token", ErrUnauthenticated)
	}
	if o.cfg.HTTPClient != nil {
		ctx = oidc.ClientContext(ctx, o.cfg.HTTPClient)
	}
	tok, err := o.verifier.Verify(ctx, token)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	var claims map[string]json.RawMessage
	if err := tok.Claims(&claims); err != nil {
		return nil, fmt.Errorf("%w: claims: %w", ErrUnauthenticated, err)
	}
	id, err := o.mapClaims(claims)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	return &Caller{Identity: id, Mode: ModeOIDC, Expiry: tok.Expiry}, nil
}

func (o *OIDC) mapClaims(claims map[string]json.RawMessage) (identity.Identity, error) {
	var id identity.Identity
	raw, ok := claims[o.cfg.UsernameClaim]
	if !ok {
		return id, fmt.Errorf("claim %q is missing", o.cfg.UsernameClaim)
	}
	var username string
	if err := json.Unmarshal(raw, &username); err != nil || username == "" {
		return id, fmt.Errorf("claim %q is not a non-empty string", o.cfg.UsernameClaim)
	}
	if o.cfg.UsernameClaim == "email" {
		// Like the API server: an email is only an identity once the issuer verified it.
		if v, ok := claims["email_verified"]; ok {
			var verified bool
			if json.Unmarshal(v, &verified) != nil || !verified {
				return id, errors.New("email_verified is not true")
			}
		}
	}
	id.Username = o.cfg.UsernamePrefix + username
	if o.cfg.GroupsClaim != "" {
		if raw, ok := claims[o.cfg.GroupsClaim]; ok {
			var groups []string
			if err := json.Unmarshal(raw, &groups); err != nil {
				var one string
				if err := json.Unmarshal(raw, &one); err != nil {
					return id, fmt.Errorf("claim %q is neither a string nor a list of strings", o.cfg.GroupsClaim)
				}
				groups = []string{one}
			}
			for _, g := range groups {
				id.Groups = append(id.Groups, o.cfg.GroupsPrefix+g)
			}
		}
	}
	return id, nil
}

// Package auth identifies the caller of the MCP endpoint from its bearer token.
//
// Every mode ends in a Caller: the Kubernetes user the endpoint acts as. In every mode
// but passthrough the token is consumed here and never leaves the process: the
// endpoint then impersonates the Caller's identity. No mode ever falls back to the
// operator's own rights.
package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/kubeask/kubeask/internal/identity"
)

// Modes, as given to --mcp-auth.
const (
	ModeTokenReview = "tokenreview"
	ModeOIDC        = "oidc"
	ModePassthrough = "passthrough"
	ModeNone        = "none"
)

// ErrUnauthenticated is returned for a missing, malformed, unknown, expired or revoked
// credential. The HTTP layer answers it with 401; the reason is logged, not sent.
var ErrUnauthenticated = errors.New("unauthenticated")

// Caller is who a request comes from.
type Caller struct {
	// Identity is the Kubernetes user the endpoint acts as.
	Identity identity.Identity
	// Mode is the authentication mode that produced the caller.
	Mode string
	// Token is the caller's own credential. It is set only in passthrough mode, where
	// it is used as the Kubernetes credential; every other mode leaves it empty.
	Token string
	// Expiry bounds how long this result may be relied on: the token's own expiry or
	// the cache bound, whichever is earlier.
	Expiry time.Time
}

// Key identifies the caller for rate limiting and per-caller caches: the username,
// uid and groups (and, in passthrough mode, the credential itself, since two tokens of
// one user may carry different rights).
func (c *Caller) Key() string {
	h := sha256.New()
	h.Write([]byte(c.Identity.Username))
	h.Write([]byte{0})
	h.Write([]byte(c.Identity.UID))
	h.Write([]byte{0})
	groups := slices.Clone(c.Identity.Groups)
	slices.Sort(groups)
	h.Write([]byte(strings.Join(groups, "\x00")))
	if c.Token != "" {
		h.Write([]byte{1})
		h.Write([]byte(c.Token))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Authenticator turns a bearer token into a Caller.
type Authenticator interface {
	// Authenticate returns the caller, or an error wrapping ErrUnauthenticated for a
	// credential that is not valid; any other error means the check itself failed.
	Authenticate(ctx context.Context, token string) (*Caller, error)
}

// TokenHash is the cache key of a token: its SHA-256, so that no token is kept in
// memory longer than the request that carried it (passthrough excepted).
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

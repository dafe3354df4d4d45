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
	"fmt"
	"maps"
	"slices"
	"strconv"
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

// Key identifies the caller for per-caller caches (clients, SSE sessions,
// confirmations): the username, uid, groups and extra, and, in passthrough mode, the
// credential itself, since two tokens of one user may carry different rights. Extra is
// part of it because it is impersonated and may narrow what a token may do (scopes, a
// ServiceAccount token's credential id): two tokens of one user with different extras
// are two callers, and share no clients, sessions or confirmations.
func (c *Caller) Key() string { return c.key(true) }

// RateKey identifies the person behind the caller for rate limiting: the username, uid
// and groups only, so that minting more tokens (each with its own credential id) does
// not buy more requests.
func (c *Caller) RateKey() string { return c.key(false) }

// key hashes the identity. Every string is length-prefixed, so no choice of names can
// make two different identities encode alike; groups and extra keys are sorted, so
// their order does not matter. Extra values keep their order: they are impersonated in
// that order, and a cache miss costs less than guessing which extras are sets.
func (c *Caller) key(credential bool) string {
	h := sha256.New()
	field := func(s string) { _, _ = fmt.Fprintf(h, "%d:%s", len(s), s) }
	field(c.Identity.Username)
	field(c.Identity.UID)
	groups := slices.Clone(c.Identity.Groups)
	slices.Sort(groups)
	field(strconv.Itoa(len(groups)))
	for _, g := range groups {
		field(g)
	}
	if credential {
		keys := slices.Sorted(maps.Keys(c.Identity.Extra))
		field(strconv.Itoa(len(keys)))
		for _, k := range keys {
			field(k)
			field(strconv.Itoa(len(c.Identity.Extra[k])))
			for _, v := range c.Identity.Extra[k] {
				field(v)
			}
		}
		if c.Token != "" {
			field("passthrough")
			field(c.Token)
		}
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

package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/kubeask/kubeask/internal/mcp/auth"
	"github.com/kubeask/kubeask/internal/mcp/ratelimit"
)

// Paths served by the endpoint.
const (
	PathStreamable       = "/mcp"
	PathSSE              = "/sse"
	PathResourceMetadata = "/.well-known/oauth-protected-resource"
)

// bodyReadTimeout bounds how long a client may take to send a request body.
const bodyReadTimeout = 30 * time.Second

// routes builds the handler chain: Origin check, authentication, per-caller rate
// limit, bounded body read, then the MCP transports.
func (s *Server) routes() http.Handler {
	streamable := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.shared }, &mcp.StreamableHTTPOptions{
		Stateless:           true,
		MaxRequestBodyBytes: s.opts.MaxBodyBytes,
	})
	mux := http.NewServeMux()
	mux.Handle(PathResourceMetadata, http.HandlerFunc(s.serveResourceMetadata))
	mux.Handle(PathResourceMetadata+"/", http.HandlerFunc(s.serveResourceMetadata))
	mux.Handle(PathStreamable, s.guard(streamable))
	mux.Handle(PathSSE, s.guard(http.HandlerFunc(s.serveSSE)))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	return mux
}

// guard is the chain in front of both transports.
func (s *Server) guard(next http.Handler) http.Handler {
	inner := next
	if s.devCaller == nil {
		// The SDK hands the verified caller to tool handlers as TokenInfo; the token
		// was checked by authenticate already, so this only attaches the result.
		inner = sdkauth.RequireBearerToken(func(ctx context.Context, _ string, r *http.Request) (*sdkauth.TokenInfo, error) {
			c := callerFromContext(ctx)
			if c == nil {
				return nil, sdkauth.ErrInvalidToken
			}
			exp := c.Expiry
			if exp.IsZero() {
				exp = time.Now().Add(auth.DefaultCacheTTL)
			}
			return &sdkauth.TokenInfo{UserID: c.Key(), Expiration: exp, Extra: map[string]any{tokenInfoCaller: c, tokenInfoRemote: r.RemoteAddr}}, nil
		}, nil)(next)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.originAllowed(r) {
			s.refused(r, http.StatusForbidden, "origin", nil, "origin not allowed (--mcp-allowed-origin)")
			http.Error(w, fmt.Sprintf("Forbidden: origin %q is not allowed (see --mcp-allowed-origin)", r.Header.Get("Origin")), http.StatusForbidden)
			return
		}
		caller, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		// One token per request first, so that a caller over the limit is refused before
		// its body is read; a batch pays for the rest of its messages once it is read.
		if allowed, wait := s.limiter.Allow(caller.RateKey()); !allowed {
			s.tooManyRequests(w, r, caller, wait)
			return
		}
		if r.Method == http.MethodPost {
			body, ok := s.readBody(w, r)
			if !ok {
				return
			}
			if n := batchSize(body); n > 1 {
				if limit := s.maxBatch(); n > limit {
					s.refused(r, http.StatusRequestEntityTooLarge, "batch_too_large", caller, fmt.Sprintf("a batch of %d messages", n))
					http.Error(w, fmt.Sprintf("Request Entity Too Large: a JSON-RPC batch may hold at most %d messages, this one holds %d", limit, n), http.StatusRequestEntityTooLarge)
					return
				}
				if allowed, wait := s.limiter.AllowN(caller.RateKey(), n-1); !allowed {
					s.tooManyRequests(w, r, caller, wait)
					return
				}
			}
			if methodNotFound(w, r, body) {
				return
			}
		}
		inner.ServeHTTP(w, r.WithContext(withCaller(r.Context(), caller)))
	})
}

// MaxBatchMessages bounds the messages of one JSON-RPC batch (which clients may still
// send when they name no protocol version, or one before 2025-06-18). The rate limit
// charges each of them, so a batch never holds more than the burst either.
const MaxBatchMessages = 20

func (s *Server) maxBatch() int {
	if s.opts.RateLimit > 0 {
		return min(MaxBatchMessages, max(s.opts.RateBurst, 1))
	}
	return MaxBatchMessages
}

// batchSize is how many JSON-RPC messages body holds: the length of a batch (a JSON
// array), 1 for anything else, including what does not parse (the SDK answers that).
func batchSize(body []byte) int {
	b := bytes.TrimLeft(body, " \t\r\n")
	if len(b) == 0 || b[0] != '[' {
		return 1
	}
	var msgs []json.RawMessage
	if json.Unmarshal(b, &msgs) != nil {
		return 1
	}
	return max(len(msgs), 1)
}

// tooManyRequests answers 429 with Retry-After in whole seconds.
func (s *Server) tooManyRequests(w http.ResponseWriter, r *http.Request, caller *auth.Caller, wait time.Duration) {
	s.refused(r, http.StatusTooManyRequests, "rate_limited", caller, "rate limit exceeded (--mcp-rate-limit)")
	secs := ratelimit.RetryAfterSeconds(wait)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	http.Error(w, fmt.Sprintf("Too Many Requests: rate limit of %g JSON-RPC messages per second exceeded; retry after %d s", s.opts.RateLimit, secs), http.StatusTooManyRequests)
}

// authenticate finds the caller or answers 401 (bad credential) or 503 (the check
// could not be made).
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*auth.Caller, bool) {
	if s.devCaller != nil {
		return s.devCaller, true
	}
	token, present := bearerToken(r)
	if !present {
		s.unauthorized(w, r, "", "a bearer token is required: Authorization: Bearer <token>")
		return nil, false
	}
	caller, err := s.authn.Authenticate(r.Context(), token)
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		s.log.V(1).Info("unauthenticated MCP request", "reason", err.Error(), "remote", r.RemoteAddr)
		s.unauthorized(w, r, "invalid_token", "the bearer token is invalid, expired or not meant for this server")
		return nil, false
	case err != nil:
		s.log.Error(err, "authenticating an MCP request")
		s.refused(r, http.StatusServiceUnavailable, "auth_unavailable", nil, "the credential could not be checked")
		w.Header().Set("Retry-After", "5")
		http.Error(w, "Service Unavailable: the credential could not be checked; retry later", http.StatusServiceUnavailable)
		return nil, false
	}
	if err := s.cfg.Identities.Check(caller.Identity); err != nil {
		s.log.V(1).Info("refused MCP caller", "user", caller.Identity.Username, "reason", err.Error())
		s.refused(r, http.StatusForbidden, "forbidden", caller, err.Error())
		http.Error(w, "Forbidden: "+err.Error(), http.StatusForbidden)
		return nil, false
	}
	return caller, true
}

// bearerToken returns the token of an "Authorization: Bearer" header. present is
// false when there is no usable header at all.
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// unauthorized answers 401 with the RFC 6750 / RFC 9728 challenge that tells an MCP
// client where to learn how to get a token.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, code, description string) {
	s.refused(r, http.StatusUnauthorized, "unauthenticated", nil, description)
	challenge := fmt.Sprintf(`Bearer resource_metadata=%q`, s.baseURL(r)+PathResourceMetadata)
	if code != "" {
		challenge += fmt.Sprintf(`, error=%q, error_description=%q`, code, description)
	}
	w.Header().Set("WWW-Authenticate", challenge)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	if err := json.NewEncoder(w).Encode(map[string]string{"error": cmp(code, "invalid_request"), "error_description": description}); err != nil {
		s.log.V(1).Info("writing a 401 response", "error", err.Error())
	}
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// originAllowed refuses browser requests from origins not on the allow list. A
// request without Origin is not from a browser page and is allowed (it still needs a
// credential). This stops a web page, including one reached by DNS rebinding, from
// driving the endpoint with a browser's ambient access.
//
// A loopback origin is also allowed on a loopback listener: the page then runs on the
// same machine as the server (a rebinding page has its own origin, and its Host is
// refused on loopback by the SDK).
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if slices.Contains(s.opts.AllowedOrigins, origin) || slices.Contains(s.opts.AllowedOrigins, "*") {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !IsLoopback(u.Hostname()) {
		return false
	}
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return false
	}
	host, _, err := net.SplitHostPort(local.String())
	return err == nil && IsLoopback(host)
}

// readBody reads the whole body within bodyReadTimeout and MaxBodyBytes, so that a
// slow or huge upload is refused before it ties up a handler, and returns it.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.Body == nil {
		return nil, true
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(bodyReadTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	// Clear the deadline: if it fired later during a long call, net/http would
	// cancel the request.
	_ = rc.SetReadDeadline(time.Time{})
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, fmt.Sprintf("Request Entity Too Large: the body exceeds %d bytes", mbe.Limit), http.StatusRequestEntityTooLarge)
			return nil, false
		}
		http.Error(w, "Bad Request: the body could not be read: "+err.Error(), http.StatusBadRequest)
		return nil, false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return body, true
}

// baseURL is where clients reach the endpoint: --mcp-public-url, or else the address
// of the listener the request arrived on (the connection's local address). Never the
// request's Host header: the client chooses it, and the metadata and the challenge
// must not send a client (or a victim a page redirects) to an address of the
// requester's choosing.
func (s *Server) baseURL(r *http.Request) string {
	if s.opts.PublicURL != "" {
		return strings.TrimRight(s.opts.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil || s.opts.TLSCertFile != "" {
		scheme = "https"
	}
	if local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return scheme + "://" + local.String()
	}
	return scheme + "://" + s.opts.BindAddress
}

// serveResourceMetadata serves RFC 9728 protected-resource metadata. It needs no
// credential: it is how a client learns how to get one.
func (s *Server) serveResourceMetadata(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	meta := oauthex.ProtectedResourceMetadata{
		Resource:               s.baseURL(r) + PathStreamable,
		BearerMethodsSupported: []string{"header"},
		ResourceName:           "kubeask MCP endpoint",
		ResourceDocumentation:  "https://github.com/kubeask/kubeask/blob/main/docs/mcp.md",
	}
	meta.AuthorizationServers = s.authorizationServers()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if err := json.NewEncoder(w).Encode(meta); err != nil {
		s.log.V(1).Info("writing resource metadata", "error", err.Error())
	}
}

// authorizationServers are the OAuth authorization servers whose tokens the endpoint
// accepts, for the RFC 9728 metadata: in oidc mode the issuer it validates tokens
// against; in tokenreview and passthrough mode those named by
// --mcp-authorization-server (the cluster's OIDC issuer, whose tokens the API server
// accepts). None otherwise: clients must then be configured with a static
// Authorization header (docs/mcp.md).
func (s *Server) authorizationServers() []string {
	switch s.opts.Auth {
	case auth.ModeOIDC:
		return []string{s.opts.OIDCIssuerURL}
	case auth.ModeTokenReview, auth.ModePassthrough:
		return s.opts.AuthorizationServers
	}
	return nil
}

type callerKey struct{}

// TokenInfo.Extra keys.
const (
	tokenInfoCaller = "kubeask.caller"
	tokenInfoRemote = "kubeask.remote"
)

func withCaller(ctx context.Context, c *auth.Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

func callerFromContext(ctx context.Context) *auth.Caller {
	c, _ := ctx.Value(callerKey{}).(*auth.Caller)
	return c
}

// serverMethods are the JSON-RPC methods an MCP server answers (the SDK's own list).
var serverMethods = map[string]bool{
	"initialize": true, "ping": true, "server/discover": true,
	"tools/list": true, "tools/call": true, "prompts/list": true, "prompts/get": true,
	"resources/list": true, "resources/templates/list": true, "resources/read": true,
	"resources/subscribe": true, "resources/unsubscribe": true, "subscriptions/listen": true,
	"completion/complete": true, "logging/setLevel": true,
}

// methodNotFound answers a single JSON-RPC request for a method no MCP server has with
// a JSON-RPC error body, code -32601, where the SDK answers a plain-text 400: on /mcp
// with HTTP 200 (404 from the 2026-07-28 revision on, as it requires), on /sse with
// HTTP 400 (the legacy transport answers on the stream, which the SDK does not let
// this layer write to). Notifications, batches and what does not parse are left to
// the SDK.
func methodNotFound(w http.ResponseWriter, r *http.Request, body []byte) bool {
	var msg struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Method  *string         `json:"method"`
	}
	b := bytes.TrimLeft(body, " \t\r\n")
	if len(b) == 0 || b[0] != '{' || json.Unmarshal(b, &msg) != nil || msg.Method == nil || len(msg.ID) == 0 || string(msg.ID) == "null" {
		return false
	}
	if serverMethods[*msg.Method] || strings.HasPrefix(*msg.Method, "notifications/") {
		return false
	}
	status := http.StatusOK
	switch {
	case r.URL.Path == PathSSE:
		status = http.StatusBadRequest
	case r.Header.Get("MCP-Protocol-Version") >= "2026-07-28":
		status = http.StatusNotFound
	}
	type rpcError struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   rpcError        `json:"error"`
	}{"2.0", msg.ID, rpcError{-32601, fmt.Sprintf("Method not found: %q", *msg.Method)}}); err != nil {
		return true // the client went away
	}
	return true
}

// Package mcp serves kubeask's tools to MCP clients over the network, for many users
// at once, each acting as themselves.
//
// The endpoint authenticates every request (TokenReview, OIDC or passthrough; see
// package auth), rate-limits each caller, and runs the same tool registry the agent
// uses with clients that impersonate the caller, so that the API server's RBAC decides
// every call as if the caller had made it. One JSON line per tool call goes to the
// audit log, and Prometheus metrics count calls per tool and outcome.
//
// Transports: streamable HTTP at /mcp (stateless, so clients of the 2025 handshake
// and of the 2026-07-28 revision share one endpoint) and the legacy HTTP+SSE transport
// at /sse. Package stdio bridges a local stdio client to the endpoint.
package mcp

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/kubeask/kubeask/internal/mcp/auth"
)

// Mutation policies: what the endpoint does with a tool call that may change the
// cluster.
const (
	// MutationsReadOnly refuses every mutating call (the default).
	MutationsReadOnly = "read-only"
	// MutationsPropose asks the user to confirm each mutating call through MCP
	// elicitation, and refuses it for clients that cannot be asked.
	MutationsPropose = "propose"
	// MutationsAllow runs mutating calls as the caller, like kubectl would.
	MutationsAllow = "allow"
)

// Options configure the endpoint. Flags are prefixed --mcp-.
type Options struct {
	// BindAddress is host:port to serve on; empty disables the endpoint.
	BindAddress string
	// TLSCertFile and TLSKeyFile enable HTTPS.
	TLSCertFile, TLSKeyFile string
	// PublicURL is the base URL clients reach the endpoint at (for the RFC 9728
	// metadata and the WWW-Authenticate challenge); empty uses the address of the
	// listener a request arrived on, never the request's Host header.
	PublicURL string
	// AuthorizationServers are published in the RFC 9728 metadata in tokenreview and
	// passthrough mode: OAuth authorization servers (the cluster's OIDC issuer) whose
	// tokens the API server accepts. oidc mode publishes its issuer.
	AuthorizationServers []string

	// Auth is the authentication mode: tokenreview, oidc, passthrough or none.
	Auth string
	// Audiences are the token audiences TokenReview accepts; empty accepts the API
	// server's own audiences.
	Audiences []string
	// OIDC settings, named like kube-apiserver's --oidc-* flags.
	OIDCIssuerURL, OIDCClientID, OIDCUsernameClaim, OIDCUsernamePrefix string
	OIDCGroupsClaim, OIDCGroupsPrefix, OIDCCAFile                      string
	// DevUser and DevGroups are who --mcp-auth=none acts as (impersonated).
	DevUser   string
	DevGroups []string

	// Mutations is the policy for tool calls that may change the cluster.
	Mutations string
	// AllowedOrigins are the browser origins allowed to call the endpoint; a request
	// with any other Origin header is refused (DNS-rebinding protection).
	AllowedOrigins []string
	// RateLimit is each caller's sustained requests per second; RateBurst its bucket.
	RateLimit float64
	RateBurst int
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes int64
	// MaxSSEStreams bounds the legacy SSE streams one user (username, uid and groups,
	// like the rate limit) may hold open at once.
	MaxSSEStreams int
	// ToolTimeout bounds one tool call; AskTimeout bounds how long ask waits.
	ToolTimeout, AskTimeout time.Duration
	// DefaultNamespace is where ask, sessions_list and triggers_list work when no
	// namespace is given.
	DefaultNamespace string
	// AuditLog is where audit lines go: "-" for stdout, a file path, or "" for none.
	AuditLog string
}

// NewOptions returns the defaults: disabled, tokenreview, read-only.
func NewOptions() Options {
	return Options{
		Auth:              auth.ModeTokenReview,
		OIDCUsernameClaim: "sub",
		DevUser:           "kubeask-dev",
		Mutations:         MutationsReadOnly,
		RateLimit:         20,
		RateBurst:         40,
		MaxBodyBytes:      1 << 20,
		MaxSSEStreams:     8,
		ToolTimeout:       60 * time.Second,
		AskTimeout:        10 * time.Minute,
		DefaultNamespace:  "default",
		AuditLog:          "-",
	}
}

// AddFlags binds the options to fs.
func (o *Options) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.BindAddress, "mcp-bind-address", o.BindAddress, "Address of the MCP endpoint (streamable HTTP at /mcp, SSE at /sse), e.g. :8090; empty disables it.")
	fs.StringVar(&o.TLSCertFile, "mcp-tls-cert-file", o.TLSCertFile, "Serving certificate of the MCP endpoint (PEM); with --mcp-tls-key-file enables HTTPS.")
	fs.StringVar(&o.TLSKeyFile, "mcp-tls-key-file", o.TLSKeyFile, "Private key of --mcp-tls-cert-file (PEM).")
	fs.StringVar(&o.PublicURL, "mcp-public-url", o.PublicURL, "Base URL clients use to reach the MCP endpoint (for OAuth protected-resource metadata), e.g. https://kubeask.example.com; empty uses the listener's own address.")
	fs.Func("mcp-authorization-server", "An OAuth authorization server whose tokens the API server accepts, e.g. the cluster's OIDC issuer (repeatable), published in the protected-resource metadata in tokenreview and passthrough mode.", appendTo(&o.AuthorizationServers))
	fs.StringVar(&o.Auth, "mcp-auth", o.Auth, "How MCP callers authenticate: tokenreview, oidc, passthrough (the caller's token is the Kubernetes credential) or none (loopback development only).")
	fs.Func("mcp-audience", "A token audience accepted by TokenReview (repeatable), e.g. kubeask-mcp; empty accepts the API server's audiences.", appendTo(&o.Audiences))
	fs.StringVar(&o.OIDCIssuerURL, "mcp-oidc-issuer-url", o.OIDCIssuerURL, "OIDC issuer of MCP tokens (--mcp-auth=oidc).")
	fs.StringVar(&o.OIDCClientID, "mcp-oidc-client-id", o.OIDCClientID, "Audience MCP tokens must carry (--mcp-auth=oidc).")
	fs.StringVar(&o.OIDCUsernameClaim, "mcp-oidc-username-claim", o.OIDCUsernameClaim, "JWT claim used as the username, like kube-apiserver's --oidc-username-claim.")
	fs.StringVar(&o.OIDCUsernamePrefix, "mcp-oidc-username-prefix", o.OIDCUsernamePrefix, "Prefix of usernames, like --oidc-username-prefix ('-' for none; default '<issuer>#' unless the claim is email).")
	fs.StringVar(&o.OIDCGroupsClaim, "mcp-oidc-groups-claim", o.OIDCGroupsClaim, "JWT claim holding the groups, like --oidc-groups-claim.")
	fs.StringVar(&o.OIDCGroupsPrefix, "mcp-oidc-groups-prefix", o.OIDCGroupsPrefix, "Prefix of groups, like --oidc-groups-prefix.")
	fs.StringVar(&o.OIDCCAFile, "mcp-oidc-ca-file", o.OIDCCAFile, "CA bundle for the OIDC issuer (PEM); empty uses the system roots.")
	fs.StringVar(&o.DevUser, "mcp-dev-user", o.DevUser, "User that --mcp-auth=none impersonates for every request.")
	fs.Func("mcp-dev-group", "Group of --mcp-dev-user (repeatable).", appendTo(&o.DevGroups))
	fs.StringVar(&o.Mutations, "mcp-mutations", o.Mutations, "Tool calls that may change the cluster: read-only (refused), propose (confirmed by the user through MCP elicitation) or allow.")
	fs.Func("mcp-allowed-origin", "A browser Origin allowed to call the MCP endpoint (repeatable), e.g. http://localhost:6274; requests with other origins are refused.", appendTo(&o.AllowedOrigins))
	fs.Float64Var(&o.RateLimit, "mcp-rate-limit", o.RateLimit, "Requests per second each MCP caller may make (token bucket); 0 disables the limit.")
	fs.IntVar(&o.RateBurst, "mcp-rate-burst", o.RateBurst, "Bucket size of --mcp-rate-limit.")
	fs.Int64Var(&o.MaxBodyBytes, "mcp-max-body-bytes", o.MaxBodyBytes, "Largest MCP request body accepted.")
	fs.IntVar(&o.MaxSSEStreams, "mcp-max-sse-streams", o.MaxSSEStreams, "Legacy SSE streams (/sse) one MCP user may hold open at once; more get 429.")
	fs.DurationVar(&o.ToolTimeout, "mcp-tool-timeout", o.ToolTimeout, "Longest an MCP tool call may run.")
	fs.DurationVar(&o.AskTimeout, "mcp-ask-timeout", o.AskTimeout, "Longest the ask tool waits for an answer before returning the query's name.")
	fs.StringVar(&o.DefaultNamespace, "mcp-default-namespace", o.DefaultNamespace, "Namespace of ask, sessions_list and triggers_list when the caller names none.")
	fs.StringVar(&o.AuditLog, "mcp-audit-log", o.AuditLog, "Where MCP audit lines go: '-' for stdout, a file path, or empty for none.")
}

func appendTo(list *[]string) func(string) error {
	return func(s string) error {
		*list = append(*list, s)
		return nil
	}
}

// Enabled reports whether the endpoint is served.
func (o *Options) Enabled() bool { return o.BindAddress != "" }

// Validate reports every invalid option at once; a disabled endpoint is always valid.
func (o *Options) Validate() error {
	if !o.Enabled() {
		return nil
	}
	var errs []error
	host, _, err := net.SplitHostPort(o.BindAddress)
	if err != nil {
		errs = append(errs, fmt.Errorf("--mcp-bind-address %q: %w", o.BindAddress, err))
	}
	modes := []string{auth.ModeTokenReview, auth.ModeOIDC, auth.ModePassthrough, auth.ModeNone}
	if !slices.Contains(modes, o.Auth) {
		errs = append(errs, fmt.Errorf("--mcp-auth must be one of %s, not %q", strings.Join(modes, ", "), o.Auth))
	}
	if o.Auth == auth.ModeNone {
		if err == nil && !IsLoopback(host) {
			errs = append(errs, fmt.Errorf("--mcp-auth=none serves without authentication and is only allowed on a loopback address, not %q", o.BindAddress))
		}
		if o.DevUser == "" {
			errs = append(errs, errors.New("--mcp-auth=none needs --mcp-dev-user"))
		}
	}
	if o.Auth == auth.ModeOIDC && (o.OIDCIssuerURL == "" || o.OIDCClientID == "") {
		errs = append(errs, errors.New("--mcp-auth=oidc needs --mcp-oidc-issuer-url and --mcp-oidc-client-id"))
	}
	if o.PublicURL != "" {
		if err := absoluteHTTPURL(o.PublicURL); err != nil {
			errs = append(errs, fmt.Errorf("--mcp-public-url: %w", err))
		}
	}
	for _, as := range o.AuthorizationServers {
		if err := absoluteHTTPURL(as); err != nil {
			errs = append(errs, fmt.Errorf("--mcp-authorization-server: %w", err))
		}
	}
	if len(o.AuthorizationServers) > 0 && o.Auth != auth.ModeTokenReview && o.Auth != auth.ModePassthrough {
		errs = append(errs, fmt.Errorf("--mcp-authorization-server is for --mcp-auth=tokenreview or passthrough (oidc publishes --mcp-oidc-issuer-url), not %q", o.Auth))
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		errs = append(errs, errors.New("--mcp-tls-cert-file and --mcp-tls-key-file go together"))
	}
	if !slices.Contains([]string{MutationsReadOnly, MutationsPropose, MutationsAllow}, o.Mutations) {
		errs = append(errs, fmt.Errorf("--mcp-mutations must be read-only, propose or allow, not %q", o.Mutations))
	}
	if o.RateLimit < 0 || (o.RateLimit > 0 && o.RateBurst < 1) {
		errs = append(errs, errors.New("--mcp-rate-limit must not be negative and --mcp-rate-burst must be at least 1"))
	}
	if o.MaxSSEStreams < 1 {
		errs = append(errs, fmt.Errorf("--mcp-max-sse-streams must be at least 1, not %d", o.MaxSSEStreams))
	}
	if o.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("--mcp-max-body-bytes must be at least 1024, not %d", o.MaxBodyBytes))
	}
	if o.ToolTimeout <= 0 || o.AskTimeout <= 0 {
		errs = append(errs, errors.New("--mcp-tool-timeout and --mcp-ask-timeout must be positive"))
	}
	if o.DefaultNamespace == "" {
		errs = append(errs, errors.New("--mcp-default-namespace must not be empty"))
	}
	return errors.Join(errs...)
}

// absoluteHTTPURL refuses what cannot be a base URL: not http or https, no host, or a
// query or fragment.
func absoluteHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return err
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return fmt.Errorf("%q is not an absolute http or https URL", raw)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%q has a query or fragment", raw)
	}
	return nil
}

// IsLoopback reports whether host (a name or an IP, without port) is a loopback
// address. An empty host listens on every interface, so it is not.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

package webui

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"strings"
	"time"
)

// Options configure the in-cluster UI that the manager serves. Flags are prefixed --ui-.
type Options struct {
	// BindAddress is host:port to serve on; empty disables the UI (the default).
	BindAddress string
	// TLSCertFile and TLSKeyFile serve HTTPS; without them put TLS in front (an Ingress):
	// the session cookie is Secure either way.
	TLSCertFile, TLSKeyFile string
	// PublicURL is the address people open, e.g. https://kubeask.example.com; OIDC's
	// redirect URL is made from it.
	PublicURL string
	// Audiences are the token audiences TokenReview accepts; empty: the API server's.
	Audiences []string
	// OIDC login: the issuer and client the API server trusts (its --oidc-* flags).
	OIDCIssuerURL, OIDCClientID, OIDCClientSecretFile, OIDCCAFile string
	OIDCScopes                                                    []string
	// DefaultNamespace is where / leads.
	DefaultNamespace string
	// RateLimit and RateBurst bound each person's requests.
	RateLimit float64
	RateBurst int
	// SessionTTL is the longest a login lasts; the token's own expiry ends it earlier.
	SessionTTL time.Duration
	// AuditLog is where audit lines go: "-" for stdout, a file, or "" for none.
	AuditLog string
}

// NewOptions returns the defaults: disabled.
func NewOptions() Options {
	return Options{DefaultNamespace: "default", RateLimit: 10, RateBurst: 40, SessionTTL: 8 * time.Hour, AuditLog: "-"}
}

// AddFlags binds the options to fs.
func (o *Options) AddFlags(fs *flag.FlagSet) {
	list := func(l *[]string) func(string) error {
		return func(s string) error { *l = append(*l, s); return nil }
	}
	fs.StringVar(&o.BindAddress, "ui-bind-address", o.BindAddress, "Address of the web UI, e.g. :8080; empty disables it (the default).")
	fs.StringVar(&o.TLSCertFile, "ui-tls-cert-file", o.TLSCertFile, "Serving certificate of the web UI (PEM); with --ui-tls-key-file enables HTTPS.")
	fs.StringVar(&o.TLSKeyFile, "ui-tls-key-file", o.TLSKeyFile, "Private key of --ui-tls-cert-file (PEM).")
	fs.StringVar(&o.PublicURL, "ui-public-url", o.PublicURL, "Address people open the web UI at, e.g. https://kubeask.example.com (needed for OIDC login).")
	fs.Func("ui-audience", "A token audience TokenReview accepts for web UI logins (repeatable); empty accepts the API server's.", list(&o.Audiences))
	fs.StringVar(&o.OIDCIssuerURL, "ui-oidc-issuer-url", o.OIDCIssuerURL, "OIDC issuer for web UI logins (authorization code with PKCE); the API server must trust it (--oidc-issuer-url).")
	fs.StringVar(&o.OIDCClientID, "ui-oidc-client-id", o.OIDCClientID, "OIDC client ID of the web UI; the API server must accept it as an audience (--oidc-client-id).")
	fs.StringVar(&o.OIDCClientSecretFile, "ui-oidc-client-secret-file", o.OIDCClientSecretFile, "File holding the OIDC client secret; empty for a public client (PKCE alone).")
	fs.StringVar(&o.OIDCCAFile, "ui-oidc-ca-file", o.OIDCCAFile, "CA bundle of the OIDC issuer (PEM); empty uses the system roots.")
	fs.Func("ui-oidc-scope", "An OIDC scope to ask for (repeatable); default openid, profile, email, groups.", list(&o.OIDCScopes))
	fs.StringVar(&o.DefaultNamespace, "ui-default-namespace", o.DefaultNamespace, "Namespace the web UI opens in.")
	fs.Float64Var(&o.RateLimit, "ui-rate-limit", o.RateLimit, "Requests per second each web UI user may make (token bucket); 0 disables the limit.")
	fs.IntVar(&o.RateBurst, "ui-rate-burst", o.RateBurst, "Bucket size of --ui-rate-limit.")
	fs.DurationVar(&o.SessionTTL, "ui-session-ttl", o.SessionTTL, "Longest a web UI login lasts; a token's own expiry ends it sooner.")
	fs.StringVar(&o.AuditLog, "ui-audit-log", o.AuditLog, "Where web UI audit lines go: '-' for stdout, a file path, or empty for none.")
}

// Enabled reports whether the UI is served.
func (o *Options) Enabled() bool { return o.BindAddress != "" }

// Validate reports every invalid option at once; a disabled UI is always valid.
func (o *Options) Validate() error {
	if !o.Enabled() {
		return nil
	}
	var errs []error
	if _, _, err := net.SplitHostPort(o.BindAddress); err != nil {
		errs = append(errs, fmt.Errorf("--ui-bind-address %q: %w", o.BindAddress, err))
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		errs = append(errs, errors.New("--ui-tls-cert-file and --ui-tls-key-file go together"))
	}
	if (o.OIDCIssuerURL == "") != (o.OIDCClientID == "") {
		errs = append(errs, errors.New("--ui-oidc-issuer-url and --ui-oidc-client-id go together"))
	}
	if o.OIDCIssuerURL != "" && !strings.HasPrefix(o.PublicURL, "https://") && !strings.HasPrefix(o.PublicURL, "http://localhost") && !strings.HasPrefix(o.PublicURL, "http://127.0.0.1") {
		errs = append(errs, errors.New("OIDC login needs --ui-public-url, the https:// address people open (the issuer redirects back to <url>/login/callback)"))
	}
	if o.RateLimit < 0 || (o.RateLimit > 0 && o.RateBurst < 1) {
		errs = append(errs, errors.New("--ui-rate-limit must not be negative and --ui-rate-burst must be at least 1"))
	}
	if o.SessionTTL < time.Minute {
		errs = append(errs, fmt.Errorf("--ui-session-ttl must be at least 1m, not %s", o.SessionTTL))
	}
	if o.DefaultNamespace == "" {
		errs = append(errs, errors.New("--ui-default-namespace must not be empty"))
	}
	return errors.Join(errs...)
}

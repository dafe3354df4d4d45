package manager

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kubeask/kubeask/internal/mcp/auth"
	"github.com/kubeask/kubeask/internal/webui"
)

// addUI adds the web UI when --ui-bind-address is set. People log in with a token,
// checked as the MCP endpoint checks it (TokenReview behind the same cache), or through
// OIDC, and are impersonated; the manager's own client and cache are never used for
// them.
func (o *Options) addUI(ctx context.Context, mgr ctrl.Manager, cfg *rest.Config, sh *shared) error {
	if !o.UI.Enabled() {
		return nil
	}
	cat, ids := sh.catalog, sh.ids
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	login := &webui.Login{
		Authenticator: &auth.Cached{Inner: &auth.TokenReview{Reviews: cs.AuthenticationV1().TokenReviews(), Audiences: o.UI.Audiences}},
		Identities:    ids, Server: cfg.Host,
	}
	if o.UI.OIDCIssuerURL != "" {
		if login.OIDC, err = o.uiOIDC(); err != nil {
			return err
		}
	}
	var audit io.Writer
	switch o.UI.AuditLog {
	case "":
	case "-":
		audit = os.Stdout
	default:
		f, err := os.OpenFile(o.UI.AuditLog, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("--ui-audit-log: %w", err)
		}
		audit = f
	}
	logger := log.FromContext(ctx).WithName("ui")
	srv, err := webui.New(ctx, webui.Config{
		Login: login, DefaultNamespace: o.UI.DefaultNamespace, Catalog: cat, AllowedModes: o.AllowedModes,
		RateLimit: o.UI.RateLimit, RateBurst: o.UI.RateBurst, SessionTTL: o.UI.SessionTTL, Audit: audit, Log: logger,
	})
	if err != nil {
		return fmt.Errorf("web UI: %w", err)
	}
	return mgr.Add(&webui.Runnable{Server: srv, Address: o.UI.BindAddress, TLSCertFile: o.UI.TLSCertFile, TLSKeyFile: o.UI.TLSKeyFile, Log: logger})
}

func (o *Options) uiOIDC() (*webui.OIDC, error) {
	oc := &webui.OIDC{
		IssuerURL: o.UI.OIDCIssuerURL, ClientID: o.UI.OIDCClientID, Scopes: o.UI.OIDCScopes,
		RedirectURL: strings.TrimSuffix(o.UI.PublicURL, "/") + "/login/callback",
	}
	if o.UI.OIDCClientSecretFile != "" {
		b, err := os.ReadFile(o.UI.OIDCClientSecretFile)
		if err != nil {
			return nil, fmt.Errorf("--ui-oidc-client-secret-file: %w", err)
		}
		oc.ClientSecret = strings.TrimSpace(string(b))
	}
	if o.UI.OIDCCAFile != "" {
		c, err := rest.HTTPClientFor(&rest.Config{TLSClientConfig: rest.TLSClientConfig{CAFile: o.UI.OIDCCAFile}})
		if err != nil {
			return nil, fmt.Errorf("--ui-oidc-ca-file: %w", err)
		}
		oc.HTTPClient = c
	}
	return oc, nil
}

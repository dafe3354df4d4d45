// Package webui serves kubeask in a browser: sessions and queries as conversations, their
// steps live, an ask form, review of proposed changes with a diff, share links and
// triggers. Every API call it makes is made as the person in the browser, never with a
// server-side identity of its own, and nothing is read through the manager's informer
// cache on anyone's behalf.
//
// One handler, two front doors. Locally (`kubectl ask ui`) it serves one person on
// loopback with their own kubeconfig, behind a secret link. In the cluster the manager
// serves it to everyone who logs in with a bearer token or through OIDC; the token is
// checked exactly as the MCP endpoint checks it, kept on the server only, and the person
// it names is impersonated.
package webui

import (
	"context"
	"embed"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/go-logr/logr"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/llm/catalog"
	"github.com/kubeask/kubeask/internal/mcp/audit"
	"github.com/kubeask/kubeask/internal/mcp/ratelimit"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is what a Server is built from. Exactly one of Local and Login is set.
type Config struct {
	// Local serves one person with their kubeconfig (kubectl ask ui).
	Local *Local
	// Login lets people log in with a token or OIDC (the manager).
	Login *Login
	// DefaultNamespace is where / leads.
	DefaultNamespace string
	// Catalog and AllowedModes are what the ask form offers (the manager's). Locally,
	// without them, the form offers the catalog the manager publishes
	// (Local.CatalogNamespace), read as the person, else free text.
	Catalog      *catalog.Catalog
	AllowedModes []agentsv1alpha1.Mode
	// RateLimit and RateBurst bound each person's requests (token bucket).
	RateLimit float64
	RateBurst int
	// SessionTTL is the longest a login lasts; a token's own expiry ends it earlier.
	SessionTTL time.Duration
	// Audit receives one JSON line per request (the MCP endpoint's format); nil: none.
	Audit io.Writer
	Log   logr.Logger
}

// Server is the web UI's handler.
type Server struct {
	cfg      Config
	pages    *pages
	sessions *sessionStore
	limiter  *ratelimit.Limiter
	logins   *ratelimit.Limiter
	audit    *audit.Logger
	handler  http.Handler
	// secure marks cookies Secure and names them __Host-: always in the cluster, never
	// on the loopback HTTP of kubectl ask ui.
	secure bool
}

// New builds the server.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if (cfg.Local == nil) == (cfg.Login == nil) {
		return nil, errors.New("webui: exactly one of Local and Login")
	}
	if cfg.DefaultNamespace == "" {
		cfg.DefaultNamespace = "default"
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 8 * time.Hour
	}
	if len(cfg.AllowedModes) == 0 {
		cfg.AllowedModes = []agentsv1alpha1.Mode{agentsv1alpha1.ModeReadOnly, agentsv1alpha1.ModePropose, agentsv1alpha1.ModeAuto}
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      cfg,
		pages:    p,
		sessions: newSessionStore(),
		limiter:  &ratelimit.Limiter{PerSecond: cfg.RateLimit, Burst: cfg.RateBurst},
		// Logins are limited by address, before anyone is known: a pasted token costs a
		// TokenReview.
		logins: &ratelimit.Limiter{PerSecond: 1, Burst: 10},
		audit:  audit.NewLogger(cfg.Audit),
		secure: cfg.Login != nil,
	}
	if cfg.Local != nil {
		if err := cfg.Local.resolve(ctx); err != nil {
			return nil, err
		}
	}
	s.handler = s.withHeaders(s.routes())
	return s, nil
}

// Handler serves the UI.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.FileServerFS(staticFS))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	if s.cfg.Local != nil {
		mux.HandleFunc("GET /open", s.openLocal)
	} else {
		mux.HandleFunc("GET /login", s.loginPage)
		mux.HandleFunc("POST /login", s.loginToken)
		if s.cfg.Login.OIDC != nil {
			mux.HandleFunc("GET /login/oidc", s.loginOIDC)
			mux.HandleFunc("GET /login/callback", s.oidcCallback)
		}
	}
	mux.Handle("POST /logout", s.person("logout", s.logout))
	mux.Handle("GET /{$}", s.person("home", func(w http.ResponseWriter, r *http.Request, _ *visit) {
		http.Redirect(w, r, "/ns/"+s.cfg.DefaultNamespace+"/", http.StatusSeeOther)
	}))
	mux.Handle("GET /ns", s.person("namespace", s.switchNamespace))
	mux.Handle("GET /ns/{ns}/{$}", s.person("list", s.home))
	mux.Handle("GET /ns/{ns}/sessions/{name}", s.person("session", s.session))
	mux.Handle("GET /ns/{ns}/queries/{name}", s.person("query", s.query))
	mux.Handle("GET /ns/{ns}/queries/{name}/events", s.person("watch", s.live))
	mux.Handle("GET /ns/{ns}/triggers", s.person("triggers", s.triggers))
	mux.Handle("POST /ns/{ns}/ask", s.person("ask", s.ask))
	mux.Handle("POST /ns/{ns}/queries/{name}/decide", s.person("decide", s.decide))
	mux.Handle("POST /ns/{ns}/queries/{name}/cancel", s.person("cancel", s.cancel))
	return mux
}

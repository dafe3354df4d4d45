package mcp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubeask/kubeask/internal/identity"
	"github.com/kubeask/kubeask/internal/llm/catalog"
	"github.com/kubeask/kubeask/internal/mcp/audit"
	"github.com/kubeask/kubeask/internal/mcp/auth"
	"github.com/kubeask/kubeask/internal/mcp/metrics"
	"github.com/kubeask/kubeask/internal/mcp/ratelimit"
	"github.com/kubeask/kubeask/internal/tools"
)

// Version is reported to MCP clients as the server's version.
const Version = "v0.1.0"

// Config is what the endpoint is built from.
type Config struct {
	Options Options
	// RESTConfig is the operator's own connection. It is used for TokenReviews and as
	// the base of impersonating (or, in passthrough mode, bearer) clients, never as is
	// for a caller.
	RESTConfig *rest.Config
	// Identities builds impersonating clients and applies the deny lists.
	Identities *identity.Factory
	// Mapper resolves resource names for the tools; RESTMapper does the same for the
	// controller-runtime clients of ask, sessions_list and triggers_list.
	Mapper     *tools.Mapper
	RESTMapper meta.RESTMapper
	// Scheme knows the kubeask API.
	Scheme *runtime.Scheme
	// Tools is the registry; the same one the agent uses.
	Tools *tools.Registry
	// Catalog holds the profiles served as prompts; nil serves none.
	Catalog *catalog.Catalog
	// Output bounds tool results.
	Output tools.OutputPolicy
	// KubectlPath enables the kubectl tool (not in passthrough mode).
	KubectlPath string
	// Registerer receives the metrics; nil registers none.
	Registerer prometheus.Registerer
	// Log is the server's logger.
	Log logr.Logger
	// Audit overrides Options.AuditLog (tests).
	Audit io.Writer
	// Authenticator overrides the one built from Options.Auth (tests).
	Authenticator auth.Authenticator
}

// Server is the MCP endpoint. It is a controller-runtime Runnable that runs on every
// replica, leader or not.
type Server struct {
	cfg        Config
	opts       Options
	log        logr.Logger
	authn      auth.Authenticator
	devCaller  *auth.Caller
	limiter    *ratelimit.Limiter
	audit      *audit.Logger
	auditClose io.Closer
	metrics    *metrics.Metrics
	envs       *envCache
	shared     *mcp.Server
	schemas    *mcp.SchemaCache
	sse        *sseSessions
	// throttleLog reports client-side throttling of the callers' clients.
	throttleLog throttleLog
	// refusals rate-limits the audit lines of refused requests.
	refusals *refusalLog
	stateKey []byte
	handler  http.Handler
	// draining ends when shutdown begins: open SSE streams end then.
	draining context.Context
	drain    context.CancelFunc
	// operator is the operator's own clientset (built on first use): it only names
	// candidate namespaces for completion, which the caller's access reviews decide.
	operatorOnce sync.Once
	operator     kubernetes.Interface
	operatorErr  error
}

// New builds the endpoint.
func New(ctx context.Context, cfg Config) (*Server, error) {
	opts := cfg.Options
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if cfg.RESTConfig == nil || cfg.Identities == nil || cfg.Mapper == nil || cfg.Tools == nil || cfg.Scheme == nil || cfg.RESTMapper == nil {
		return nil, errors.New("mcp: the REST config, identity factory, mappers, scheme and tool registry are required")
	}
	s := &Server{
		cfg:      cfg,
		opts:     opts,
		log:      cfg.Log.WithName("mcp"),
		limiter:  &ratelimit.Limiter{PerSecond: opts.RateLimit, Burst: opts.RateBurst},
		schemas:  mcp.NewSchemaCache(),
		sse:      newSSESessions(&mcp.SSEOptions{MaxRequestBodyBytes: opts.MaxBodyBytes}),
		stateKey: make([]byte, 32),
		refusals: newRefusalLog(),
	}
	s.draining, s.drain = context.WithCancel(context.Background())
	if _, err := rand.Read(s.stateKey); err != nil {
		return nil, err
	}
	var err error
	if s.metrics, err = metrics.New(cfg.Registerer); err != nil {
		return nil, fmt.Errorf("registering MCP metrics: %w", err)
	}
	switch {
	case cfg.Audit != nil:
		s.audit = audit.NewLogger(cfg.Audit)
	case opts.AuditLog == "-":
		s.audit = audit.NewLogger(os.Stdout)
	case opts.AuditLog != "":
		f, err := os.OpenFile(opts.AuditLog, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("--mcp-audit-log: %w", err)
		}
		s.audit, s.auditClose = audit.NewLogger(f), f
	}
	if s.authn, err = s.buildAuthenticator(ctx); err != nil {
		return nil, err
	}
	s.envs = newEnvCache(s.buildEnv)
	s.shared = s.newMCPServer(callerFromTokenInfo(s))
	s.handler = s.routes()
	return s, nil
}

func (s *Server) buildAuthenticator(ctx context.Context) (auth.Authenticator, error) {
	if s.cfg.Authenticator != nil {
		return s.cfg.Authenticator, nil
	}
	switch s.opts.Auth {
	case auth.ModeNone:
		s.devCaller = &auth.Caller{
			Identity: identity.Identity{Username: s.opts.DevUser, Groups: s.opts.DevGroups},
			Mode:     auth.ModeNone,
		}
		return &auth.None{Identity: s.devCaller.Identity}, nil
	case auth.ModePassthrough:
		return &auth.Cached{Inner: &auth.Passthrough{Base: s.cfg.RESTConfig}}, nil
	case auth.ModeOIDC:
		var httpClient *http.Client
		if s.opts.OIDCCAFile != "" {
			c, err := rest.HTTPClientFor(&rest.Config{TLSClientConfig: rest.TLSClientConfig{CAFile: s.opts.OIDCCAFile}})
			if err != nil {
				return nil, fmt.Errorf("--mcp-oidc-ca-file: %w", err)
			}
			httpClient = c
		}
		o, err := auth.NewOIDC(ctx, auth.OIDCConfig{
			IssuerURL: s.opts.OIDCIssuerURL, ClientID: s.opts.OIDCClientID,
			UsernameClaim: s.opts.OIDCUsernameClaim, UsernamePrefix: s.opts.OIDCUsernamePrefix,
			GroupsClaim: s.opts.OIDCGroupsClaim, GroupsPrefix: s.opts.OIDCGroupsPrefix,
			HTTPClient: httpClient,
		})
		if err != nil {
			return nil, err
		}
		return &auth.Cached{Inner: o}, nil
	default:
		cs, err := kubernetes.NewForConfig(s.cfg.RESTConfig)
		if err != nil {
			return nil, err
		}
		return &auth.Cached{Inner: &auth.TokenReview{Reviews: cs.AuthenticationV1().TokenReviews(), Audiences: s.opts.Audiences}}, nil
	}
}

// Handler is the endpoint's HTTP handler (tests serve it on their own listener).
func (s *Server) Handler() http.Handler { return s.handler }

// NeedLeaderElection implements LeaderElectionRunnable: every replica serves.
func (s *Server) NeedLeaderElection() bool { return false }

// Start serves until ctx ends, then shuts down gracefully: new connections are
// refused, SSE streams are ended, and in-flight calls get shutdownGrace to finish.
func (s *Server) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.opts.BindAddress)
	if err != nil {
		return fmt.Errorf("MCP endpoint: %w", err)
	}
	return s.Serve(ctx, ln)
}

// shutdownGrace is how long in-flight requests get when the manager stops.
const shutdownGrace = 20 * time.Second

// Serve is Start on a given listener.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	tlsOn := s.opts.TLSCertFile != ""
	srv := &http.Server{
		Handler: s.handler,
		// Only the header read is bounded here: a read deadline that expires while a
		// long call (ask, an SSE stream) runs would cancel it. Bodies are read with
		// their own deadline (see readBody).
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logr.ToSlogHandler(s.log), slog.LevelInfo),
	}
	s.warn(ln.Addr().String(), tlsOn)
	errc := make(chan error, 1)
	go func() {
		if tlsOn {
			errc <- srv.ServeTLS(ln, s.opts.TLSCertFile, s.opts.TLSKeyFile)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	s.log.Info("serving MCP", "address", ln.Addr().String(), "tls", tlsOn, "auth", s.opts.Auth, "mutations", s.opts.Mutations)
	select {
	case err := <-errc:
		return fmt.Errorf("MCP endpoint: %w", err)
	case <-ctx.Done():
	}
	s.drain()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if err != nil {
		_ = srv.Close()
	}
	if s.auditClose != nil {
		_ = s.auditClose.Close()
	}
	s.log.Info("MCP endpoint stopped")
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// warn says loudly when the endpoint is less safe than it should be.
func (s *Server) warn(addr string, tlsOn bool) {
	host, _, _ := net.SplitHostPort(addr)
	if !tlsOn && !IsLoopback(host) {
		s.log.Info("WARNING: the MCP endpoint serves plain HTTP on a non-loopback address: bearer tokens cross the network in clear text. Set --mcp-tls-cert-file and --mcp-tls-key-file, or terminate TLS in front of it.", "address", addr)
	}
	if s.opts.Auth == auth.ModeNone {
		s.log.Info("WARNING: --mcp-auth=none: the MCP endpoint authenticates NOBODY; every request acts as the development user. For local development on loopback only.", "address", addr, "user", s.opts.DevUser)
	}
	if s.opts.PublicURL == "" && s.opts.Auth != auth.ModeNone {
		s.log.Info("NOTE: --mcp-public-url is not set: the protected-resource metadata and the WWW-Authenticate challenge name the listener's own address, which is right only for clients that connect to it directly (not through a Service name, an ingress or a load balancer)", "address", addr)
	}
	if s.opts.Auth == auth.ModePassthrough {
		s.log.Info("NOTE: --mcp-auth=passthrough: callers' tokens are used as Kubernetes credentials (a documented deviation from the MCP authorization spec, see docs/mcp.md)")
	}
}

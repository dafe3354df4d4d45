package webui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/go-logr/logr"
)

// Runnable serves the UI in the manager, on every replica (it needs no leader). Logins
// live in each replica's memory: with several replicas, the Service keeps a browser on
// one (sessionAffinity), or a browser logs in again where it lands.
type Runnable struct {
	Server                  *Server
	Address                 string
	TLSCertFile, TLSKeyFile string
	Log                     logr.Logger
}

// NeedLeaderElection implements LeaderElectionRunnable.
func (r *Runnable) NeedLeaderElection() bool { return false }

// Start serves until ctx ends, then gives requests 10 s (event streams end at once).
func (r *Runnable) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", r.Address)
	if err != nil {
		return fmt.Errorf("web UI: %w", err)
	}
	srv := &http.Server{
		Handler:           r.Server.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(logr.ToSlogHandler(r.Log), slog.LevelInfo),
	}
	tlsOn := r.TLSCertFile != ""
	if !tlsOn {
		r.Log.Info("the web UI serves plain HTTP: put TLS in front of it (an Ingress); browsers only send its Secure session cookie over HTTPS", "address", ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() {
		if tlsOn {
			errc <- srv.ServeTLS(ln, r.TLSCertFile, r.TLSKeyFile)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	r.Log.Info("serving the web UI", "address", ln.Addr().String(), "tls", tlsOn)
	select {
	case err := <-errc:
		return fmt.Errorf("web UI: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

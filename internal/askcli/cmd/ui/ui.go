// Package ui is `kubectl ask ui`: the kubeask web UI on this machine's loopback, acting
// with the user's own kubeconfig, like kubectl proxy. It adds no way into the cluster:
// the browser reaches only what the kubeconfig's user may, and only the browser that
// opened the link the command prints (it carries a secret).
package ui

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"

	"github.com/kubeask/kubeask/internal/askcli/exitcode"
	"github.com/kubeask/kubeask/internal/askcli/factory"
	"github.com/kubeask/kubeask/internal/webui"
)

// Options of ui.
type Options struct {
	f *factory.Factory
	// Port on 127.0.0.1; 0 picks a free one.
	Port int
	// NoBrowser only prints the link.
	NoBrowser bool
	// CatalogNamespace is the operator's namespace, where the manager publishes the
	// models and profiles it offers (ConfigMap kubeask-catalog); empty: free text.
	CatalogNamespace string
	// OpenBrowser opens a URL; tests replace it.
	OpenBrowser func(url string) error

	secret string
}

// NewCmd builds the command.
func NewCmd(f *factory.Factory) *cobra.Command {
	o := &Options{f: f, Port: 8765, OpenBrowser: openBrowser, CatalogNamespace: "kubeask-system"}
	cmd := &cobra.Command{
		Use:   "ui",
		Short: "Open the kubeask web UI, acting as you with your kubeconfig",
		Long: `Serve the kubeask web UI on this machine (127.0.0.1 only) and open it in the browser.

Every call it makes goes to the API server of your current context (or --context) with
your kubeconfig's credentials, so the page shows and does only what you may: sessions
and questions as conversations, steps as they happen, the ask form, review and
approval of proposed changes, triggers. The ask form offers the models, profiles and
modes the platform lets you use, which the operator publishes in the ConfigMap
kubeask-catalog of its namespace (--catalog-namespace); without it, you type the names.
The link it prints carries a secret: other users of this machine can reach the port,
but not without it. Ctrl-C stops it.`,
		Example: `  kubectl ask ui
  kubectl ask ui --context prod -n team-a --port 9000 --no-browser`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().IntVar(&o.Port, "port", o.Port, "Port on 127.0.0.1 to serve on (0 picks a free one).")
	cmd.Flags().BoolVar(&o.NoBrowser, "no-browser", false, "Print the link without opening a browser.")
	cmd.Flags().StringVar(&o.CatalogNamespace, "catalog-namespace", o.CatalogNamespace, "The operator's namespace, where it publishes the models and profiles it offers (ConfigMap kubeask-catalog); empty: type the names.")
	return cmd
}

// Complete makes the link's secret.
func (o *Options) Complete() error {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	o.secret = base64.RawURLEncoding.EncodeToString(b)
	return nil
}

// Validate checks the port before anything is sent.
func (o *Options) Validate() error {
	if o.Port < 0 || o.Port > 65535 {
		return exitcode.UsageErrorf("--port must be between 0 and 65535, not %d", o.Port)
	}
	return nil
}

// Run serves until Ctrl-C.
func (o *Options) Run(ctx context.Context) error {
	c, err := o.f.Client()
	if err != nil {
		return err
	}
	ns := c.Namespace
	if ns == "" {
		ns = "default"
	}
	local := &webui.Local{Client: c, Secret: o.secret, CatalogNamespace: o.CatalogNamespace}
	srv, err := webui.New(ctx, webui.Config{Local: local, DefaultNamespace: ns, RateLimit: 50, RateBurst: 100, SessionTTL: 24 * time.Hour, Log: logr.Discard()})
	if err != nil {
		return err
	}
	// Loopback only, whatever the port: the UI acts with the kubeconfig's credentials.
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(o.Port)))
	if err != nil {
		return fmt.Errorf("listening on 127.0.0.1:%d: %w (pick another with --port)", o.Port, err)
	}
	url := local.OpenURL("http://" + ln.Addr().String())
	where := c.Context
	if where == "" {
		where = c.Server
	}
	fmt.Fprintf(o.f.IO.ErrOut, "kubeask UI for context %s, acting as you. Open:\n", where)
	fmt.Fprintln(o.f.IO.Out, url)
	fmt.Fprintln(o.f.IO.ErrOut, "The link carries a secret; do not share it (share the pages' own addresses instead). Ctrl-C stops.")
	if !o.NoBrowser && o.OpenBrowser != nil {
		if err := o.OpenBrowser(url); err != nil {
			fmt.Fprintf(o.f.IO.ErrOut, "Could not open a browser (%v); open the link yourself.\n", err)
		}
	}
	ictx, stop := o.f.Interruptible(ctx)
	defer stop()
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ictx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdown); err != nil {
		_ = hs.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// openBrowser opens url with the system's handler, or $BROWSER.
func openBrowser(url string) error {
	var cmd *exec.Cmd
	switch {
	case os.Getenv("BROWSER") != "":
		cmd = exec.Command(os.Getenv("BROWSER"), url) //nolint:gosec // the user's own browser setting
	case runtime.GOOS == "darwin":
		cmd = exec.Command("open", url) //nolint:gosec // G204: our own loopback link
	case runtime.GOOS == "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url) //nolint:gosec // G204: our own loopback link
	default:
		cmd = exec.Command("xdg-open", url) //nolint:gosec // G204: our own loopback link
	}
	return cmd.Start()
}

// Package stdio bridges a local MCP client that only speaks stdio (a desktop app) to
// kubeask's remote MCP endpoint, authenticating with the user's kubeconfig
// credentials. It is the building block of `kubectl ask mcp`.
//
// The bridge relays JSON-RPC messages unchanged in both directions, so the client
// negotiates its protocol version with the server itself; the bridge only adds the
// Authorization header (fresh for every request, so exec plugins and token files
// that rotate keep working) and the protocol version header the streamable HTTP
// transport expects.
//
// ServeMulti is the multi-cluster form (`kubectl ask mcp --contexts a,b`): one MCP
// server whose tools take a context argument and are forwarded to that context's
// endpoint with that context's own credentials.
package stdio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"k8s.io/client-go/rest"
)

// Options tune the bridge.
type Options struct {
	// HTTPClient reaches the endpoint (its TLS settings, e.g. a private CA); nil means
	// a client with the system roots. Its transport gets the credentials added.
	HTTPClient *http.Client
	// AllowInsecureHTTP lets the bridge send the token over plain HTTP to a host other
	// than this machine (see CheckEndpoint).
	AllowInsecureHTTP bool
}

// ErrPlainHTTP is returned for a plain http:// endpoint on a host other than this
// machine: the bearer token would cross the network unencrypted, readable by anyone on
// the path, and it is the user's Kubernetes credential.
var ErrPlainHTTP = errors.New("plain HTTP to a host other than this machine would send your Kubernetes token unencrypted")

// CheckEndpoint parses the endpoint and refuses one the token must not be sent to:
// anything but an absolute http or https URL with a host, and plain HTTP to a host
// other than this machine (localhost, 127.0.0.0/8, ::1) unless allowInsecureHTTP.
func CheckEndpoint(endpoint string, allowInsecureHTTP bool) (*url.URL, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("the endpoint %q is not a URL: %w", endpoint, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("the endpoint %q must be an https:// URL with a host and no user info, e.g. https://kubeask.example.com/mcp", endpoint)
	}
	if u.Scheme == "http" && !allowInsecureHTTP && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("%w (%s)", ErrPlainHTTP, u.Host)
	}
	return u, nil
}

// isLoopback reports whether host names this machine. Names other than localhost are
// not resolved: what a name resolves to can change between this check and the request.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Bridge relays MCP messages between in/out (newline-delimited JSON-RPC, as on
// stdio) and the endpoint (e.g. https://kubeask.example.com/mcp) until in ends, the
// endpoint fails or ctx ends. Every request carries the bearer token the kubeconfig
// credentials of restConfig yield (a token, a token file, an exec plugin or an auth
// provider); client-certificate credentials cannot be forwarded and are refused.
//
// The token goes only to the endpoint's own scheme, host and port, over HTTPS or to this
// machine (CheckEndpoint): a request redirected anywhere else fails instead of carrying it.
func Bridge(ctx context.Context, restConfig *rest.Config, endpoint string, in io.Reader, out io.Writer, opts *Options) error {
	if opts == nil {
		opts = &Options{}
	}
	target, err := CheckEndpoint(endpoint, opts.AllowInsecureHTTP)
	if err != nil {
		return err
	}
	authRT, err := credentialsFor(restConfig)
	if err != nil {
		return err
	}
	base := http.DefaultTransport
	hc := &http.Client{}
	if opts.HTTPClient != nil {
		hc = &http.Client{Timeout: opts.HTTPClient.Timeout, Jar: opts.HTTPClient.Jar}
		if opts.HTTPClient.Transport != nil {
			base = opts.HTTPClient.Transport
		}
	}
	version := &atomic.Value{}
	version.Store("")
	hc.Transport = &authorizing{credentials: authRT, base: base, version: version, scheme: target.Scheme, host: target.Host}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	local, err := (&mcp.IOTransport{Reader: io.NopCloser(in), Writer: nopCloser{out}}).Connect(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = local.Close() }()
	remote, err := (&mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: hc}).Connect(ctx)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", endpoint, err)
	}
	defer func() { _ = remote.Close() }()

	var wg sync.WaitGroup
	errc := make(chan error, 2)
	relay := func(from, to mcp.Connection, inspect func(jsonrpc.Message)) {
		defer wg.Done()
		for {
			msg, err := from.Read(ctx)
			if err != nil {
				errc <- err
				cancel()
				return
			}
			if inspect != nil {
				inspect(msg)
			}
			if err := to.Write(ctx, msg); err != nil {
				errc <- err
				cancel()
				return
			}
		}
	}
	wg.Add(2)
	go relay(local, remote, nil)
	go relay(remote, local, func(msg jsonrpc.Message) { rememberVersion(msg, version) })
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), "closed") {
			return err
		}
	}
	return nil
}

// rememberVersion records the protocol version the server chose in its initialize
// result, for the Mcp-Protocol-Version header of later requests.
func rememberVersion(msg jsonrpc.Message, version *atomic.Value) {
	resp, ok := msg.(*jsonrpc.Response)
	if !ok || resp.Result == nil {
		return
	}
	var res struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	if err := json.Unmarshal(resp.Result, &res); err == nil && res.ProtocolVersion != "" {
		version.Store(res.ProtocolVersion)
	}
}

// authorizing adds the kubeconfig's credentials and the negotiated protocol version,
// to requests for the endpoint's own scheme and host only.
type authorizing struct {
	credentials  func(*http.Request) (string, error)
	base         http.RoundTripper
	version      *atomic.Value
	scheme, host string
}

func (a *authorizing) RoundTrip(req *http.Request) (*http.Response, error) {
	// http.Client follows redirects through this transport: without this check a
	// redirect would take the token to wherever it points, over any scheme.
	if req.URL.Scheme != a.scheme || !strings.EqualFold(req.URL.Host, a.host) {
		return nil, fmt.Errorf("refusing to send your token to %s://%s: the endpoint is %s://%s (a redirect?)", req.URL.Scheme, req.URL.Host, a.scheme, a.host)
	}
	authz, err := a.credentials(req)
	if err != nil {
		return nil, err
	}
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", authz)
	if v, _ := a.version.Load().(string); v != "" && req.Header.Get("Mcp-Protocol-Version") == "" {
		req.Header.Set("Mcp-Protocol-Version", v)
	}
	return a.base.RoundTrip(req)
}

// credentialsFor returns a function giving the Authorization header the kubeconfig
// credentials produce. client-go's own wrappers compute it (token refresh, exec
// plugins, auth providers); the request never leaves the process.
func credentialsFor(cfg *rest.Config) (func(*http.Request) (string, error), error) {
	if cfg == nil {
		return nil, errors.New("no kubeconfig credentials")
	}
	if cfg.Impersonate.UserName != "" {
		return nil, errors.New("the kubeconfig impersonates another user (--as); the MCP endpoint authenticates you only by your own token")
	}
	rt, err := rest.HTTPWrappersForConfig(cfg, capture{})
	if err != nil {
		return nil, fmt.Errorf("kubeconfig credentials: %w", err)
	}
	return func(orig *http.Request) (string, error) {
		probe, err := http.NewRequestWithContext(orig.Context(), http.MethodGet, cfg.Host+"/", nil)
		if err != nil {
			return "", err
		}
		resp, err := rt.RoundTrip(probe)
		if err != nil {
			return "", err
		}
		_ = resp.Body.Close()
		authz := resp.Header.Get("Authorization")
		if authz == "" {
			return "", errors.New("the kubeconfig has no bearer token for this cluster (client certificates cannot be forwarded): " +
				"use a token, e.g. kubectl create token <serviceaccount> --audience kubeask-mcp, or an OIDC/exec credential")
		}
		return authz, nil
	}, nil
}

// capture is the innermost round tripper: instead of sending the request, it hands the
// Authorization header client-go's wrappers set back in a response.
type capture struct{}

func (capture) RoundTrip(req *http.Request) (*http.Response, error) {
	h := http.Header{}
	if v := req.Header.Get("Authorization"); v != "" {
		h.Set("Authorization", v)
	}
	return &http.Response{StatusCode: http.StatusOK, Header: h, Body: http.NoBody, Request: req}, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// Package stdio bridges a local MCP client that only speaks stdio (a desktop app) to
// kubeask's remote MCP endpoint, authenticating with the user's kubeconfig
// credentials. It is the building block of `kubectl ask mcp`.
//
// The bridge relays JSON-RPC messages unchanged in both directions, so the client
// negotiates its protocol version with the server itself; the bridge only adds the
// Authorization header (fresh for every request, so exec plugins and token files
// that rotate keep working) and the protocol version header the streamable HTTP
// transport expects.
package stdio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
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
}

// Bridge relays MCP messages between in/out (newline-delimited JSON-RPC, as on
// stdio) and the endpoint (e.g. https://kubeask.example.com/mcp) until in ends, the
// endpoint fails or ctx ends. Every request carries the bearer token the kubeconfig
// credentials of restConfig yield (a token, a token file, an exec plugin or an auth
// provider); client-certificate credentials cannot be forwarded and are refused.
func Bridge(ctx context.Context, restConfig *rest.Config, endpoint string, in io.Reader, out io.Writer, opts *Options) error {
	authRT, err := credentialsFor(restConfig)
	if err != nil {
		return err
	}
	if opts == nil {
		opts = &Options{}
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
	hc.Transport = &authorizing{credentials: authRT, base: base, version: version}

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

// authorizing adds the kubeconfig's credentials and the negotiated protocol version.
type authorizing struct {
	credentials func(*http.Request) (string, error)
	base        http.RoundTripper
	version     *atomic.Value
}

func (a *authorizing) RoundTrip(req *http.Request) (*http.Response, error) {
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

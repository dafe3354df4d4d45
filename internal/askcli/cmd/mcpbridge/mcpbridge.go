// Package mcpbridge is `kubectl ask mcp`: a local MCP server on stdin/stdout that
// relays to the operator's remote MCP endpoint, authenticating with the user's own
// kubeconfig credentials, for desktop clients that only speak stdio. With --contexts
// or --all-contexts it serves several clusters at once, each through its own endpoint
// with its own context's credentials.
package mcpbridge

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubeask/kubeask/internal/askcli/exitcode"
	"github.com/kubeask/kubeask/internal/askcli/factory"
	"github.com/kubeask/kubeask/internal/askcli/kubeconfig"
	"github.com/kubeask/kubeask/internal/mcp/stdio"
)

// Options of mcp.
type Options struct {
	f *factory.Factory
	// Endpoints are the --endpoint values: URL, a URL with {context} or {cluster}, or
	// CONTEXT=URL.
	Endpoints []string
	// EnvEndpoint is $KUBEASK_MCP_ENDPOINT, used when no --endpoint is a plain URL.
	EnvEndpoint string
	// InsecureHTTP allows a plain http:// endpoint on another machine.
	InsecureHTTP bool
	// Contexts and AllContexts choose the contexts of the multi-cluster server.
	Contexts    []string
	AllContexts bool

	endpoints endpoints
}

// NewCmd builds the command.
func NewCmd(f *factory.Factory) *cobra.Command {
	o := &Options{f: f, EnvEndpoint: os.Getenv("KUBEASK_MCP_ENDPOINT")}
	cmd := &cobra.Command{
		Use:   "mcp --endpoint URL | --contexts a,b --endpoint a=URL --endpoint b=URL",
		Short: "Serve MCP on stdio, relayed to the operator's MCP endpoint as you",
		Long: `Serve MCP on stdin/stdout for clients that only speak stdio (desktop apps), relaying
every message to the kubeask operator's remote MCP endpoint. Requests carry the bearer
token of your kubeconfig credentials (a token, a token file, or an exec plugin), so the
endpoint acts as you. Client-certificate credentials cannot be relayed.

With --contexts a,b (or --all-contexts) one MCP server reaches several clusters: every
tool takes a "context" argument (one of the contexts, default the current one) and the
call goes to that context's kubeask endpoint with that context's own credentials. A
cluster that cannot be reached fails only the calls made to it.

Each context's endpoint is, in this order: --endpoint CONTEXT=URL; else the plain
--endpoint URL (default $KUBEASK_MCP_ENDPOINT) with {context} and {cluster} replaced by
the context's name and its kubeconfig cluster's name. A plain URL without those
placeholders serves one context only: otherwise every context's token would go to it.

The token is sent only to the endpoint itself, never to where it redirects, and only
over HTTPS, or plain HTTP to this machine (localhost, 127.0.0.1, ::1, e.g. through
kubectl port-forward). --insecure-http allows plain HTTP to another host.`,
		Example: `  # in an MCP client's configuration:
  #   "command": "kubectl", "args": ["ask", "mcp", "--endpoint", "https://kubeask.example.com/mcp"]
  kubectl ask mcp --endpoint https://kubeask.example.com/mcp

  # through a port-forward to the operator's MCP port
  kubectl -n kubeask-system port-forward svc/kubeask 8090:mcp &
  kubectl ask mcp --endpoint http://127.0.0.1:8090/mcp

  # two clusters through one MCP server
  kubectl ask mcp --contexts prod,staging \
    --endpoint prod=https://kubeask.prod.example.com/mcp \
    --endpoint staging=https://kubeask.staging.example.com/mcp

  # every context, by the platform's naming convention
  kubectl ask mcp --all-contexts --endpoint 'https://kubeask.{cluster}.example.com/mcp'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVar(&o.Endpoints, "endpoint", nil, "URL of the operator's MCP endpoint (default $KUBEASK_MCP_ENDPOINT); {context} and {cluster} in it are replaced per context; CONTEXT=URL sets one context's (repeatable).")
	fs.BoolVar(&o.InsecureHTTP, "insecure-http", false, "Allow a plain http:// endpoint on another host: your token then crosses the network unencrypted.")
	fs.StringSliceVar(&o.Contexts, "contexts", nil, "Serve the clusters of these kubeconfig contexts (comma-separated) through one MCP server; tools take a context argument.")
	fs.BoolVar(&o.AllContexts, "all-contexts", false, "Serve the clusters of every kubeconfig context that has an endpoint through one MCP server.")
	return cmd
}

func (o *Options) multi() bool { return o.AllContexts || len(o.Contexts) > 0 }

// Validate checks the options; it reads no kubeconfig, so that a refused endpoint is
// refused before any credential is loaded.
func (o *Options) Validate() error {
	if o.AllContexts && len(o.Contexts) > 0 {
		return exitcode.UsageErrorf("use --all-contexts or --contexts, not both")
	}
	e, err := parseEndpoints(o.Endpoints, o.EnvEndpoint)
	if err != nil {
		return exitcode.UsageErrorf("%v", err)
	}
	if e.template == "" && len(e.perContext) == 0 {
		return exitcode.UsageErrorf("--endpoint is required (or set KUBEASK_MCP_ENDPOINT): the URL of the kubeask MCP endpoint, e.g. https://kubeask.example.com/mcp")
	}
	for _, u := range e.checkable() {
		if err := o.check(u); err != nil {
			return err
		}
	}
	o.endpoints = e
	return nil
}

// check refuses an endpoint the token must not be sent to.
func (o *Options) check(endpoint string) error {
	if _, err := stdio.CheckEndpoint(endpoint, o.InsecureHTTP); err != nil {
		if errors.Is(err, stdio.ErrPlainHTTP) {
			return exitcode.UsageErrorf("refusing %s: %v. Use the endpoint's https:// URL, or pass --insecure-http if you trust every network between here and there", endpoint, err)
		}
		return exitcode.UsageErrorf("%v", err)
	}
	return nil
}

// Run relays until stdin ends.
func (o *Options) Run(ctx context.Context) error {
	if !o.multi() {
		return o.runSingle(ctx)
	}
	return o.runMulti(ctx)
}

func (o *Options) runSingle(ctx context.Context) error {
	endpoint := o.endpoints.template
	if len(o.endpoints.perContext) > 0 || hasPlaceholder(endpoint) {
		raw, err := o.f.Flags.ToRawKubeConfigLoader().RawConfig()
		if err != nil {
			return fmt.Errorf("reading kubeconfig: %w", err)
		}
		current := currentContext(o.f, &raw)
		var ok bool
		if endpoint, ok = o.endpoints.forContext(current, clusterOf(&raw, current)); !ok {
			return exitcode.UsageErrorf("no --endpoint for the current context %q: add --endpoint %s=URL", current, current)
		}
		if err := o.check(endpoint); err != nil {
			return err
		}
	}
	cfg, err := o.f.Flags.ToRESTConfig()
	if err != nil {
		return err
	}
	return stdio.Bridge(ctx, cfg, endpoint, o.f.IO.In, o.f.IO.Out, &stdio.Options{AllowInsecureHTTP: o.InsecureHTTP})
}

func (o *Options) runMulti(ctx context.Context) error {
	raw, err := o.f.Flags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return fmt.Errorf("reading kubeconfig: %w", err)
	}
	plan, err := planContexts(&raw, o.Contexts, o.AllContexts, currentContext(o.f, &raw), o.endpoints)
	if err != nil {
		return exitcode.UsageErrorf("%v", err)
	}
	for _, name := range plan.skipped {
		fmt.Fprintf(o.f.IO.ErrOut, "kubectl ask mcp: leaving out context %q: no --endpoint for it\n", name)
	}
	clusters := make([]stdio.Cluster, 0, len(plan.contexts))
	for _, c := range plan.contexts {
		if err := o.check(c.endpoint); err != nil {
			return err
		}
		cl := stdio.Cluster{Context: c.name, Endpoint: c.endpoint}
		// Each context's own credentials only (kubeconfig.ForContext): nothing given on the
		// command line for one cluster goes to another.
		cl.Config, cl.Err = kubeconfig.ForContext(o.f.Flags, c.name).ToRESTConfig()
		if cl.Err != nil {
			fmt.Fprintf(o.f.IO.ErrOut, "kubectl ask mcp: context %q: %v; its calls will fail\n", c.name, cl.Err)
		}
		clusters = append(clusters, cl)
	}
	return stdio.ServeMulti(ctx, clusters, plan.defaultContext, o.f.IO.In, o.f.IO.Out, &stdio.MultiOptions{
		AllowInsecureHTTP: o.InsecureHTTP,
		Log:               o.f.IO.ErrOut,
	})
}

// currentContext is --context, else the kubeconfig's current context.
func currentContext(f *factory.Factory, raw *clientcmdapi.Config) string {
	if f.Flags.Context != nil && *f.Flags.Context != "" {
		return *f.Flags.Context
	}
	return raw.CurrentContext
}

func clusterOf(raw *clientcmdapi.Config, context string) string {
	if c := raw.Contexts[context]; c != nil {
		return c.Cluster
	}
	return ""
}

// endpoints is what --endpoint and $KUBEASK_MCP_ENDPOINT say.
type endpoints struct {
	// perContext holds the CONTEXT=URL values.
	perContext map[string]string
	// template is the plain URL, perhaps with {context} and {cluster}.
	template string
}

const (
	contextPlaceholder = "{context}"
	clusterPlaceholder = "{cluster}"
)

func hasPlaceholder(s string) bool {
	return strings.Contains(s, contextPlaceholder) || strings.Contains(s, clusterPlaceholder)
}

// parseEndpoints reads the --endpoint values: CONTEXT=URL when an = comes before any
// "://" (context names may hold ':' and '/', as EKS ARNs do, but a URL's = can only
// come after its scheme), else a plain URL, of which there may be one. env is the
// plain URL when none is given.
func parseEndpoints(values []string, env string) (endpoints, error) {
	e := endpoints{perContext: map[string]string{}}
	for _, v := range values {
		eq, scheme := strings.Index(v, "="), strings.Index(v, "://")
		if eq < 0 || (scheme >= 0 && scheme < eq) {
			if e.template != "" {
				return e, fmt.Errorf("--endpoint %s: give one plain URL; name the others' contexts, as --endpoint CONTEXT=URL", v)
			}
			e.template = v
			continue
		}
		name, u := v[:eq], v[eq+1:]
		if name == "" || u == "" {
			return e, fmt.Errorf("--endpoint %q: want CONTEXT=URL", v)
		}
		if _, dup := e.perContext[name]; dup {
			return e, fmt.Errorf("--endpoint: context %q is given twice", name)
		}
		if hasPlaceholder(u) {
			return e, fmt.Errorf("--endpoint %s: {context} and {cluster} belong in the plain URL only", v)
		}
		e.perContext[name] = u
	}
	if e.template == "" {
		e.template = env
	}
	return e, nil
}

// checkable lists the URLs that can be checked before the kubeconfig is read: all but
// templates, which are checked once filled in (and, here, with a sample name, so that
// an http:// template for other hosts is refused at once).
func (e endpoints) checkable() []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(e.perContext)) {
		out = append(out, e.perContext[name])
	}
	if e.template != "" {
		out = append(out, fill(e.template, "sample", "sample"))
	}
	return out
}

func fill(template, context, cluster string) string {
	return strings.NewReplacer(contextPlaceholder, context, clusterPlaceholder, cluster).Replace(template)
}

// forContext returns the endpoint of a context whose kubeconfig cluster is cluster.
func (e endpoints) forContext(context, cluster string) (string, bool) {
	if u, ok := e.perContext[context]; ok {
		return u, true
	}
	if e.template == "" {
		return "", false
	}
	return fill(e.template, context, cluster), true
}

// contextPlan is what the multi-cluster server serves.
type contextPlan struct {
	contexts []plannedContext
	// skipped are the contexts of --all-contexts that have no endpoint.
	skipped        []string
	defaultContext string
}

type plannedContext struct{ name, endpoint string }

// planContexts chooses the contexts (those named, or all of the kubeconfig's, sorted)
// and their endpoints, and the default context (current if served, else the first).
func planContexts(raw *clientcmdapi.Config, named []string, all bool, current string, e endpoints) (contextPlan, error) {
	var p contextPlan
	names := named
	if all {
		names = slices.Sorted(maps.Keys(raw.Contexts))
		if len(names) == 0 {
			return p, errors.New("the kubeconfig has no contexts")
		}
	}
	seen := map[string]bool{}
	var noEndpoint, plain []string
	for _, name := range names {
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		if raw.Contexts[name] == nil {
			return p, fmt.Errorf("no context %q in the kubeconfig", name)
		}
		u, ok := e.forContext(name, clusterOf(raw, name))
		if !ok {
			if all {
				p.skipped = append(p.skipped, name)
				continue
			}
			noEndpoint = append(noEndpoint, name)
			continue
		}
		if _, explicit := e.perContext[name]; !explicit && !hasPlaceholder(e.template) {
			plain = append(plain, name)
		}
		p.contexts = append(p.contexts, plannedContext{name: name, endpoint: u})
	}
	for name := range e.perContext {
		if !seen[name] {
			return p, fmt.Errorf("--endpoint %s=...: %q is not one of the contexts served", name, name)
		}
	}
	if len(noEndpoint) > 0 {
		return p, fmt.Errorf("no endpoint for context(s) %s: add --endpoint CONTEXT=URL for each, or a plain --endpoint URL with {context} or {cluster}", strings.Join(noEndpoint, ", "))
	}
	if len(plain) > 1 {
		return p, fmt.Errorf("the plain --endpoint %s would receive the tokens of contexts %s: one endpoint is one cluster; "+
			"give each context its own, as --endpoint CONTEXT=URL, or put {context} or {cluster} in the URL", e.template, strings.Join(plain, ", "))
	}
	if len(p.contexts) == 0 {
		return p, errors.New("no context has an endpoint: add --endpoint CONTEXT=URL, or a plain --endpoint URL with {context} or {cluster}")
	}
	p.defaultContext = p.contexts[0].name
	if slices.ContainsFunc(p.contexts, func(c plannedContext) bool { return c.name == current }) {
		p.defaultContext = current
	}
	return p, nil
}

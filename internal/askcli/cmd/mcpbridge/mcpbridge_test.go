package mcpbridge

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubeask/kubeask/internal/askcli/exitcode"
	"github.com/kubeask/kubeask/internal/askcli/factory"
	"github.com/kubeask/kubeask/internal/askcli/iostreams"
)

func TestEndpointIsRequired(t *testing.T) {
	t.Setenv("KUBEASK_MCP_ENDPOINT", "")
	io, _, _ := iostreams.Test("")
	cmd := NewCmd(factory.New(io))
	cmd.SetArgs(nil)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.ExecuteContext(t.Context())
	if err == nil || exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), "--endpoint") {
		t.Fatalf("err = %v (exit %d), want a usage error naming --endpoint", err, exitcode.Of(err))
	}
}

// The token goes over plain HTTP only to this machine, unless --insecure-http says so.
func TestPlainHTTPToAnotherHostIsRefused(t *testing.T) {
	cases := []struct {
		endpoint string
		insecure bool
		// refused is what the usage error must say; "" means the endpoint is accepted.
		refused string
	}{
		{"https://kubeask.example.com/mcp", false, ""},
		{"http://127.0.0.1:8090/mcp", false, ""},
		{"http://127.8.9.10:8090/mcp", false, ""},
		{"http://localhost:8090/mcp", false, ""},
		{"http://[::1]:8090/mcp", false, ""},
		{"http://kubeask.example.com/mcp", false, "--insecure-http"},
		{"http://10.0.0.7:8090/mcp", false, "--insecure-http"},
		{"http://localhost.example.com/mcp", false, "--insecure-http"},
		{"http://kubeask.example.com/mcp", true, ""},
		{"kubeask.example.com/mcp", false, "https:// URL"},
		{"ftp://kubeask.example.com/mcp", true, "https:// URL"},
		{"https://user:pw@kubeask.example.com/mcp", false, "no user info"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s insecure=%v", tc.endpoint, tc.insecure), func(t *testing.T) {
			err := (&Options{Endpoints: []string{tc.endpoint}, InsecureHTTP: tc.insecure}).Validate()
			if tc.refused == "" {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			if err == nil || exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), tc.refused) {
				t.Errorf("err = %v (exit %d), want a usage error saying %s", err, exitcode.Of(err), tc.refused)
			}
		})
	}
}

// The command refuses before it reads the kubeconfig: a kubeconfig whose token would be
// sent is never even loaded.
func TestPlainHTTPRefusedBeforeAnyCredentialIsRead(t *testing.T) {
	t.Setenv("KUBEASK_MCP_ENDPOINT", "")
	io, _, _ := iostreams.Test("")
	cmd := NewCmd(factory.New(io))
	cmd.SetArgs([]string{"--endpoint", "http://kubeask.example.com/mcp"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	t.Setenv("KUBECONFIG", "/nonexistent/kubeconfig")
	err := cmd.ExecuteContext(t.Context())
	if err == nil || exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), "unencrypted") || !strings.Contains(err.Error(), "--insecure-http") {
		t.Fatalf("err = %v (exit %d), want a usage error explaining the refusal", err, exitcode.Of(err))
	}
}

func TestParseEndpoints(t *testing.T) {
	cases := []struct {
		name       string
		values     []string
		env        string
		perContext map[string]string
		template   string
		err        string
	}{
		{name: "one URL", values: []string{"https://k.example.com/mcp"}, template: "https://k.example.com/mcp"},
		{name: "the environment", env: "https://env.example.com/mcp", template: "https://env.example.com/mcp"},
		{name: "the flag wins over the environment", values: []string{"https://k.example.com/mcp"}, env: "https://env.example.com/mcp", template: "https://k.example.com/mcp"},
		{name: "a URL with = in its query", values: []string{"https://k.example.com/mcp?a=b"}, template: "https://k.example.com/mcp?a=b"},
		{name: "per context", values: []string{"prod=https://p.example.com/mcp", "staging=https://s.example.com/mcp?x=y"},
			perContext: map[string]string{"prod": "https://p.example.com/mcp", "staging": "https://s.example.com/mcp?x=y"}},
		{name: "an EKS context name", values: []string{"arn:aws:eks:eu-west-1:123:cluster/prod=https://p.example.com/mcp"},
			perContext: map[string]string{"arn:aws:eks:eu-west-1:123:cluster/prod": "https://p.example.com/mcp"}},
		{name: "per context and a template", values: []string{"prod=https://p.example.com/mcp", "https://kubeask.{cluster}.example.com/mcp"}, env: "https://env.example.com/mcp",
			perContext: map[string]string{"prod": "https://p.example.com/mcp"}, template: "https://kubeask.{cluster}.example.com/mcp"},
		{name: "two plain URLs", values: []string{"https://a.example.com/mcp", "https://b.example.com/mcp"}, err: "one plain URL"},
		{name: "a context twice", values: []string{"a=https://a.example.com/mcp", "a=https://b.example.com/mcp"}, err: "given twice"},
		{name: "no URL", values: []string{"a="}, err: "CONTEXT=URL"},
		{name: "no context", values: []string{"=https://a.example.com/mcp"}, err: "CONTEXT=URL"},
		{name: "a placeholder in a context's URL", values: []string{"a=https://{context}.example.com/mcp"}, err: "plain URL only"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := parseEndpoints(tc.values, tc.env)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.perContext == nil {
				tc.perContext = map[string]string{}
			}
			if !maps.Equal(e.perContext, tc.perContext) || e.template != tc.template {
				t.Errorf("got %v and %q, want %v and %q", e.perContext, e.template, tc.perContext, tc.template)
			}
		})
	}
}

func TestPlanContexts(t *testing.T) {
	raw := clientcmdapi.NewConfig()
	for ctx, cluster := range map[string]string{"prod": "prod-eu", "staging": "staging-eu", "dev": "dev-eu", "kind": "kind-kind"} {
		raw.Contexts[ctx] = &clientcmdapi.Context{Cluster: cluster, AuthInfo: ctx}
	}
	type planned = plannedContext
	cases := []struct {
		name      string
		named     []string
		all       bool
		current   string
		endpoints []string
		want      []planned
		skipped   []string
		def       string
		err       string
	}{
		{name: "one URL per context", named: []string{"prod", "staging"}, current: "staging",
			endpoints: []string{"prod=https://p/mcp", "staging=https://s/mcp"},
			want:      []planned{{"prod", "https://p/mcp"}, {"staging", "https://s/mcp"}}, def: "staging"},
		{name: "the current context is not served: the first is the default", named: []string{"staging", "prod"}, current: "kind",
			endpoints: []string{"prod=https://p/mcp", "staging=https://s/mcp"},
			want:      []planned{{"staging", "https://s/mcp"}, {"prod", "https://p/mcp"}}, def: "staging"},
		{name: "a template by cluster", named: []string{"prod", "dev"}, current: "dev",
			endpoints: []string{"https://kubeask.{cluster}.example.com/mcp"},
			want:      []planned{{"prod", "https://kubeask.prod-eu.example.com/mcp"}, {"dev", "https://kubeask.dev-eu.example.com/mcp"}}, def: "dev"},
		{name: "a context's own URL wins over the template", named: []string{"prod", "kind"}, current: "prod",
			endpoints: []string{"https://kubeask.{context}.example.com/mcp", "kind=http://127.0.0.1:8090/mcp"},
			want:      []planned{{"prod", "https://kubeask.prod.example.com/mcp"}, {"kind", "http://127.0.0.1:8090/mcp"}}, def: "prod"},
		{name: "all contexts, sorted, those without an endpoint left out", all: true, current: "prod",
			endpoints: []string{"prod=https://p/mcp", "dev=https://d/mcp"},
			want:      []planned{{"dev", "https://d/mcp"}, {"prod", "https://p/mcp"}}, skipped: []string{"kind", "staging"}, def: "prod"},
		{name: "a plain URL serves one context", named: []string{"prod", "staging"}, current: "prod",
			endpoints: []string{"https://k/mcp", "staging=https://s/mcp"},
			want:      []planned{{"prod", "https://k/mcp"}, {"staging", "https://s/mcp"}}, def: "prod"},
		{name: "a plain URL would get two contexts' tokens", named: []string{"prod", "staging"},
			endpoints: []string{"https://k/mcp"}, err: "would receive the tokens of contexts prod, staging"},
		{name: "all contexts and a plain URL", all: true, endpoints: []string{"https://k/mcp"}, err: "would receive the tokens"},
		{name: "a named context without an endpoint", named: []string{"prod", "staging"},
			endpoints: []string{"prod=https://p/mcp"}, err: "no endpoint for context(s) staging"},
		{name: "a context the kubeconfig lacks", named: []string{"prod", "qa"},
			endpoints: []string{"https://{context}.example.com/mcp"}, err: `no context "qa"`},
		{name: "an endpoint for a context not served", named: []string{"prod"},
			endpoints: []string{"prod=https://p/mcp", "prd=https://p/mcp"}, err: `"prd" is not one of the contexts served`},
		{name: "no context has an endpoint", all: true, endpoints: []string{"qa=https://q/mcp"}, err: "not one of the contexts served"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := parseEndpoints(tc.endpoints, "")
			if err != nil {
				t.Fatal(err)
			}
			p, err := planContexts(raw, tc.named, tc.all, tc.current, e)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.contexts, tc.want) || !slices.Equal(p.skipped, tc.skipped) || p.defaultContext != tc.def {
				t.Errorf("got %v, skipped %v, default %q; want %v, skipped %v, default %q", p.contexts, p.skipped, p.defaultContext, tc.want, tc.skipped, tc.def)
			}
		})
	}
}

// Every endpoint is checked before the kubeconfig is read: per-context URLs and the
// template (filled with a sample name).
func TestEveryEndpointIsCheckedFirst(t *testing.T) {
	cases := []struct {
		endpoints []string
		refused   string
	}{
		{[]string{"a=https://a.example.com/mcp", "b=http://b.example.com/mcp"}, "--insecure-http"},
		{[]string{"http://kubeask.{cluster}.example.com/mcp"}, "--insecure-http"},
		{[]string{"http://127.0.0.1:{context}/mcp"}, "not a URL"},
		{[]string{"a=https://a.example.com/mcp", "https://kubeask.{context}.example.com/mcp"}, ""},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.endpoints, " "), func(t *testing.T) {
			t.Setenv("KUBECONFIG", "/nonexistent/kubeconfig")
			err := (&Options{Endpoints: tc.endpoints, Contexts: []string{"a", "b"}}).Validate()
			if tc.refused == "" {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			if err == nil || exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), tc.refused) {
				t.Errorf("err = %v (exit %d), want a usage error saying %s", err, exitcode.Of(err), tc.refused)
			}
		})
	}
	if err := (&Options{Endpoints: []string{"https://k/mcp"}, Contexts: []string{"a"}, AllContexts: true}).Validate(); err == nil || exitcode.Of(err) != exitcode.Usage {
		t.Errorf("--contexts with --all-contexts: %v", err)
	}
}

// Without --contexts, CONTEXT=URL values choose the current context's endpoint.
func TestSingleContextTakesItsOwnEndpoint(t *testing.T) {
	raw := clientcmdapi.NewConfig()
	raw.Clusters["b"] = &clientcmdapi.Cluster{Server: "https://b.example.com"}
	raw.AuthInfos["b"] = &clientcmdapi.AuthInfo{Token: "t"}
	raw.Contexts["b"] = &clientcmdapi.Context{Cluster: "b", AuthInfo: "b"}
	raw.CurrentContext = "b"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*raw, path); err != nil {
		t.Fatal(err)
	}
	io, _, _ := iostreams.Test("")
	f := factory.New(io)
	f.Flags.KubeConfig = &path
	cmd := NewCmd(f)
	cmd.SetArgs([]string{"--endpoint", "a=https://a.example.com/mcp"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.ExecuteContext(t.Context())
	if err == nil || exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), `no --endpoint for the current context "b"`) {
		t.Fatalf("err = %v (exit %d), want a usage error naming context b", err, exitcode.Of(err))
	}
}

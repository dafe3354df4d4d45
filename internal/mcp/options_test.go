package mcp

import (
	"strings"
	"testing"

	"github.com/kubeask/kubeask/internal/mcp/auth"
)

func TestOptionsValidateURLs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(*Options)
		wantErr string
	}{
		{"defaults", func(*Options) {}, ""},
		{"a public URL", func(o *Options) { o.PublicURL = "https://kubeask.example.com" }, ""},
		{"a relative public URL", func(o *Options) { o.PublicURL = "kubeask.example.com" }, "--mcp-public-url"},
		{"a public URL with a query", func(o *Options) { o.PublicURL = "https://kubeask.example.com/?x=1" }, "--mcp-public-url"},
		{"an authorization server in tokenreview mode", func(o *Options) { o.AuthorizationServers = []string{"https://dex.example.com"} }, ""},
		{"an authorization server that is no URL", func(o *Options) { o.AuthorizationServers = []string{"dex"} }, "--mcp-authorization-server"},
		{"an authorization server in oidc mode", func(o *Options) {
			o.Auth, o.OIDCIssuerURL, o.OIDCClientID = auth.ModeOIDC, "https://issuer.example.com", "x"
			o.AuthorizationServers = []string{"https://dex.example.com"}
		}, "is for --mcp-auth=tokenreview or passthrough"},
		{"no SSE stream", func(o *Options) { o.MaxSSEStreams = 0 }, "--mcp-max-sse-streams"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := NewOptions()
			o.BindAddress = "127.0.0.1:8090"
			tc.edit(&o)
			err := o.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one about %s", err, tc.wantErr)
			}
		})
	}
}

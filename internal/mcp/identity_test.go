package mcp_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	kmcp "github.com/kubeask/kubeask/internal/mcp"
)

// Each caller sees exactly what their own RBAC allows, through the manager's endpoint.
func TestCallersActAsThemselves(t *testing.T) {
	f := env(t)
	for _, tc := range []struct {
		token          string
		own, other     string
		ownPod, badPod string
	}{
		{aliceToken, "team-a", "team-b", "checkout-1", "payments-1"},
		{bobToken, "team-b", "team-a", "payments-1", "checkout-1"},
	} {
		cs := connect(t, f.endpoint, tc.token, nil)
		text, isErr := callTool(t, cs, "resources_list", map[string]any{"resource": "pods", "namespace": tc.own})
		if isErr || !strings.Contains(text, tc.ownPod) {
			t.Errorf("listing pods in %s: error=%v, want %s in:\n%s", tc.own, isErr, tc.ownPod, text)
		}
		text, isErr = callTool(t, cs, "resources_list", map[string]any{"resource": "pods", "namespace": tc.other})
		if !isErr || !strings.Contains(text, "forbidden") || strings.Contains(text, tc.badPod) {
			t.Errorf("listing pods in %s: want a forbidden tool error, got error=%v:\n%s", tc.other, isErr, text)
		}
	}
}

// A user the API server authenticates but who has no RBAC gets nothing, although the
// operator behind the endpoint may read everything.
func TestNoRightsMeansNothing(t *testing.T) {
	f := env(t)
	cs := connect(t, f.endpoint, nobodyToken, nil)
	for _, call := range []struct {
		tool string
		args map[string]any
	}{
		{"resources_list", map[string]any{"resource": "pods", "namespace": "team-a"}},
		{"resources_list", map[string]any{"resource": "pods", "allNamespaces": true}},
		{"resources_list", map[string]any{"resource": "namespaces"}},
		{"resources_get", map[string]any{"resource": "secrets", "namespace": "team-a", "name": "db"}},
		{"events_list", map[string]any{"namespace": "team-b"}},
		{"sessions_list", map[string]any{"allNamespaces": true}},
		{"triggers_list", map[string]any{"allNamespaces": true}},
	} {
		text, isErr := callTool(t, cs, call.tool, call.args)
		if !isErr || !strings.Contains(text, "forbidden") {
			t.Errorf("%s %v as nobody: want a forbidden tool error, got error=%v:\n%s", call.tool, call.args, isErr, text)
		}
		for _, leak := range []string{"checkout-1", "payments-1", "hunter2", "kube-system"} {
			if strings.Contains(text, leak) {
				t.Errorf("%s %v as nobody leaked %q:\n%s", call.tool, call.args, leak, text)
			}
		}
	}
	text, _ := callTool(t, cs, "auth_can_i", map[string]any{"verb": "list", "resource": "pods", "namespace": "team-a"})
	if !strings.Contains(strings.ToLower(text), "no") {
		t.Errorf("auth_can_i as nobody should say no, got %q", text)
	}
}

// A ServiceAccount token minted for the endpoint's audience works; the same account's
// token for the API server's own audience does not, when an audience is required.
func TestServiceAccountToken(t *testing.T) {
	f := env(t)
	ctx := t.Context()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "ci", Namespace: "team-a"}}
	if err := f.admin.Create(ctx, sa); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "ci", Namespace: "team-a"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "team-member"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "ci", Namespace: "team-a"}},
	}
	if err := f.admin.Create(ctx, binding); err != nil {
		t.Fatal(err)
	}
	mcpToken := requestToken(t, "ci", []string{"kubeask-mcp"})
	apiToken := requestToken(t, "ci", nil)

	ts := newServer(t, func(c *kmcp.Config) { c.Options.Audiences = []string{"kubeask-mcp"} })
	cs := connect(t, ts.URL, mcpToken, nil)
	text, isErr := callTool(t, cs, "resources_list", map[string]any{"resource": "pods", "namespace": "team-a"})
	if isErr || !strings.Contains(text, "checkout-1") {
		t.Fatalf("service account in team-a: error=%v:\n%s", isErr, text)
	}
	if text, isErr := callTool(t, cs, "resources_list", map[string]any{"resource": "pods", "namespace": "team-b"}); !isErr || !strings.Contains(text, "forbidden") {
		t.Errorf("service account in team-b should be forbidden, got error=%v:\n%s", isErr, text)
	}
	recs := ts.Audit.records(t)
	if len(recs) == 0 || recs[0]["user"] != "system:serviceaccount:team-a:ci" {
		t.Errorf("audit should name the service account, got %v", recs)
	}
	if code, _ := rawPost(t, ts.URL, apiToken, initializeBody); code != http.StatusUnauthorized {
		t.Errorf("a token for the API server's audience got %d, want 401 when --mcp-audience is set", code)
	}
}

// requestToken mints a token of ServiceAccount sa of team-a, where the tests' service
// accounts live.
func requestToken(t *testing.T, sa string, audiences []string) string {
	t.Helper()
	cs, err := kubernetes.NewForConfig(env(t).cluster.Admin)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts("team-a").CreateToken(t.Context(), sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: audiences, ExpirationSeconds: new(int64(600))},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}`

// rawPost posts body to url with an optional bearer token and returns the status and
// the response headers.
func rawPost(t testing.TB, url, token, body string, headers ...string) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// Missing, malformed, unknown and expired credentials get 401 with a challenge that
// points at the RFC 9728 metadata, which is served without a credential.
func TestUnauthenticatedRequests(t *testing.T) {
	f := env(t)
	expired := expiredServiceAccountToken(t)
	for _, tc := range []struct {
		name   string
		header string
	}{
		{"no header", ""},
		{"empty bearer", "Bearer "},
		{"basic auth", "Basic YWxpY2U6cGFzcw=="},
		{"unknown token", "Bearer not-a-token-anyone-issued"},
		{"malformed JWT", "Bearer eyJhbGciOi.broken.jwt"},
		{"control characters", "Bearer abc\x01def"},
		{"expired service account token", "Bearer " + expired},
		{"huge token", "Bearer " + strings.Repeat("x", 20000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, f.endpoint, strings.NewReader(initializeBody))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			if tc.header != "" {
				req.Header["Authorization"] = []string{tc.header}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				if tc.name == "control characters" {
					return // the Go client refuses to send it at all
				}
				t.Fatal(err)
			}
			defer func() { _ = resp.Body.Close() }()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", resp.StatusCode)
			}
			challenge := resp.Header.Get("WWW-Authenticate")
			if !strings.HasPrefix(challenge, "Bearer ") || !strings.Contains(challenge, `resource_metadata="http://`) || !strings.Contains(challenge, kmcp.PathResourceMetadata) {
				t.Errorf("WWW-Authenticate = %q", challenge)
			}
		})
	}
	resp, err := http.Get(strings.TrimSuffix(f.endpoint, kmcp.PathStreamable) + kmcp.PathResourceMetadata)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var meta map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&meta); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("metadata: %d %v", resp.StatusCode, err)
	}
	if meta["resource"] != f.endpoint {
		t.Errorf("metadata resource = %v, want %s", meta["resource"], f.endpoint)
	}
}

// expiredServiceAccountToken mints a token exactly as the API server would for a real
// service account, signed with its key, but expired a minute ago.
func expiredServiceAccountToken(t *testing.T) string {
	t.Helper()
	f := env(t)
	keyFile, issuer := f.cluster.ServiceAccountSigner()
	pemData, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemData)
	var key any
	if key, err = x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		if key, err = x509.ParseECPrivateKey(block.Bytes); err != nil {
			if key, err = x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
				t.Fatalf("the signing key is in no known format: %v", err)
			}
		}
	}
	alg := jose.RS256
	if _, ok := key.(*ecdsa.PrivateKey); ok {
		alg = jose.ES256
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims := jwt.Claims{Issuer: issuer, Subject: "system:serviceaccount:default:default",
		Audience: jwt.Audience{issuer}, IssuedAt: jwt.NewNumericDate(now.Add(-time.Hour)),
		NotBefore: jwt.NewNumericDate(now.Add(-time.Hour)), Expiry: jwt.NewNumericDate(now.Add(-time.Minute))}
	token, err := jwt.Signed(signer).Claims(claims).Claims(map[string]any{
		"kubernetes.io": map[string]any{"namespace": "default", "serviceaccount": map[string]any{"name": "default", "uid": "x"}},
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// The endpoint answers 401 before reading a body of an unauthenticated request.
func TestBodyNotReadWithoutCredential(t *testing.T) {
	f := env(t)
	if code, _ := rawPost(t, f.endpoint, "", strings.Repeat("x", 4<<20)); code != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", code)
	}
}

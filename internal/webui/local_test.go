package webui_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeask/kubeask/internal/askcli"
	"github.com/kubeask/kubeask/internal/askcli/factory"
	"github.com/kubeask/kubeask/internal/askcli/iostreams"
	"github.com/kubeask/kubeask/internal/llm/catalog"
)

// startLocalUI runs `kubectl ask ui --no-browser --port 0` with a kubeconfig for token
// in namespace ns, and returns the link it prints. The command stops with the test.
func startLocalUI(t *testing.T, token, ns string, args ...string) string {
	t.Helper()
	out, w := io.Pipe()
	f := &factory.Factory{
		IO:    &iostreams.IOStreams{In: strings.NewReader(""), Out: w, ErrOut: io.Discard, Width: 80},
		Flags: genericclioptions.NewConfigFlags(true),
		Interruptible: func(ctx context.Context) (context.Context, context.CancelFunc) {
			return context.WithCancel(ctx)
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- askcli.Run(ctx, f, append([]string{"--kubeconfig", writeKubeconfig(t, token, ns), "ui", "--no-browser", "--port", "0"}, args...))
		_ = w.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("kubectl ask ui exited %d", code)
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the link: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return strings.TrimSpace(line)
}

func TestLocalUIActsWithTheKubeconfigBehindASecretLink(t *testing.T) {
	link := startLocalUI(t, aliceToken, "team-a")
	if !strings.HasPrefix(link, "http://127.0.0.1:") || !strings.Contains(link, "/open?secret=") {
		t.Fatalf("link %q", link)
	}
	base := link[:strings.Index(link, "/open")]
	c := browserless(t)
	c.Transport = http.DefaultTransport
	do := func(req *http.Request) (reply, string) { t.Helper(); return do(t, c, req) }
	req := func(url string) *http.Request {
		r, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// Without the link's secret: nothing.
	resp, body := do(req(base + "/ns/team-a/"))
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "kubectl ask ui") {
		t.Fatalf("without the secret: %s\n%s", resp.Status, body)
	}
	if resp, _ := do(req(base + "/open?secret=wrong")); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("with a wrong secret: %s", resp.Status)
	}
	// A page of another site whose name resolves to 127.0.0.1 (DNS rebinding).
	rebound := req(link)
	rebound.Host = "evil.example"
	if resp, _ := do(rebound); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a non-loopback Host: %s", resp.Status)
	}
	resp, _ = do(req(link))
	var cookie *http.Cookie
	for _, k := range resp.cookies {
		if k.Name == "kubeask-ui" {
			cookie = k
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie: %v", resp.cookies)
	}
	resp, body = do(req(base + "/ns/team-a/"))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="who">alice<`) {
		t.Fatalf("home as alice: %s\n%s", resp.Status, body)
	}
	// A model field: the published catalog's choices, or free text until the manager has
	// published it (TestLocalUIOffersThePublishedCatalog).
	if !strings.Contains(body, `id="model"`) {
		t.Error("the local ask form has no model field")
	}
	// The kubeconfig's user is who acts: alice may not read team-b.
	resp, body = do(req(base + "/ns/team-b/sessions/anything"))
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "You cannot read this session in team-b") {
		t.Fatalf("alice in team-b: %s\n%s", resp.Status, body)
	}
}

// localHome opens the local UI's link and returns the home page of namespace ns.
func localHome(t *testing.T, link, ns string) string {
	t.Helper()
	c := browserless(t)
	c.Transport = http.DefaultTransport
	for _, url := range []string{link, link[:strings.Index(link, "/open")] + "/ns/" + ns + "/"} {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, body := do(t, c, req)
		if strings.Contains(url, "/ns/") {
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %s\n%s", url, resp.Status, body)
			}
			return body
		}
	}
	return ""
}

// TestLocalUIOffersThePublishedCatalog: the manager publishes the public part of its
// catalog in kubeask-system/kubeask-catalog, with no endpoint, provider model id or
// Secret reference; kubectl ask ui reads it as its user and offers exactly the models,
// profiles and modes that user may use; without it, free text and a note saying why.
func TestLocalUIOffersThePublishedCatalog(t *testing.T) {
	ctx := t.Context()
	cm := &corev1.ConfigMap{}
	eventually(t, 30*time.Second, "the manager to publish its catalog", func() bool {
		err := admin.Get(ctx, client.ObjectKey{Namespace: "kubeask-system", Name: catalog.PublicConfigMap}, cm)
		return err == nil && cm.Data[catalog.PublicKey] != ""
	})
	published := cm.Data[catalog.PublicKey]
	for _, private := range []string{model.BaseURL(), strings.TrimPrefix(model.BaseURL(), "http://"), "llm-gateway.internal.example", "llm-keys-private",
		"claude-internal-id", "fake-model", "apiKeySecretRef", "baseURL", "anthropic", "openai", "systemPrompt"} {
		if strings.Contains(published, private) {
			t.Errorf("the published catalog contains %q: %s", private, published)
		}
	}
	if len(cm.Data) != 1 || len(cm.BinaryData) != 0 {
		t.Errorf("the ConfigMap holds more than %s: %v", catalog.PublicKey, cm.Data)
	}

	options := func(body string) (models, profiles, modes []string) {
		t.Helper()
		pick := func(id string) []string {
			start := strings.Index(body, `<select name="`+id+`"`)
			if start < 0 {
				t.Fatalf("no %s select in\n%s", id, body)
			}
			sel := body[start : start+strings.Index(body[start:], "</select>")]
			var out []string
			for _, part := range strings.Split(sel, `<option value="`)[1:] {
				if v := part[:strings.Index(part, `"`)]; v != "" {
					out = append(out, v)
				}
			}
			return out
		}
		return pick("model"), pick("profile"), pick("mode")
	}
	want := func(who, what string, got, want []string) {
		t.Helper()
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s is offered %s %v, want %v", who, what, got, want)
		}
	}

	body := localHome(t, startLocalUI(t, aliceToken, "team-a"), "team-a")
	if strings.Contains(body, `list="seen-models"`) || strings.Contains(body, `id="catalog-note"`) {
		t.Errorf("alice gets free text although the catalog is published:\n%s", body)
	}
	m, p, modes := options(body)
	want("alice", "models", m, []string{"fake"})
	want("alice", "profiles", p, []string{"operate", "alice-only", catalog.BuiltinProfileName})
	want("alice", "modes", modes, []string{"ReadOnly", "Propose"})
	if !strings.Contains(body, `<option value="fake">fake (default)</option>`) || !strings.Contains(body, `title="Operate workloads, with approval."`) {
		t.Errorf("alice's form lacks the default model or a profile's description:\n%s", body)
	}

	body = localHome(t, startLocalUI(t, bobToken, "team-b"), "team-b")
	m, p, modes = options(body)
	want("bob", "models", m, []string{"fake", "ops-claude"})
	want("bob", "profiles", p, []string{"operate", catalog.BuiltinProfileName})
	want("bob", "modes", modes, []string{"ReadOnly", "Propose"})

	// No catalog where it is looked for: free text and a note. alice may read ConfigMaps
	// in team-a (there is none of that name); bob may not.
	body = localHome(t, startLocalUI(t, aliceToken, "team-a", "--catalog-namespace", "team-a"), "team-a")
	if !strings.Contains(body, `list="seen-models"`) || !strings.Contains(body, "team-a/kubeask-catalog) is not published") {
		t.Errorf("alice without a published catalog:\n%s", body)
	}
	body = localHome(t, startLocalUI(t, bobToken, "team-b", "--catalog-namespace", "team-a"), "team-b")
	if !strings.Contains(body, `list="seen-models"`) || !strings.Contains(body, "You may not read the platform") {
		t.Errorf("bob without the right to read the catalog:\n%s", body)
	}
}

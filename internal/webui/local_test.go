package webui_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/kubeask/kubeask/internal/askcli"
	"github.com/kubeask/kubeask/internal/askcli/factory"
	"github.com/kubeask/kubeask/internal/askcli/iostreams"
)

// startLocalUI runs `kubectl ask ui --no-browser --port 0` with a kubeconfig for token
// in namespace ns, and returns the link it prints. The command stops with the test.
func startLocalUI(t *testing.T, token, ns string) string {
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
		done <- askcli.Run(ctx, f, []string{"--kubeconfig", writeKubeconfig(t, token, ns), "ui", "--no-browser", "--port", "0"})
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
	// Free-text model and profile: kubectl ask ui cannot read the manager's catalog.
	if !strings.Contains(body, `list="seen-models"`) {
		t.Error("the local ask form has no free-text model")
	}
	// The kubeconfig's user is who acts: alice may not read team-b.
	resp, body = do(req(base + "/ns/team-b/sessions/anything"))
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "You cannot read this session in team-b") {
		t.Fatalf("alice in team-b: %s\n%s", resp.Status, body)
	}
}

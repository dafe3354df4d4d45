// Command driver runs `make test-clients`: it starts a local control plane with RBAC,
// a real kubeask manager serving MCP (tokenreview mode) and a second endpoint with
// --mcp-auth=none on loopback, then drives them with MCP clients nobody here wrote,
// installed from npm into hack/mcp-clients/node_modules: the Inspector CLI
// (tools/list, tools/call with an Authorization header), mcp-remote (the stdio proxy
// desktop clients use, driven by the Inspector CLI over stdio) and the
// @modelcontextprotocol/conformance server scenarios.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/kubeask/kubeask/internal/identity"
	"github.com/kubeask/kubeask/internal/manager"
	kmcp "github.com/kubeask/kubeask/internal/mcp"
	"github.com/kubeask/kubeask/internal/mcp/auth"
	"github.com/kubeask/kubeask/internal/testcluster"
	"github.com/kubeask/kubeask/internal/tools"
)

const (
	aliceToken = "alice-clients-4c1d9e2b7a"
	// conformanceScenarios are the generic server scenarios kubeask must pass. The
	// suite's other server scenarios call the fixtures of its reference server
	// (test_simple_text, test_prompt_with_arguments, test://static-text, ...), which a
	// kubeask endpoint does not have, or resource subscriptions, which it does not
	// offer: docs/mcp.md#tests lists them with the reason. -scenarios takes any list.
	conformanceScenarios = "server-initialize,logging-set-level,ping,tools-list,resources-list,prompts-list,dns-rebinding-protection,server-sse-polling,server-sse-multiple-streams"
)

func main() {
	clientsDir := flag.String("clients-dir", "hack/mcp-clients", "where package.json and node_modules are")
	scenarios := flag.String("scenarios", conformanceScenarios, "conformance scenarios to run, comma separated")
	flag.Parse()
	ctrl.SetLogger(logr.Discard())
	if err := run(*clientsDir, strings.Split(*scenarios, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("PASS: every MCP client check passed")
}

func run(clientsDir string, scenarios []string) error {
	clientsDir, err := filepath.Abs(clientsDir)
	if err != nil {
		return err
	}
	bin := filepath.Join(clientsDir, "node_modules", ".bin")
	if _, err := os.Stat(filepath.Join(bin, "node")); err != nil {
		return fmt.Errorf("no node in %s: run npm install there first (make test-clients does): %w", bin, err)
	}
	cluster, err := testcluster.Start(testcluster.Options{StaticTokens: []testcluster.StaticToken{
		{Token: aliceToken, User: "alice", UID: "uid-alice", Groups: []string{"dev"}},
	}})
	if err != nil {
		return err
	}
	defer func() { _ = cluster.Stop() }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	operator, err := setup(ctx, cluster)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}

	// A real manager with the endpoint in tokenreview mode.
	port, err := freePort()
	if err != nil {
		return err
	}
	opts := manager.NewOptions()
	opts.MetricsAddr, opts.ProbeAddr, opts.Namespace = "0", "0", "kubeask-system"
	opts.MCP.BindAddress = fmt.Sprintf("127.0.0.1:%d", port)
	opts.MCP.AuditLog = filepath.Join(clientsDir, ".state", "audit.log")
	opts.MCP.DefaultNamespace = "team-a"
	if err := os.MkdirAll(filepath.Dir(opts.MCP.AuditLog), 0o700); err != nil {
		return err
	}
	opts.Complete()
	if err := opts.Validate(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- opts.Run(ctx, operator) }()
	secured := fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := waitUp(secured); err != nil {
		return err
	}

	// The same endpoint without authentication, for the conformance suite (which
	// cannot present a token): --mcp-auth=none on loopback, acting as alice.
	open, err := noneEndpoint(ctx, operator)
	if err != nil {
		return err
	}

	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "NO_COLOR=1", "MCP_CATALOG_PATH="+filepath.Join(clientsDir, ".state", "catalog.json"))
	var failures []string
	check := func(name string, err error) {
		if err != nil {
			fmt.Printf("--- FAIL %s: %v\n", name, err)
			failures = append(failures, name)
			return
		}
		fmt.Printf("--- ok   %s\n", name)
	}
	header := "Authorization: Bearer " + aliceToken
	inspector := func(args ...string) (string, error) {
		return runTool(ctx, env, "inspector", append([]string{"--cli"}, args...)...)
	}

	out, err := inspector(secured+"/mcp", "--transport", "http", "--header", header, "--method", "tools/list")
	check("inspector tools/list with a bearer token", expect(out, err, "resources_list", "readOnlyHint", "\"ask\""))

	out, err = inspector(secured+"/mcp", "--transport", "http", "--header", header, "--method", "tools/call", "--tool-name", "resources_list", "--tool-arg", "resource=pods", "--tool-arg", "namespace=team-a")
	check("inspector tools/call as alice in team-a", expect(out, err, "checkout-1"))

	out, _ = inspector(secured+"/mcp", "--transport", "http", "--header", header, "--method", "tools/call", "--tool-name", "resources_list", "--tool-arg", "resource=pods", "--tool-arg", "namespace=team-b")
	// The Inspector CLI exits 5 for a tool result with isError: what matters is that
	// the refusal is a readable tool error, not a transport failure.
	check("inspector tools/call as alice in team-b is a forbidden tool error", expect(out, nil, "forbidden", "\"isError\": true", "tool_is_error"))

	out, err = inspector(secured+"/mcp", "--transport", "http", "--method", "tools/list")
	// Refused with 401: the Inspector then wants to start the OAuth flow the
	// challenge points to, which needs a terminal.
	check("inspector without a token is refused", expectFailure(out, err, "auth_required"))

	out, err = inspector(secured+"/sse", "--transport", "sse", "--header", header, "--method", "tools/call", "--tool-name", "resources_list", "--tool-arg", "resource=pods", "--tool-arg", "namespace=team-a")
	check("inspector over legacy SSE", expect(out, err, "checkout-1"))

	out, err = inspector("--method", "tools/call", "--tool-name", "resources_list", "--tool-arg", "resource=pods", "--tool-arg", "namespace=team-a",
		"--", "mcp-remote", secured+"/mcp", "--transport", "http-only", "--header", "Authorization:Bearer "+aliceToken)
	check("mcp-remote (stdio proxy) driven by the inspector", expect(out, err, "checkout-1"))

	for _, sc := range scenarios {
		out, err := runTool(ctx, env, "conformance", "server", "--url", open+"/mcp", "--scenario", sc)
		check("conformance "+sc, expectConformance(out, err))
	}

	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("manager: %w", err)
	}
	if len(failures) > 0 {
		return fmt.Errorf("%d checks failed: %s", len(failures), strings.Join(failures, "; "))
	}
	return nil
}

// runTool runs an npm-installed command with a deadline and returns its output.
func runTool(ctx context.Context, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	path := name
	for _, e := range env {
		if p, ok := strings.CutPrefix(e, "PATH="); ok {
			if found, err := lookPath(name, p); err == nil {
				path = found
			}
		}
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if os.Getenv("VERBOSE") != "" {
		fmt.Printf("$ %s %s\n%s\n", name, strings.Join(args, " "), out)
	}
	return string(out), err
}

func lookPath(name, path string) (string, error) {
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

func expect(out string, err error, wants ...string) error {
	if err != nil {
		return fmt.Errorf("%w:\n%s", err, tail(out))
	}
	for _, w := range wants {
		if !strings.Contains(out, w) {
			return fmt.Errorf("output lacks %q:\n%s", w, tail(out))
		}
	}
	return nil
}

func expectFailure(out string, err error, want string) error {
	if err == nil {
		return fmt.Errorf("succeeded without a credential:\n%s", tail(out))
	}
	if !strings.Contains(out, want) {
		return fmt.Errorf("failed, but not with %q:\n%s", want, tail(out))
	}
	return nil
}

func expectConformance(out string, err error) error {
	if err == nil && (strings.Contains(out, "FAILURE") || strings.Contains(out, "✗")) {
		err = errors.New("a check failed")
	}
	if err != nil {
		return fmt.Errorf("%w:\n%s", err, tail(out))
	}
	return nil
}

func tail(s string) string {
	if len(s) > 3000 {
		return "..." + s[len(s)-3000:]
	}
	return s
}

// setup makes the operator (testcluster.OperatorConfig plus the TokenReview rights the
// endpoint's tokenreview mode needs), lets group dev read pods in team-a and creates a
// pod in team-a and one in team-b.
func setup(ctx context.Context, cluster *testcluster.Cluster) (*rest.Config, error) {
	operator, err := cluster.OperatorConfig(ctx)
	if err != nil {
		return nil, err
	}
	admin, err := cluster.Client(cluster.Admin)
	if err != nil {
		return nil, err
	}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-b"}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "dev-view", Namespace: "team-a"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "pod-reader"},
			Subjects: []rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "dev"}}},
		// Not the built-in view role: it is aggregated by kube-controller-manager,
		// which this control plane does not run.
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods", "events"}, Verbs: []string{"get", "list", "watch"}},
		}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "checkout-1", Namespace: "team-a"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "checkout:1"}}}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "payments-1", Namespace: "team-b"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "payments:1"}}}},
	}
	for _, o := range objs {
		if err := admin.Create(ctx, o); err != nil {
			return nil, fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	return operator, nil
}

// noneEndpoint serves --mcp-auth=none on a loopback port, acting as alice.
func noneEndpoint(ctx context.Context, operator *rest.Config) (string, error) {
	ids, err := identity.NewFactory(operator, identity.Policy{})
	if err != nil {
		return "", err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(operator)
	if err != nil {
		return "", err
	}
	httpClient, err := rest.HTTPClientFor(operator)
	if err != nil {
		return "", err
	}
	restMapper, err := apiutil.NewDynamicRESTMapper(operator, httpClient)
	if err != nil {
		return "", err
	}
	registry, err := tools.NewRegistry(tools.Builtin()...)
	if err != nil {
		return "", err
	}
	opts := kmcp.NewOptions()
	opts.Auth, opts.DevUser, opts.DevGroups = auth.ModeNone, "alice", []string{"dev"}
	opts.BindAddress, opts.AuditLog, opts.DefaultNamespace = "127.0.0.1:0", "", "team-a"
	srv, err := kmcp.New(ctx, kmcp.Config{Options: opts, RESTConfig: operator, Identities: ids, Mapper: tools.NewMapper(dc),
		RESTMapper: restMapper, Scheme: testcluster.NewScheme(), Tools: registry, Log: logr.Discard()})
	if err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go func() { _ = srv.Serve(ctx, ln) }()
	url := "http://" + ln.Addr().String()
	return url, waitUp(url)
}

func waitUp(base string) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			_ = resp.Body.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not come up", base)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

package tools

// The kubectl tool runs the real kubectl command tree as the requester.
//
// Decision: it runs a kubectl binary (v1.37.2, built from k8s.io/kubernetes/cmd/kubectl
// by hack/build-controlplane.sh) with exec.CommandContext, never a shell, and a private
// kubeconfig per call. Linking k8s.io/kubectl in-process would bring its os.Exit paths
// (cmdutil.CheckErr) and process-global state (klog flags, the default warning
// handler, the cobra tree's option structs) into a manager that serves many users at
// once. The kubeconfig holds the operator's connection (server, CA, client certificate
// and key, or token or token file, as the operator's config has them) and the
// requester's impersonation (as, as-uid, as-groups, as-user-extra); it is written 0600
// into a fresh 0700 directory that is removed when the call ends. The argument list is
// checked first (kubectl_args.go): no credentials or connection flags, no local files,
// no plugins, nothing that streams.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubeask/kubeask/internal/redact"
)

// kubectlTimeout bounds one kubectl run (rollout status, wait and drain wait).
const kubectlTimeout = 60 * time.Second

// maxKubectlStdin bounds the manifest handed to -f -.
const maxKubectlStdin = 1 << 20

// maxDiffBytes bounds what kubectl diff may print: both versions of each object whole.
const maxDiffBytes = 2 << 20

// KubectlInput are the arguments of the kubectl tool.
type KubectlInput struct {
	Args  []string `json:"args" jsonschema:"the arguments after 'kubectl', one per element (never a shell string), e.g. [\"get\",\"pods\",\"-n\",\"team-a\"]; the first is the command"`
	Stdin string   `json:"stdin,omitempty" jsonschema:"a YAML or JSON manifest read by -f - (e.g. [\"apply\",\"-f\",\"-\"]); files and URLs cannot be read"`
}

// kubectlTool builds the kubectl tool. Whether a call mutates depends on its command.
func kubectlTool() Tool {
	return Define("kubectl",
		"Run kubectl as the requester, with their rights only. args is the argument list after 'kubectl'. "+
			"Read-only commands: get, describe, logs, top, explain, events, api-resources, api-versions, version, cluster-info, diff, auth can-i, auth whoami, rollout status, rollout history, apply view-last-applied. "+
			"Changes the cluster only with the other commands (apply, create, delete, patch, replace, scale, label, annotate, set, rollout restart/undo, ...), which need approval. "+
			"Not allowed: exec, attach, cp, port-forward, proxy, edit, debug, config, plugins, credential or connection flags, watching or following, and files or URLs (pass a manifest in stdin with -f -).",
		Annotations{Title: "kubectl", Destructive: true},
		runKubectl,
	).WithMutates(kubectlMutates).WithCheck(kubectlCheck)
}

// kubectlCheck refuses the argument lists runKubectl refuses, with the same reason.
func kubectlCheck(args json.RawMessage, out OutputPolicy) error {
	var in KubectlInput
	if err := decodeArgs(args, &in); err != nil {
		return err
	}
	_, err := parseKubectlArgs(in.Args, in.Stdin != "", out.AllowSecretValues)
	return err
}

// kubectlMutates classifies a call by its command; arguments that do not parse count
// as mutating (they are refused when run anyway).
func kubectlMutates(args json.RawMessage) bool {
	var in KubectlInput
	if err := decodeArgs(args, &in); err != nil {
		return true
	}
	call, err := parseKubectlArgs(in.Args, in.Stdin != "", true)
	if err != nil {
		return true
	}
	return call.mutates()
}

func runKubectl(ctx context.Context, env *Env, in KubectlInput) (*Result, error) {
	call, err := parseKubectlArgs(in.Args, in.Stdin != "", env.Output.AllowSecretValues)
	if err != nil {
		return nil, err
	}
	if len(in.Stdin) > maxKubectlStdin {
		return nil, ArgumentError{Tool: "kubectl", Reason: fmt.Sprintf("stdin is %d bytes, more than %d", len(in.Stdin), maxKubectlStdin)}
	}
	if env.KubectlPath == "" {
		return &Result{IsError: true, Text: "the kubectl tool is unavailable: the operator runs without a kubectl binary (--kubectl-path); use the other tools"}, nil
	}
	if env.Impersonated == nil || env.Impersonated.Impersonate.UserName == "" {
		return nil, errors.New("kubectl: the environment has no impersonating config")
	}
	env.record(call.verb, "kubectl", "", strings.Join(redact.KubectlArgs(in.Args), " "))

	dir, err := os.MkdirTemp("", "kubeask-kubectl-")
	if err != nil {
		return nil, fmt.Errorf("kubectl: private directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(kubeconfig, env.Impersonated); err != nil {
		return nil, err
	}

	runCtx, cancel := context.WithTimeout(ctx, kubectlTimeout)
	defer cancel()
	limit := 4 * env.maxBytes()
	if call.verb == "diff" {
		// The diff program prints both versions of each object whole, for redact.Diff to
		// read; the diff it prints again is as short as diff -u's.
		limit = max(limit, maxDiffBytes)
	}
	stdout, stderr := &cappedBuffer{max: limit}, &cappedBuffer{max: limit}
	cmd := exec.CommandContext(runCtx, env.KubectlPath, in.Args...) //nolint:gosec // G204: the platform's kubectl binary, run without a shell; its arguments are checked by kubectl_args.go
	cmd.Dir = dir
	cmd.Env = kubectlEnviron(dir, kubeconfig)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if call.readsStdin {
		cmd.Stdin = strings.NewReader(in.Stdin)
	}
	cmd.WaitDelay = 5 * time.Second
	runErr := cmd.Run()

	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if errors.Is(runCtx.Err(), context.DeadlineExceeded) {
		return &Result{IsError: true, Text: fmt.Sprintf("kubectl did not finish within %s and was stopped; narrow the request or use a command that does not wait\n%s", kubectlTimeout, stderr.String())}, nil
	}
	var exitErr *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exitErr) {
		return nil, fmt.Errorf("running kubectl: %w", runErr)
	}
	code := 0
	if exitErr != nil {
		code = exitErr.ExitCode()
	}
	// kubectl diff exits 1 when it found differences: that is its answer, not a failure.
	failed := code != 0 && (call.verb != "diff" || code != 1)

	// A failed call may still have printed objects (get a b -o yaml when b is missing).
	out, recorded, revealed, redactErr := redactKubectlOutput(call, stdout.String())
	switch {
	case env.Output.AllowSecretValues && redactErr != nil:
		recorded = "[kubectl's output is not kept in the record: " + redactErr.Error() + "]"
		revealed = rawRevealed(in.Args, out)
	case redactErr != nil:
		if !failed {
			return &Result{IsError: true, Text: "kubectl's output was withheld: " + redactErr.Error()}, nil
		}
		out, recorded = "", "" // the error on stderr is the answer
	case !env.Output.AllowSecretValues:
		out = recorded
	}
	errOut, _ := redact.Text(stderr.String())
	truncated := stdout.dropped > 0 || stderr.dropped > 0
	text := func(out string) string {
		var text strings.Builder
		if failed {
			fmt.Fprintf(&text, "kubectl exited with status %d:\n", code)
			text.WriteString(errOut)
			if out != "" {
				text.WriteString("\n" + out)
			}
		} else {
			text.WriteString(out)
			if errOut != "" { // warnings, "No resources found"
				if out != "" && !strings.HasSuffix(out, "\n") {
					text.WriteByte('\n')
				}
				text.WriteString(errOut)
			}
			if text.Len() == 0 {
				text.WriteString("(kubectl printed nothing)")
			}
		}
		if truncated {
			fmt.Fprintf(&text, "\n[truncated: kubectl printed %d more bytes than the %d-byte read limit. Narrow the request: a namespace, a selector, --tail.]", stdout.dropped+stderr.dropped, limit)
		}
		return text.String()
	}
	res := &Result{Text: text(out), Recorded: text(recorded), IsError: failed, Truncated: truncated}
	if failed {
		// kubectl's own exit says nothing of the API server's refusals; its messages
		// name the verb, resource and namespace the requester was denied.
		for _, a := range kubectlDenials(stderr.String()) {
			env.record(a.Verb, a.Resource, a.Namespace, a.Name)
			res.Forbidden = true
		}
	}
	if env.Output.AllowSecretValues {
		res.Revealed = revealed
	}
	return res, nil
}

// kubectlEnviron is the child's whole environment: nothing of the manager's is
// inherited (no KUBECONFIG, no KUBECTL_* switches, no PATH, so that no plugin or
// credential helper can be found) except the proxy settings of the operator's
// connection.
func kubectlEnviron(dir, kubeconfig string) []string {
	environ := []string{
		"HOME=" + dir, "TMPDIR=" + dir, "KUBECONFIG=" + kubeconfig, "PATH=",
		"KUBECTL_KUBERC=false", // no preferences or aliases from any kuberc file
	}
	// kubectl diff runs an external diff program; name it by absolute path, as PATH is
	// empty. Where the manager's image has none, diff fails with a readable error.
	for _, p := range []string{"/usr/bin/diff", "/bin/diff"} {
		if _, err := os.Stat(p); err == nil {
			// The whole of both versions (-U): redact.Diff redacts them as objects.
			environ = append(environ, fmt.Sprintf("KUBECTL_EXTERNAL_DIFF=%s -N -U%d", p, redact.DiffContextLines))
			break
		}
	}
	for _, k := range []string{"HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy"} {
		if v, ok := os.LookupEnv(k); ok {
			environ = append(environ, k+"="+v)
		}
	}
	return environ
}

// writeKubeconfig writes a kubeconfig that connects as the operator and impersonates
// the requester of cfg, readable by the manager's user only.
func writeKubeconfig(path string, cfg *rest.Config) error {
	if cfg.ExecProvider != nil || cfg.AuthProvider != nil {
		return errors.New("kubectl: the operator authenticates with an exec or auth provider, which cannot be handed to kubectl")
	}
	user := &clientcmdapi.AuthInfo{
		ClientCertificate: cfg.CertFile, ClientCertificateData: cfg.CertData,
		ClientKey: cfg.KeyFile, ClientKeyData: cfg.KeyData,
		TokenFile: cfg.BearerTokenFile,
		Username:  cfg.Username, Password: cfg.Password,
		Impersonate:          cfg.Impersonate.UserName,
		ImpersonateUID:       cfg.Impersonate.UID,
		ImpersonateGroups:    cfg.Impersonate.Groups,
		ImpersonateUserExtra: cfg.Impersonate.Extra,
	}
	if cfg.BearerTokenFile == "" { // a token file is re-read by kubectl; do not copy it
		user.Token = cfg.BearerToken
	}
	kc := clientcmdapi.Config{
		Clusters: map[string]*clientcmdapi.Cluster{"cluster": {
			Server:                   cfg.Host,
			CertificateAuthority:     cfg.CAFile,
			CertificateAuthorityData: cfg.CAData,
			InsecureSkipTLSVerify:    cfg.Insecure,
			TLSServerName:            cfg.ServerName,
			DisableCompression:       cfg.DisableCompression,
		}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{"requester": user},
		Contexts:       map[string]*clientcmdapi.Context{"requester": {Cluster: "cluster", AuthInfo: "requester"}},
		CurrentContext: "requester",
	}
	data, err := clientcmd.Write(kc)
	if err != nil {
		return fmt.Errorf("kubectl: encoding the kubeconfig: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // G304: a private file this tool names itself in its own temporary directory
	if err != nil {
		return fmt.Errorf("kubectl: writing the kubeconfig: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("kubectl: writing the kubeconfig: %w", err)
	}
	return f.Close()
}

// cappedBuffer keeps the first max bytes written and counts the rest, so that a child
// printing without end never blocks and never fills the manager's memory.
type cappedBuffer struct {
	buf     bytes.Buffer
	max     int
	dropped int64
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	room := max(c.max-c.buf.Len(), 0)
	keep := min(room, len(p))
	c.buf.Write(p[:keep])
	c.dropped += int64(len(p) - keep)
	return len(p), nil
}

func (c *cappedBuffer) String() string { return c.buf.String() }

// forbiddenMessage is the API server's message for a request RBAC (or another
// authorizer) denied, as kubectl prints it after "Error from server (Forbidden):":
// `pods "x" is forbidden: User "alice" cannot get resource "pods" in API group "" in
// the namespace "team-b"`, `... at the cluster scope`, or `cannot get path "/apis"`.
var forbiddenMessage = regexp.MustCompile(`(?:([a-z0-9.-]+)(?: "([^"]*)")? is forbidden: )?User "[^"]*" cannot ([a-z]+) (?:resource "([^"]+)"(?: in API group "[^"]*")?(?: in the namespace "([^"]+)")?|path "([^"]+)")`)

// kubectlDenials are the requests the API server refused in kubectl's stderr, once
// each.
func kubectlDenials(stderr string) []Access {
	var out []Access
	for _, m := range forbiddenMessage.FindAllStringSubmatch(stderr, -1) {
		a := Access{Verb: m[3], Resource: m[4], Namespace: m[5], Name: m[2]}
		if m[6] != "" {
			a.Resource = m[6]
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

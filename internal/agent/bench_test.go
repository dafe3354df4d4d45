package agent_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
)

// BenchmarkThroughput runs 1, 50, then 500 concurrent queries through a real kubeask-manager
// process (built from this tree) against the real API server. The fake model answers
// every call after 200 ms and asks for 3 tool calls per query, so the ideal wall time
// is the latency chain of one query: 4 calls × 200 ms. It reports the measured wall
// time over that ideal and the manager's peak RSS (VmHWM), both from this one run.
//
// The manager runs with --agent-workers=500 and --kube-api-qps=2000 so that neither
// the pool nor client-side throttling is what is measured.
//
//	go test -run='^$' -bench=Throughput -benchtime=1x ./internal/agent/
func BenchmarkThroughput(b *testing.B) {
	for _, n := range []int{1, 50, 500} {
		b.Run(fmt.Sprintf("queries=%d", n), func(b *testing.B) { benchmarkThroughput(b, n) })
	}
}

func benchmarkThroughput(b *testing.B, queries int) {
	const (
		latency = 200 * time.Millisecond
		calls   = 4
	)
	ctx := b.Context()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "bench-"}}
	if err := admin.Create(ctx, ns); err != nil {
		b.Fatal(err)
	}
	(&rbacBinding{ns: ns.Name}).ensureB(b)

	fake := llmtest.NewServer(func(req llmtest.Request) llmtest.Reply {
		n := 0
		for _, m := range req.Messages {
			if m.Role == "tool" {
				n++
			}
		}
		if n >= calls-1 {
			return llmtest.Reply{Text: "done"}
		}
		return llmtest.Reply{Calls: []llmtest.Call{{Name: "resources_list", Args: `{"resource":"configmaps","namespace":"` + ns.Name + `"}`}}}
	})
	fake.Latency = latency
	defer fake.Close()

	dir := b.TempDir()
	bin := filepath.Join(dir, "kubeask-manager")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/kubeask-manager")
	build.Dir = cluster.Root
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building the manager: %v\n%s", err, out)
	}
	cfgFile := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgFile, []byte(fmt.Sprintf("defaultModel: fake\nmodels:\n- name: fake\n  provider: openai\n  model: m\n  baseURL: %s\n  timeout: 60s\n", fake.BaseURL())), 0o600); err != nil {
		b.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(operatorCfg, kubeconfig); err != nil {
		b.Fatal(err)
	}
	mgr := exec.CommandContext(ctx, bin, "--kubeconfig", kubeconfig, "--config", cfgFile, "--namespace", "kubeask-system",
		"--watch-namespace", ns.Name, "--agent-workers", strconv.Itoa(queries),
		"--kube-api-qps", "2000", "--kube-api-burst", "4000",
		"--metrics-bind-address", "0", "--health-probe-bind-address", "0", "--zap-log-level", "error")
	mgr.Stderr = os.Stderr
	if err := mgr.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = mgr.Process.Kill(); _ = mgr.Wait() }()
	time.Sleep(2 * time.Second) // let its caches sync

	for range b.N {
		fake.Latency = latency
		start := time.Now()
		var wg sync.WaitGroup
		names := make([]string, queries)
		errs := make(chan error, queries)
		for i := range queries {
			wg.Go(func() {
				q := &agentsv1alpha1.AgentQuery{ObjectMeta: metav1.ObjectMeta{GenerateName: "b-", Namespace: ns.Name},
					Spec: agentsv1alpha1.AgentQuerySpec{Prompt: "bench"}}
				if err := alice.Create(ctx, q); err != nil {
					errs <- err
					return
				}
				names[i] = q.Name
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		created := time.Since(start)
		// Poll the unfinished queries only (status.phase is a selectable field), once a
		// second, so that watching the run does not load the API server much.
		for {
			var list agentsv1alpha1.AgentQueryList
			if err := admin.List(ctx, &list, client.InNamespace(ns.Name), client.MatchingFields{"status.phase": string(agentsv1alpha1.QueryRunning)}); err != nil {
				b.Fatal(err)
			}
			var pending, failed agentsv1alpha1.AgentQueryList
			if err := admin.List(ctx, &pending, client.InNamespace(ns.Name), client.MatchingFields{"status.phase": string(agentsv1alpha1.QueryPending)}); err != nil {
				b.Fatal(err)
			}
			if err := admin.List(ctx, &failed, client.InNamespace(ns.Name), client.MatchingFields{"status.phase": string(agentsv1alpha1.QueryFailed)}, client.Limit(1)); err != nil {
				b.Fatal(err)
			}
			if len(failed.Items) > 0 {
				b.Fatalf("a query failed: %+v", failed.Items[0].Status)
			}
			if len(list.Items) == 0 && len(pending.Items) == 0 {
				var done agentsv1alpha1.AgentQueryList
				if err := admin.List(ctx, &done, client.InNamespace(ns.Name), client.MatchingFields{"status.phase": string(agentsv1alpha1.QuerySucceeded)}); err != nil {
					b.Fatal(err)
				}
				if len(done.Items) >= queries {
					break
				}
			}
			if time.Since(start) > 5*time.Minute {
				b.Fatalf("%d running and %d pending after 5 minutes", len(list.Items), len(pending.Items))
			}
			time.Sleep(250 * time.Millisecond)
		}
		wall := time.Since(start)
		ideal := calls * latency
		b.ReportMetric(wall.Seconds(), "wall-s")
		b.ReportMetric(created.Seconds(), "create-s")
		b.ReportMetric(wall.Seconds()/ideal.Seconds(), "wall/ideal")
		b.ReportMetric((wall-created).Seconds()/ideal.Seconds(), "after-create/ideal")
		b.ReportMetric(float64(fake.Calls()), "llm-calls")
		// Clean up so that b.N > 1 measures fresh waves.
		if err := admin.DeleteAllOf(ctx, &agentsv1alpha1.AgentQuery{}, client.InNamespace(ns.Name)); err != nil {
			b.Fatal(err)
		}
	}
	rss, err := peakRSS(mgr.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(rss)/(1<<20), "manager-peak-RSS-MiB")
}

// peakRSS reads a process's peak resident set size (VmHWM) from /proc.
func peakRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM for pid %d", pid)
}

func writeKubeconfig(cfg *rest.Config, path string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["c"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["u"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	kc.CurrentContext = "c"
	return clientcmd.WriteToFile(*kc, path)
}

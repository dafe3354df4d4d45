package agent_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/identity"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
	"github.com/kubeask/kubeask/internal/tools"
)

// BenchmarkThroughput runs 1, 50, then 500 concurrent queries through a real kubeask-manager
// process (built from this tree) against the real API server. The fake model answers
// every call after 200 ms and asks for 3 tool calls per query, so the ideal wall time
// is the latency chain of one query: 4 calls × 200 ms. It reports, all from this one
// run: the measured wall time over that ideal and over the API floor (apiFloor), the API
// requests per query in total and by kind (req/query:<verb>:<resource>[:<code>]), and
// the manager's peak RSS (VmHWM). The manager is built stripped (-s -w).
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
	// Stripped: the memory target (issue 10 §8) is for a binary without the symbol
	// table and DWARF.
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/kubeask-manager")
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
	args := []string{"--kubeconfig", kubeconfig, "--config", cfgFile, "--namespace", "kubeask-system",
		"--watch-namespace", ns.Name, "--agent-workers", strconv.Itoa(queries),
		"--kube-api-qps", "2000", "--kube-api-burst", "4000",
		"--metrics-bind-address", "0", "--health-probe-bind-address", "0", "--zap-log-level", "error"}
	// KUBEASK_BENCH_MANAGER_ARGS adds manager flags, for experiments
	// (e.g. --status-update-interval=0).
	args = append(args, strings.Fields(os.Getenv("KUBEASK_BENCH_MANAGER_ARGS"))...)
	profileDir := os.Getenv("KUBEASK_BENCH_PROFILE")
	pprofAddr := ""
	if profileDir != "" {
		pprofAddr = freeAddr(b)
		args = append(args, "--pprof-bind-address", pprofAddr)
	}
	mgr := exec.CommandContext(ctx, bin, args...)
	mgr.Stderr = os.Stderr
	if err := mgr.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = mgr.Process.Kill(); _ = mgr.Wait() }()
	time.Sleep(2 * time.Second) // let its caches sync

	stopSampling := sampleRSS(mgr.Process.Pid)
	floor := apiFloor(b, queries)
	watcher, err := client.NewWithWatch(cluster.Admin, client.Options{Scheme: cluster.Scheme})
	if err != nil {
		b.Fatal(err)
	}

	for range b.N {
		fake.Latency = latency
		start := time.Now()
		if profileDir != "" {
			stop := profile(b, profileDir, fmt.Sprintf("queries=%d", queries), pprofAddr)
			defer stop()
		}
		before := apiRequests(b)
		// The wave is watched, not polled: one watch costs the API server little, and the
		// end of each query is seen when it happens.
		w, err := watcher.Watch(ctx, &agentsv1alpha1.AgentQueryList{}, client.InNamespace(ns.Name))
		if err != nil {
			b.Fatal(err)
		}
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			created = map[string]time.Time{}
			errs    = make(chan error, queries)
		)
		for range queries {
			wg.Go(func() {
				q := &agentsv1alpha1.AgentQuery{ObjectMeta: metav1.ObjectMeta{GenerateName: "b-", Namespace: ns.Name},
					Spec: agentsv1alpha1.AgentQuerySpec{Prompt: "bench"}}
				if err := alice.Create(ctx, q); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				created[q.Name] = time.Now()
				mu.Unlock()
			})
		}
		createdAll := make(chan time.Duration, 1)
		go func() {
			wg.Wait()
			createdAll <- time.Since(start)
			close(errs)
		}()
		finished := map[string]time.Time{}
		lastRV, reopened := "", 0
		timeout := time.After(5 * time.Minute)
		for len(finished) < queries {
			select {
			case err, ok := <-errs:
				if ok {
					b.Fatal(err)
				}
				errs = nil
			case <-timeout:
				b.Fatalf("%d of %d queries finished after 5 minutes", len(finished), queries)
			case ev, ok := <-w.ResultChan():
				if !ok {
					// The API server ends watches now and then (and a slow watcher at
					// once); go on from the last event seen.
					w, err = watcher.Watch(ctx, &agentsv1alpha1.AgentQueryList{}, client.InNamespace(ns.Name),
						&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: lastRV}})
					if err != nil {
						b.Fatal(err)
					}
					reopened++
					continue
				}
				q, isQuery := ev.Object.(*agentsv1alpha1.AgentQuery)
				if !isQuery {
					b.Fatalf("watch: %v", ev.Object)
				}
				lastRV = q.ResourceVersion
				switch q.Status.Phase {
				case agentsv1alpha1.QueryFailed:
					b.Fatalf("query %s failed: %+v", q.Name, q.Status)
				case agentsv1alpha1.QuerySucceeded:
					if _, seen := finished[q.Name]; !seen {
						finished[q.Name] = time.Now()
					}
				}
			}
		}
		wall := time.Since(start)
		w.Stop()
		if reopened > 0 {
			b.Logf("the watch was reopened %d times", reopened)
		}
		// A run records its Event after its last write, asynchronously: give the last
		// queries' Events a moment to be counted.
		time.Sleep(time.Second)
		reportRequestsPerQuery(b, before, apiRequests(b), queries)
		createdIn := <-createdAll
		var latencies []time.Duration
		for name, end := range finished {
			latencies = append(latencies, end.Sub(created[name]))
		}
		slices.Sort(latencies)
		ideal := calls * latency
		b.ReportMetric(wall.Seconds(), "wall-s")
		b.ReportMetric(createdIn.Seconds(), "create-s")
		b.ReportMetric(wall.Seconds()/ideal.Seconds(), "wall/ideal")
		b.ReportMetric(latencies[len(latencies)/2].Seconds()/ideal.Seconds(), "query-p50/ideal")
		b.ReportMetric(latencies[len(latencies)-1].Seconds()/ideal.Seconds(), "query-max/ideal")
		b.ReportMetric(float64(fake.Calls()), "llm-calls")
		b.ReportMetric(floor.Seconds(), "api-floor-s")
		b.ReportMetric(floor.Seconds()/ideal.Seconds(), "api-floor/ideal")
		b.ReportMetric(wall.Seconds()/max(ideal, floor).Seconds(), "wall/max(ideal,api-floor)")
		// Clean up so that b.N > 1 measures fresh waves.
		if err := admin.DeleteAllOf(ctx, &agentsv1alpha1.AgentQuery{}, client.InNamespace(ns.Name)); err != nil {
			b.Fatal(err)
		}
	}
	rss, err := peakRSS(mgr.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	anon, file := stopSampling()
	b.ReportMetric(float64(rss)/(1<<20), "manager-peak-RSS-MiB")
	b.ReportMetric(float64(anon)/(1<<20), "manager-peak-anon-MiB")
	b.ReportMetric(float64(file)/(1<<20), "manager-peak-file-MiB")
}

// apiFloor measures, in this run and on this machine, how long the API server alone
// takes to serve the requests that n queries cannot do without, all at once and with no
// model latency: alice creates each query (through the admission policies), the 3 tool
// calls list ConfigMaps as alice (the same tool, through the operator's impersonating
// connection), and the operator writes the query's status twice (Running, then the
// answer with the 3 steps). What a real run adds (its Event, progress writes, the
// watch) is left out, so this is a lower bound: no operator can finish n queries faster
// than this, whatever the model.
func apiFloor(b *testing.B, n int) time.Duration {
	ctx := b.Context()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "bench-floor-"}}
	if err := admin.Create(ctx, ns); err != nil {
		b.Fatal(err)
	}
	(&rbacBinding{ns: ns.Name}).ensureB(b)
	cfg := rest.CopyConfig(operatorCfg)
	cfg.QPS, cfg.Burst = 2000, 4000 // as the benchmarked manager
	operator := newOperatorFor(b, cfg)
	list, _ := operator.Tools.Get("resources_list")
	args := []byte(`{"resource":"configmaps","namespace":"` + ns.Name + `"}`)

	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			q := &agentsv1alpha1.AgentQuery{ObjectMeta: metav1.ObjectMeta{GenerateName: "f-", Namespace: ns.Name},
				Spec: agentsv1alpha1.AgentQuerySpec{Prompt: "bench"}}
			if err := alice.Create(ctx, q); err != nil {
				errs <- err
				return
			}
			patch := func(st agentsv1alpha1.AgentQueryStatus) error {
				body, err := json.Marshal(map[string]any{"metadata": map[string]any{"uid": q.UID}, "status": st})
				if err != nil {
					return err
				}
				return operator.Client.Status().Patch(ctx, q.DeepCopy(), client.RawPatch(types.MergePatchType, body))
			}
			st := agentsv1alpha1.AgentQueryStatus{Phase: agentsv1alpha1.QueryRunning, StartTime: &metav1.Time{Time: time.Now()}}
			if err := patch(st); err != nil {
				errs <- err
				return
			}
			env, err := tools.NewEnv(operator.Identity, identity.FromRequester(q.Spec.Requester), operator.Mapper, tools.OutputPolicy{})
			if err != nil {
				errs <- err
				return
			}
			for i := range 3 {
				out, err := list.Call(ctx, env, args)
				if err != nil {
					errs <- err
					return
				}
				st.Steps = append(st.Steps, agentsv1alpha1.Step{ID: fmt.Sprintf("s%d", i+1), Tool: list.Name, Arguments: string(args),
					State: agentsv1alpha1.StepDone, ReadOnly: true, Output: out.Text, StartTime: st.StartTime})
			}
			st.Phase, st.Answer, st.Summary = agentsv1alpha1.QuerySucceeded, "done", "done"
			if err := patch(st); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	floor := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	if err := admin.DeleteAllOf(ctx, &agentsv1alpha1.AgentQuery{}, client.InNamespace(ns.Name)); err != nil {
		b.Fatal(err)
	}
	return floor
}

// apiRequests reads the API server's apiserver_request_total counters, summed by verb,
// resource and subresource.
func apiRequests(b *testing.B) map[string]float64 {
	c, err := rest.HTTPClientFor(cluster.Admin)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := c.Get(strings.TrimSuffix(cluster.Admin.Host, "/") + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	label := func(line, name string) string {
		_, rest, ok := strings.Cut(line, name+`="`)
		if !ok {
			return ""
		}
		v, _, _ := strings.Cut(rest, `"`)
		return v
	}
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		n, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		key := label(line, "verb") + " " + label(line, "resource")
		if sub := label(line, "subresource"); sub != "" {
			key += "/" + sub
		}
		if code := label(line, "code"); !strings.HasPrefix(code, "2") {
			key += " (" + code + ")"
		}
		out[key] += n
	}
	return out
}

// reportRequestsPerQuery reports what the API server served during a wave, per query:
// the total (every request, the refused ones too: they cost the API server as well), and
// each kind (verb, resource, answer code) of at least 0.1 per query, as metrics named
// req/query:<verb>:<resource>[:<code>], and logs them. The count is the API server's
// own, so it holds whoever sends: the manager, alice's creates, the benchmark's watch.
func reportRequestsPerQuery(b *testing.B, before, after map[string]float64, queries int) {
	var lines []string
	total := 0.0
	for k, v := range after {
		d := v - before[k]
		total += d
		if d < float64(queries)/10 {
			continue
		}
		lines = append(lines, fmt.Sprintf("%6.2f %s", d/float64(queries), k))
		b.ReportMetric(d/float64(queries), "req/query:"+strings.NewReplacer(" (", ":", ")", "", " ", ":").Replace(k))
	}
	slices.Sort(lines)
	slices.Reverse(lines)
	b.ReportMetric(total/float64(queries), "req/query")
	b.Logf("API requests per query during the wave: %.2f\n%s", total/float64(queries), strings.Join(lines, "\n"))
}

// profile records CPU profiles of the API server and the manager into dir for up to 30 s
// (KUBEASK_BENCH_PROFILE=dir); the returned func waits for them.
func profile(b *testing.B, dir, name, managerAddr string) (wait func()) {
	seconds := "30"
	var wg sync.WaitGroup
	fetch := func(c *http.Client, url, file string) {
		resp, err := c.Get(url + "/debug/pprof/profile?seconds=" + seconds)
		if err != nil {
			b.Logf("profiling %s: %v", url, err)
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(filepath.Join(dir, file))
		if err != nil {
			b.Log(err)
			return
		}
		defer f.Close()
		_, _ = io.Copy(f, resp.Body)
	}
	apiClient, err := rest.HTTPClientFor(cluster.Admin)
	if err != nil {
		b.Fatal(err)
	}
	wg.Go(func() { fetch(apiClient, strings.TrimSuffix(cluster.Admin.Host, "/"), name+"-apiserver.pprof") })
	wg.Go(func() { fetch(http.DefaultClient, "http://"+managerAddr, name+"-manager.pprof") })
	// The manager's heap profile and memory statistics, every 2 s.
	wg.Go(func() {
		stats, err := os.Create(filepath.Join(dir, name+"-manager-memstats.txt"))
		if err != nil {
			return
		}
		defer stats.Close()
		for i := range 10 {
			time.Sleep(2 * time.Second)
			for _, debug := range []string{"0", "1"} {
				resp, err := http.Get("http://" + managerAddr + "/debug/pprof/heap?debug=" + debug)
				if err != nil {
					return
				}
				if debug == "0" {
					if f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-manager-heap-%02ds.pprof", name, 2*(i+1)))); err == nil {
						_, _ = io.Copy(f, resp.Body)
						_ = f.Close()
					}
				} else {
					fmt.Fprintf(stats, "t=%ds", 2*(i+1))
					sc := bufio.NewScanner(resp.Body)
					sc.Buffer(nil, 1<<20)
					for sc.Scan() {
						for _, k := range []string{"Sys", "HeapSys", "HeapInuse", "HeapIdle", "HeapReleased", "StackSys", "NextGC", "NumGC"} {
							if v, ok := strings.CutPrefix(sc.Text(), "# "+k+" = "); ok {
								fmt.Fprintf(stats, " %s=%s", k, v)
							}
						}
					}
					fmt.Fprintln(stats)
				}
				_ = resp.Body.Close()
			}
		}
	})
	return wg.Wait
}

func freeAddr(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// peakRSS reads a process's peak resident set size (VmHWM) from /proc.
func peakRSS(pid int) (int64, error) { return procStatus(pid, "VmHWM") }

// procStatus reads one memory figure (VmHWM, RssAnon, RssFile…) of /proc/<pid>/status.
func procStatus(pid int, key string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s for pid %d", key, pid)
}

// sampleRSS records the peak of the process's anonymous and file-backed resident
// memory, sampled every 50 ms, until stop is called. VmHWM has only their peak sum;
// the file-backed part is mostly the executable's code.
func sampleRSS(pid int) (stop func() (anon, file int64)) {
	done := make(chan struct{})
	var anon, file int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			if v, err := procStatus(pid, "RssAnon"); err == nil {
				anon = max(anon, v)
			}
			if v, err := procStatus(pid, "RssFile"); err == nil {
				file = max(file, v)
			}
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
	return func() (int64, int64) {
		close(done)
		wg.Wait()
		return anon, file
	}
}

func writeKubeconfig(cfg *rest.Config, path string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["c"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["u"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	kc.CurrentContext = "c"
	return clientcmd.WriteToFile(*kc, path)
}

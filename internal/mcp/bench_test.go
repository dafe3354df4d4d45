package mcp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeask/kubeask/internal/identity"
	kmcp "github.com/kubeask/kubeask/internal/mcp"
)

// benchUsers each have their own static token (group bench) and read namespace bench,
// which holds benchPods pods.
const (
	benchUsers = 200
	benchPods  = 500
	benchNS    = "bench"
)

func benchToken(i int) string { return fmt.Sprintf("bench-%03d-7f3e9a1c5b", i) }

var benchOnce sync.Once

func setupBench(b *testing.B) *fixture {
	f := env(b)
	benchOnce.Do(func() {
		ctx := context.Background()
		objs := []client.Object{
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNS}},
			&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "bench-view", Namespace: benchNS},
				RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "team-member"},
				Subjects: []rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "bench"}}},
		}
		for _, o := range objs {
			if err := f.admin.Create(ctx, o); err != nil {
				b.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make(chan error, benchPods)
		sem := make(chan struct{}, 16)
		for i := range benchPods {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-%03d", i), Namespace: benchNS, Labels: map[string]string{"app": "web"}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "web:1"}}}}
				if err := f.admin.Create(ctx, pod); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	})
	return f
}

// BenchmarkListPods200Users: 200 concurrent users, each with its own token, list the
// 500 pods of a namespace through /mcp (resources_list), then the same users list
// them directly with client-go, in the same run. Reported: MCP calls/s, p50 and p99,
// the direct p50 and the ratio of the p50s (target <= 1.5), and the process's RSS
// (which also holds the clients, the API server's clients and the test manager).
func BenchmarkListPods200Users(b *testing.B) {
	f := setupBench(b)
	cfg := rest.CopyConfig(f.operatorCfg)
	cfg.QPS, cfg.Burst = 100, 200 // the manager's defaults (--kube-api-qps/--kube-api-burst)
	ts := newServer(b, func(c *kmcp.Config) {
		c.RESTConfig = cfg
		c.Options.RateLimit = 0
		c.Audit = io.Discard
	})
	sessions := make([]*mcp.ClientSession, benchUsers)
	direct := make([]kubernetes.Interface, benchUsers)
	for i := range benchUsers {
		sessions[i] = connect(b, ts.URL, benchToken(i), nil)
		dcfg := &rest.Config{Host: f.cluster.Admin.Host, BearerToken: benchToken(i), TLSClientConfig: rest.TLSClientConfig{CAData: f.cluster.Admin.CAData}, QPS: 100, Burst: 200}
		cs, err := kubernetes.NewForConfig(dcfg)
		if err != nil {
			b.Fatal(err)
		}
		direct[i] = cs
	}
	args := map[string]any{"resource": "pods", "namespace": benchNS}
	viaMCP := func(i int) error {
		res, err := sessions[i].CallTool(context.Background(), &mcp.CallToolParams{Name: "resources_list", Arguments: args})
		if err != nil {
			return err
		}
		if res.IsError || !strings.Contains(resultText(res), "web-000") {
			return fmt.Errorf("unexpected result: %s", resultText(res))
		}
		return nil
	}
	viaClientGo := func(i int) error {
		list, err := direct[i].CoreV1().Pods(benchNS).List(context.Background(), metav1.ListOptions{})
		if err == nil && len(list.Items) != benchPods {
			err = fmt.Errorf("listed %d pods", len(list.Items))
		}
		return err
	}
	// The request the tool makes: a server-side Table of the pods.
	viaTable := func(i int) error {
		raw, err := direct[i].CoreV1().RESTClient().Get().Namespace(benchNS).Resource("pods").
			SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").Param("includeObject", "None").Do(context.Background()).Raw()
		if err != nil {
			return err
		}
		// Decoded, as the tool decodes it: a client needs the rows, not the bytes.
		var table metav1.Table
		if err := json.Unmarshal(raw, &table); err != nil || len(table.Rows) != benchPods {
			return fmt.Errorf("unexpected table (%w): %.200s", err, raw)
		}
		return nil
	}
	// Warm up: every user's clients, caches and connections.
	if _, err := drive(benchUsers, viaMCP); err != nil {
		b.Fatal(err)
	}
	if _, err := drive(benchUsers, viaClientGo); err != nil {
		b.Fatal(err)
	}
	if _, err := drive(benchUsers, viaTable); err != nil {
		b.Fatal(err)
	}
	calls := max(b.N, benchUsers)
	// The direct Table listing runs before and after the MCP run, so that neither
	// side profits from running later (warmer caches) or earlier (a fresher heap).
	b.StopTimer()
	tableBefore, err := drive(calls/2, viaTable)
	if err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	start := time.Now()
	mcpLat, err := drive(calls, viaMCP)
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	rss := rssBytes()
	tableAfter, err := drive(calls-calls/2, viaTable)
	if err != nil {
		b.Fatal(err)
	}
	tableLat := append(tableBefore, tableAfter...)
	directLat, err := drive(calls, viaClientGo)
	if err != nil {
		b.Fatal(err)
	}
	p50, p99 := percentile(mcpLat, 50), percentile(mcpLat, 99)
	t50, d50 := percentile(tableLat, 50), percentile(directLat, 50)
	b.ReportMetric(float64(calls)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(ms(p50), "p50-ms")
	b.ReportMetric(ms(p99), "p99-ms")
	b.ReportMetric(ms(t50), "direct-table-p50-ms")
	b.ReportMetric(ms(percentile(tableLat, 99)), "direct-table-p99-ms")
	b.ReportMetric(ms(d50), "direct-list-p50-ms")
	// The headline ratio compares the same request (a Table of the pods) made through
	// /mcp and made directly; the typed list fetches whole objects and is slower.
	b.ReportMetric(float64(p50)/float64(t50), "p50-ratio")
	b.ReportMetric(float64(p50)/float64(d50), "p50-ratio-vs-list")
	b.ReportMetric(float64(rss)/(1<<20), "rss-MiB")
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	b.ReportMetric(float64(mem.HeapInuse)/(1<<20), "heap-MiB")
}

// drive makes calls calls from benchUsers goroutines (user i runs f(i)) and returns
// every call's latency.
func drive(calls int, f func(i int) error) ([]time.Duration, error) {
	var next atomic.Int64
	lat := make([]time.Duration, calls)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for u := range benchUsers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := int(next.Add(1)) - 1
				if n >= calls {
					return
				}
				t0 := time.Now()
				if err := f(u); err != nil {
					firstErr.CompareAndSwap(nil, err)
				}
				lat[n] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return nil, err
	}
	return lat, nil
}

func percentile(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// rssBytes is the process's resident set size.
func rssBytes() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// countingTransport counts the requests the endpoint makes to the API server.
type countingTransport struct {
	next http.RoundTripper
	n    *atomic.Int64
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// BenchmarkPerCall measures the endpoint's per-call overhead (issue 14 §8) against the
// same read made directly with client-go by the same user, in one run: a single pod
// get (resources_get against a typed Pods().Get) and the 500-pod list
// (resources_list against the server-side Table it asks for, decoded) one call at a
// time, then the list's throughput with 16 and with 200 users in parallel. Direct
// reads run half before and half after each MCP phase. Reported: the ratios, the API
// requests the endpoint made per call (TokenReviews included; counted on its
// transport) and the process RSS after the 200-user phase. Each phase makes b.N calls
// (at least 16): -benchtime 300x is a reasonable run.
func BenchmarkPerCall(b *testing.B) {
	f := setupBench(b)
	var apiRequests atomic.Int64
	cfg := rest.CopyConfig(f.operatorCfg)
	cfg.QPS, cfg.Burst = 100, 200 // the manager's defaults
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return countingTransport{rt, &apiRequests} })
	ids, err := identity.NewFactory(cfg, identity.Policy{})
	if err != nil {
		b.Fatal(err)
	}
	auditFile, err := os.Create(filepath.Join(b.TempDir(), "audit.log"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = auditFile.Close() })
	ts := newServer(b, func(c *kmcp.Config) {
		c.RESTConfig, c.Identities = cfg, ids
		c.Options.RateLimit = 0
		c.Audit = auditFile // a real file: the audit write is part of the call
	})
	sessions := make([]*mcp.ClientSession, benchUsers)
	direct := make([]kubernetes.Interface, benchUsers)
	for i := range benchUsers {
		sessions[i] = connect(b, ts.URL, benchToken(i), nil)
		dcfg := &rest.Config{Host: f.cluster.Admin.Host, BearerToken: benchToken(i), TLSClientConfig: rest.TLSClientConfig{CAData: f.cluster.Admin.CAData}, QPS: 100, Burst: 200}
		cs, err := kubernetes.NewForConfig(dcfg)
		if err != nil {
			b.Fatal(err)
		}
		direct[i] = cs
	}
	call := func(tool string, args map[string]any, want string) func(int) error {
		return func(i int) error {
			res, err := sessions[i].CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: args})
			if err != nil {
				return err
			}
			if res.IsError || !strings.Contains(resultText(res), want) {
				return fmt.Errorf("unexpected result: %.300s", resultText(res))
			}
			return nil
		}
	}
	mcpGet := call("resources_get", map[string]any{"resource": "pods", "namespace": benchNS, "name": "web-007"}, "web-007")
	mcpList := call("resources_list", map[string]any{"resource": "pods", "namespace": benchNS}, "web-000")
	directGet := func(i int) error {
		_, err := direct[i].CoreV1().Pods(benchNS).Get(context.Background(), "web-007", metav1.GetOptions{})
		return err
	}
	directTable := func(i int) error {
		raw, err := direct[i].CoreV1().RESTClient().Get().Namespace(benchNS).Resource("pods").
			SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").Param("includeObject", "None").Do(context.Background()).Raw()
		if err != nil {
			return err
		}
		var table metav1.Table
		if err := json.Unmarshal(raw, &table); err != nil || len(table.Rows) != benchPods {
			return fmt.Errorf("unexpected table (%w): %.200s", err, raw)
		}
		return nil
	}
	// Warm up every user's clients, caches and connections.
	for _, fn := range []func(int) error{mcpGet, directGet} {
		if _, _, err := driveConc(benchUsers, benchUsers, benchUsers, fn); err != nil {
			b.Fatal(err)
		}
	}
	calls := max(b.N, 16)
	type phase struct {
		mcpLat, directLat   []time.Duration
		mcpTime, directTime time.Duration
		requests            int64
	}
	// run makes calls calls through /mcp with conc users in parallel, between two
	// halves of the same number of direct reads.
	run := func(conc int, viaMCP, viaDirect func(int) error) phase {
		var p phase
		l1, t1, err := driveConc(conc, conc, calls/2, viaDirect)
		if err != nil {
			b.Fatal(err)
		}
		before := apiRequests.Load()
		b.StartTimer()
		p.mcpLat, p.mcpTime, err = driveConc(conc, conc, calls, viaMCP)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		p.requests = apiRequests.Load() - before
		l2, t2, err := driveConc(conc, conc, calls-calls/2, viaDirect)
		if err != nil {
			b.Fatal(err)
		}
		p.directLat, p.directTime = append(l1, l2...), t1+t2
		return p
	}
	b.StopTimer()
	b.ResetTimer()
	get1 := run(1, mcpGet, directGet)
	list1 := run(1, mcpList, directTable)
	list16 := run(16, mcpList, directTable)
	list200 := run(benchUsers, mcpList, directTable)
	rss := rssBytes()
	ratio := func(p phase) float64 {
		return float64(percentile(p.mcpLat, 50)) / float64(percentile(p.directLat, 50))
	}
	throughput := func(p phase) float64 { return p.directTime.Seconds() / p.mcpTime.Seconds() }
	b.ReportMetric(ms(percentile(get1.mcpLat, 50)), "get-c1-p50-ms")
	b.ReportMetric(ms(percentile(get1.directLat, 50)), "get-c1-direct-p50-ms")
	b.ReportMetric(ratio(get1), "get-c1-ratio")
	b.ReportMetric(ms(percentile(list1.mcpLat, 50)), "list-c1-p50-ms")
	b.ReportMetric(ms(percentile(list1.directLat, 50)), "list-c1-direct-p50-ms")
	b.ReportMetric(ratio(list1), "list-c1-ratio")
	b.ReportMetric(float64(calls)/list16.mcpTime.Seconds(), "list-c16-calls/s")
	b.ReportMetric(throughput(list16), "list-c16-throughput-ratio")
	b.ReportMetric(float64(calls)/list200.mcpTime.Seconds(), "list-200u-calls/s")
	b.ReportMetric(throughput(list200), "list-200u-throughput-ratio")
	all := get1.requests + list1.requests + list16.requests + list200.requests
	b.ReportMetric(float64(all)/float64(4*calls), "api-requests/call")
	b.ReportMetric(float64(rss)/(1<<20), "rss-MiB")
}

// driveConc makes calls calls from conc goroutines, goroutine g acting as user g%users,
// and returns every call's latency and the wall time.
func driveConc(conc, users, calls int, f func(i int) error) ([]time.Duration, time.Duration, error) {
	var next atomic.Int64
	lat := make([]time.Duration, calls)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	start := time.Now()
	for g := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := int(next.Add(1)) - 1
				if n >= calls {
					return
				}
				t0 := time.Now()
				if err := f(g % users); err != nil {
					firstErr.CompareAndSwap(nil, err)
				}
				lat[n] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err, _ := firstErr.Load().(error); err != nil {
		return nil, 0, err
	}
	return lat, elapsed, nil
}

package tools_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeask/kubeask/internal/tools"
)

// The benchmarks list benchPods pods in benchNamespace, which alice (group dev) may
// read: with alice's own client-go clientset (no impersonation, no tool), with the
// resources_list tool through the impersonating Env, and with the kubectl tool. The
// tool asks for a server-side Table, which is less to transfer and decode than the
// typed list, so a fourth variant, raw-table, makes the tool's request as alice
// herself: tool/raw-table is the cost of impersonation and of the tool's own work.
const (
	benchNamespace = "bench"
	benchPods      = 500
)

var (
	benchOnce sync.Once
	benchErr  error
	aliceRaw  kubernetes.Interface
)

// benchSetup creates the namespace, alice's binding and the pods once, with a few
// concurrent writers to keep it short.
func benchSetup(b *testing.B) {
	b.Helper()
	benchOnce.Do(func() { benchErr = createBenchPods(context.Background()) })
	if benchErr != nil {
		b.Fatal(benchErr)
	}
}

func createBenchPods(ctx context.Context) error {
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNamespace}},
		teamBinding(benchNamespace, "dev"),
	} {
		if err := admin.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %s: %w", o.GetName(), err)
		}
	}
	const writers = 8
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := w; i < benchPods; i += writers {
				pod := &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%03d", i), Namespace: benchNamespace, Labels: map[string]string{"app": "bench"}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "bench:1"}}},
				}
				if errs[w] = admin.Create(ctx, pod); errs[w] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("creating pods: %w", err)
	}
	cfg, err := cluster.UserConfig("alice", "dev")
	if err != nil {
		return err
	}
	aliceRaw, err = kubernetes.NewForConfig(cfg)
	return err
}

// listVariants are the three ways of listing the pods, each returning an error if the
// result is not the full list.
func listVariants(b *testing.B) (raw, rawTable, tool, kubectl func(context.Context) error) {
	b.Helper()
	benchSetup(b)
	env, err := tools.NewEnv(factory, alice, mapper, tools.OutputPolicy{})
	if err != nil {
		b.Fatal(err)
	}
	env.KubectlPath = kubectlPath(b)
	list, _ := registry.Get("resources_list")
	kc, _ := registry.Get("kubectl")
	listArgs := []byte(fmt.Sprintf(`{"resource":"pods","namespace":%q,"limit":%d}`, benchNamespace, benchPods))
	kubectlArgs := []byte(fmt.Sprintf(`{"args":["get","pods","-n",%q]}`, benchNamespace))

	raw = func(ctx context.Context) error {
		l, err := aliceRaw.CoreV1().Pods(benchNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if len(l.Items) != benchPods {
			return fmt.Errorf("raw list: %d pods", len(l.Items))
		}
		return nil
	}
	rawTable = func(ctx context.Context) error {
		body, err := aliceRaw.CoreV1().RESTClient().Get().AbsPath("/api/v1/namespaces/"+benchNamespace+"/pods").
			SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json").
			Param("includeObject", "None").Param("limit", strconv.Itoa(benchPods)).Do(ctx).Raw()
		if err != nil {
			return err
		}
		var t metav1.Table
		if err := json.Unmarshal(body, &t); err != nil {
			return err
		}
		if len(t.Rows) != benchPods {
			return fmt.Errorf("raw table: %d rows", len(t.Rows))
		}
		return nil
	}
	toolCall := func(t tools.Tool, args []byte, want string) func(context.Context) error {
		return func(ctx context.Context) error {
			res, err := t.Call(ctx, env, args)
			if err != nil {
				return err
			}
			if res.IsError || !strings.Contains(res.Text, want) {
				return fmt.Errorf("%s: %.300s", t.Name, res.Text)
			}
			return nil
		}
	}
	// The results are bounded to the output budget, so each checks for the first pod
	// (resources_list stops reading once its rows fill the budget).
	return raw, rawTable, toolCall(list, listArgs, "pods in namespace "+benchNamespace), toolCall(kc, kubectlArgs, "pod-000")
}

func BenchmarkListPods(b *testing.B) {
	raw, rawTable, tool, kubectl := listVariants(b)
	for _, v := range []struct {
		name string
		run  func(context.Context) error
	}{{"raw-client-go", raw}, {"raw-table", rawTable}, {"tool", tool}, {"kubectl-tool", kubectl}} {
		b.Run(v.name, func(b *testing.B) {
			for b.Loop() {
				if err := v.run(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkToolOverheadRatio measures the four variants interleaved, rounds times
// each per iteration, and reports the ratios of their medians: measured in one run,
// under the same load, so that machine noise affects all of them alike. It asserts
// nothing; the targets live in docs/benchmarks.md.
func BenchmarkToolOverheadRatio(b *testing.B) {
	const rounds = 30
	raw, rawTable, tool, kubectl := listVariants(b)
	variants := []func(context.Context) error{raw, rawTable, tool, kubectl}
	for _, v := range variants { // warm connections, discovery and caches
		if err := v(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
	var m [4]time.Duration // medians, in the order of variants
	for b.Loop() {
		var samples [4][]time.Duration
		for range rounds {
			for i, v := range variants {
				start := time.Now()
				if err := v(b.Context()); err != nil {
					b.Fatal(err)
				}
				samples[i] = append(samples[i], time.Since(start))
			}
		}
		for i := range samples {
			m[i] = median(samples[i])
		}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	ratio := func(a, b time.Duration) float64 { return float64(a) / float64(b) }
	b.ReportMetric(ms(m[0]), "raw-ms")
	b.ReportMetric(ms(m[1]), "raw-table-ms")
	b.ReportMetric(ms(m[2]), "tool-ms")
	b.ReportMetric(ms(m[3]), "kubectl-ms")
	b.ReportMetric(ratio(m[2], m[0]), "tool/raw-median")
	b.ReportMetric(ratio(m[2], m[1]), "tool/raw-table-median")
	b.ReportMetric(ratio(m[3], m[2]), "kubectl/typed-median")
	b.ReportMetric(ratio(m[3], m[0]), "kubectl/raw-median")
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

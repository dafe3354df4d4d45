package tools_test

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeask/kubeask/internal/tools"
)

// listNamespace holds listObjects ConfigMaps labelled app=many, which alice may read.
const (
	listNamespace = "many"
	listObjects   = 30
)

var (
	listOnce sync.Once
	listErr  error
)

// listFixture creates the namespace and its ConfigMaps once.
func listFixture(t *testing.T) {
	t.Helper()
	listOnce.Do(func() { listErr = createListObjects(t.Context()) })
	if listErr != nil {
		t.Fatal(listErr)
	}
}

func createListObjects(ctx context.Context) error {
	objs := []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: listNamespace}}, teamBinding(listNamespace, "dev")}
	for i := range listObjects {
		objs = append(objs, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%02d", i), Namespace: listNamespace,
			Labels: map[string]string{"app": "many"}}, Data: map[string]string{"n": strconv.Itoa(i)}})
	}
	for _, o := range objs {
		if err := admin.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %s: %w", o.GetName(), err)
		}
	}
	return nil
}

// listSpy records the query of each list request of configmaps; with ignoreLimit it
// strips the limit, as a server that does not honour it would answer.
type listSpy struct {
	base        http.RoundTripper
	ignoreLimit bool
	mu          sync.Mutex
	queries     []url.Values
}

func (s *listSpy) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/namespaces/"+listNamespace+"/configmaps") {
		s.mu.Lock()
		s.queries = append(s.queries, req.URL.Query())
		s.mu.Unlock()
		if s.ignoreLimit {
			req = req.Clone(req.Context())
			q := req.URL.Query()
			q.Del("limit")
			req.URL.RawQuery = q.Encode()
		}
	}
	return s.base.RoundTrip(req)
}

// listEnv is alice's Env over a spy.
func listEnv(t *testing.T, maxBytes int, ignoreLimit bool) (*tools.Env, *listSpy) {
	t.Helper()
	listFixture(t)
	cfg, httpClient, err := factory.ClientFor(alice)
	if err != nil {
		t.Fatal(err)
	}
	spy := &listSpy{base: httpClient.Transport, ignoreLimit: ignoreLimit}
	env, err := tools.NewEnvForClient(cfg, &http.Client{Transport: spy, Timeout: httpClient.Timeout}, mapper, tools.OutputPolicy{MaxBytes: maxBytes})
	if err != nil {
		t.Fatal(err)
	}
	return env, spy
}

// resources_list reads pages of at most the page size, never more rows than its
// (capped) limit, stops once the output budget is full, and says when more exist.
func TestResourcesListIsBounded(t *testing.T) {
	cases := []struct {
		name        string
		pageRows    int64
		pageBytes   int64
		maxBytes    int
		ignoreLimit bool
		args        string
		// limits are the limits of the requests made, in order.
		limits []string
		want   []string
		rows   int
	}{
		{name: "pages up to the limit", pageRows: 7, args: `"limit":20`,
			limits: []string{"7", "7", "6"}, rows: 20,
			want: []string{"20 configmaps in namespace many (not all of them", "[10 more configmaps not shown: the limit is 20 (at most 500)."}},
		{name: "pages to the end", pageRows: 7, args: `"labelSelector":"app=many"`,
			limits: []string{"7", "7", "7", "7", "7"}, rows: listObjects,
			want: []string{"30 configmaps in namespace many:\n"}},
		{name: "a selector hides the count", pageRows: 7, args: `"labelSelector":"app=many","limit":10`,
			limits: []string{"7", "3"}, rows: 10,
			want: []string{"[More configmaps not shown: the limit is 10 (at most 500)."}},
		{name: "a larger limit is lowered to the maximum", pageRows: 1000, args: `"labelSelector":"app=many","limit":100000`,
			limits: []string{strconv.Itoa(tools.MaxListLimit)}, rows: listObjects,
			want: []string{"30 configmaps in namespace many:\n", "[The limit 100000 is above the maximum of 500: at most 500 are listed.]"}},
		{name: "stops when the output budget is full", pageRows: 7, maxBytes: 600, args: `"labelSelector":"app=many"`,
			limits: []string{"7", "7", "7", "7"},
			want:   []string{"configmaps in namespace many (not all of them", "configmaps not shown: the output budget of 600 bytes is full."}},
		{name: "a server that ignores the limit", pageRows: 7, ignoreLimit: true, args: `"labelSelector":"app=many","limit":10`,
			limits: []string{"7"}, rows: 10,
			want: []string{"[20 more configmaps not shown: the limit is 10 (at most 500)."}},
		{name: "an answer too large is not read", pageRows: 7, pageBytes: 512, args: `"labelSelector":"app=many"`,
			limits: []string{"7"},
			want:   []string{"is larger than 512 bytes, and was not read; narrow the request"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tools.SetListPages(t, c.pageRows, cmp.Or(c.pageBytes, 8<<20))
			env, spy := listEnv(t, cmp.Or(c.maxBytes, 1<<20), c.ignoreLimit)
			res := call(t, env, "resources_list", `{"resource":"configmaps","namespace":"`+listNamespace+`",`+c.args+`}`)
			var limits []string
			for _, q := range spy.queries {
				limits = append(limits, q.Get("limit"))
			}
			if fmt.Sprint(limits) != fmt.Sprint(c.limits) {
				t.Errorf("request limits %v, want %v", limits, c.limits)
			}
			for i, q := range spy.queries {
				if (i == 0) != (q.Get("continue") == "") {
					t.Errorf("request %d: continue %q", i, q.Get("continue"))
				}
			}
			for _, w := range c.want {
				if !strings.Contains(res.Text, w) {
					t.Errorf("result lacks %q:\n%s", w, res.Text)
				}
			}
			if c.rows > 0 {
				if got := strings.Count(res.Text, "\ncm-"); got != c.rows {
					t.Errorf("%d rows, want %d:\n%s", got, c.rows, res.Text)
				}
			}
			if c.maxBytes > 0 && (res.Truncated || len(res.Text) > c.maxBytes) {
				t.Errorf("%d bytes (truncated %v) for a budget of %d: the notes must fit:\n%s", len(res.Text), res.Truncated, c.maxBytes, res.Text)
			}
			t.Logf("%s", res.Text)
		})
	}
}

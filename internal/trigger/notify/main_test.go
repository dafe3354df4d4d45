package notify_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/testcluster"
	"github.com/kubeask/kubeask/internal/trigger/notify"
)

// The control plane every test reads its Secrets from, and a cluster-admin client to
// set the Secrets up. Tests that are not about who may read a Secret read them as the
// admin; secrets_test.go reads them as real users.
var (
	cluster *testcluster.Cluster
	admin   client.Client
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	cluster, err = testcluster.Start(testcluster.Options{SkipCRDs: true})
	if err != nil {
		panic(err)
	}
	defer func() { _ = cluster.Stop() }()
	if admin, err = cluster.Client(cluster.Admin); err != nil {
		panic(err)
	}
	return m.Run()
}

func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "notify-"}}
	if err := admin.Create(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// target stores url (and token, when not empty) in a new Secret of ns and returns a
// target pointing at them.
func target(t *testing.T, ns, url, token string) *agentsv1alpha1.WebhookTarget {
	t.Helper()
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "hook-", Namespace: ns},
		// A trailing newline, as `kubectl create secret --from-file` leaves it.
		Data: map[string][]byte{"url": []byte(url + "\n")},
	}
	if token != "" {
		s.Data["token"] = []byte(token)
	}
	if err := admin.Create(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	tg := &agentsv1alpha1.WebhookTarget{URLSecretRef: agentsv1alpha1.SecretKeySelector{Name: s.Name, Key: "url"}}
	if token != "" {
		tg.TokenSecretRef = &agentsv1alpha1.SecretKeySelector{Name: s.Name, Key: "token"}
	}
	return tg
}

// request is what a receiver got.
type request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// receiver is an HTTP server that records requests and answers the n-th (from 1)
// with respond.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []request
}

func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.requests = append(rc.requests, request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		n := len(rc.requests)
		rc.mu.Unlock()
		respond(n, w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) got() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.requests...)
}

func ok(int, http.ResponseWriter, *http.Request) {}

// fakeClock is a Notifier's clock and sleep: sleeping moves the clock at once and
// records the wait.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

func (c *fakeClock) notifier() *notify.Notifier {
	return &notify.Notifier{Sleep: c.Sleep, Now: c.Now}
}

func sampleMessage() notify.Message {
	return notify.Message{
		Trigger:        "crashloops",
		Namespace:      "shop",
		Query:          "crashloops-29871234",
		Phase:          agentsv1alpha1.QuerySucceeded,
		Summary:        "checkout-1 runs out of memory at startup",
		Answer:         "## Cause\nThe container is **OOMKilled**: its limit is 64Mi.",
		Source:         "event BackOff on pod/checkout-1",
		InvolvedObject: "pod/checkout-1",
		Requester:      "alice",
		Time:           time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600)),
	}
}

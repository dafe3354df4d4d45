package manager_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/agent"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
	"github.com/kubeask/kubeask/internal/manager"
	"github.com/kubeask/kubeask/internal/testcluster"
)

// --allowed-mode is repeatable, defaults to every mode and refuses unknown ones.
func TestAllowedModeFlag(t *testing.T) {
	all := []agentsv1alpha1.Mode{agentsv1alpha1.ModeReadOnly, agentsv1alpha1.ModePropose, agentsv1alpha1.ModeAuto}
	cases := []struct {
		args    []string
		want    []agentsv1alpha1.Mode
		invalid string
	}{
		{nil, all, ""},
		{[]string{"--allowed-mode=ReadOnly"}, []agentsv1alpha1.Mode{agentsv1alpha1.ModeReadOnly}, ""},
		{[]string{"--allowed-mode=ReadOnly", "--allowed-mode=Propose"}, []agentsv1alpha1.Mode{agentsv1alpha1.ModeReadOnly, agentsv1alpha1.ModePropose}, ""},
		{[]string{"--allowed-mode=Everything"}, nil, `--allowed-mode "Everything" is not a mode`},
		{[]string{"--allowed-mode=readonly"}, nil, `--allowed-mode "readonly" is not a mode`},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			opts := manager.NewOptions()
			fs := flag.NewFlagSet("kubeask-manager", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			opts.AddFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			opts.Complete()
			err := opts.Validate()
			if tc.invalid != "" {
				if err == nil || !strings.Contains(err.Error(), tc.invalid) {
					t.Errorf("Validate() = %v, want an error saying %s", err, tc.invalid)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(opts.AllowedModes, tc.want) {
				t.Errorf("allowed modes %v, want %v", opts.AllowedModes, tc.want)
			}
		})
	}
}

// A manager run with --allowed-mode=ReadOnly fails a query that asks for Propose, with
// a condition that names the setting, before the model is called, although the
// profile allows Propose and RBAC would let the manager make the change; a ReadOnly
// query runs.
func TestAllowedModesAreEnforced(t *testing.T) {
	ctrl.SetLogger(logr.Discard())
	cluster, err := testcluster.Start(testcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Stop() })
	ctx := t.Context()
	admin, err := cluster.Client(cluster.Admin)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "team-member"}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"*"}, Verbs: []string{"*"}},
			{APIGroups: []string{"agents.kubeask.dev"}, Resources: []string{"agentqueries", "agentsessions"}, Verbs: []string{"*"}},
		}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "team-member", Namespace: "team-a"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "team-member"},
			Subjects: []rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "dev"}}},
	} {
		if err := admin.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if err := cluster.InstallAdmissionPolicies(ctx, "team-a"); err != nil {
		t.Fatal(err)
	}
	aliceCfg, err := cluster.UserConfig("alice", "dev")
	if err != nil {
		t.Fatal(err)
	}
	alice, err := cluster.Client(aliceCfg)
	if err != nil {
		t.Fatal(err)
	}
	operatorCfg, err := cluster.OperatorConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	model := llmtest.NewServer(func(llmtest.Request) llmtest.Reply { return llmtest.Reply{Text: "all good"} })
	t.Cleanup(model.Close)
	catalogFile := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(catalogFile, []byte(fmt.Sprintf(`
defaultModel: fake
models:
- name: fake
  provider: openai
  model: fake-model
  baseURL: %s
  timeout: 20s
profiles:
- name: operate
  modes: [ReadOnly, Propose, Auto]
`, model.BaseURL())), 0o600); err != nil {
		t.Fatal(err)
	}

	opts := manager.NewOptions()
	opts.ConfigPath = catalogFile
	opts.MetricsAddr, opts.ProbeAddr = "0", "0"
	opts.Namespace = "kubeask-system"
	opts.AgentWorkers = 2
	opts.WatchNamespaces = []string{"team-a"}
	opts.SeveralPerProcess = true
	opts.GracefulShutdown = 5 * time.Second
	opts.AllowedModes = []agentsv1alpha1.Mode{agentsv1alpha1.ModeReadOnly}
	opts.Complete()
	if err := opts.Validate(); err != nil {
		t.Fatal(err)
	}
	// The manager's log is kept and shown when the test fails.
	var mu sync.Mutex
	var logged []string
	logger := funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		logged = append(logged, prefix+" "+args)
	}, funcr.Options{})
	runCtx, cancel := context.WithCancel(ctrl.LoggerInto(ctx, logger))
	done := make(chan error, 1)
	go func() { done <- opts.Run(runCtx, operatorCfg) }()
	defer func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("manager: %v", err)
		}
		if t.Failed() {
			mu.Lock()
			defer mu.Unlock()
			t.Logf("manager log:\n%s", strings.Join(logged, "\n"))
		}
	}()

	ask := func(mode *agentsv1alpha1.Mode) *agentsv1alpha1.AgentQuery {
		t.Helper()
		q := &agentsv1alpha1.AgentQuery{ObjectMeta: metav1.ObjectMeta{GenerateName: "q-", Namespace: "team-a"},
			Spec: agentsv1alpha1.AgentQuerySpec{Prompt: "Scale checkout to 3.", Profile: "operate", Mode: mode}}
		if err := alice.Create(ctx, q); err != nil {
			t.Fatal(err)
		}
		return waitFinished(t, admin, q)
	}
	refused := ask(new(agentsv1alpha1.ModePropose))
	c := meta.FindStatusCondition(refused.Status.Conditions, agent.ConditionAccepted)
	if refused.Status.Phase != agentsv1alpha1.QueryFailed || c == nil || c.Status != metav1.ConditionFalse ||
		c.Reason != agent.ReasonModeNotAllowed || !strings.Contains(c.Message, "--allowed-mode") || !strings.Contains(c.Message, "Propose") {
		t.Errorf("a Propose query on a ReadOnly installation: phase %s, condition %+v", refused.Status.Phase, c)
	}
	if model.Calls() != 0 {
		t.Errorf("the model was called %d times for a refused query", model.Calls())
	}
	if ran := ask(nil); ran.Status.Phase != agentsv1alpha1.QuerySucceeded || ran.Status.Answer != "all good" {
		t.Errorf("a ReadOnly query: phase %s, answer %q, conditions %+v", ran.Status.Phase, ran.Status.Answer, ran.Status.Conditions)
	}
}

// waitFinished polls q until it succeeds or fails. The bound is generous: the manager
// starts with the test and shares the machine with other tests' control planes.
func waitFinished(t *testing.T, c client.Client, q *agentsv1alpha1.AgentQuery) *agentsv1alpha1.AgentQuery {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		got := &agentsv1alpha1.AgentQuery{}
		if err := c.Get(t.Context(), client.ObjectKeyFromObject(q), got); err != nil {
			t.Fatal(err)
		}
		if got.Status.Phase.Finished() {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("query %s stayed %q: %+v", q.Name, got.Status.Phase, got.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

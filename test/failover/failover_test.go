package failover_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/agent"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
)

// replica is one kubeask-manager process.
type replica struct {
	name   string
	cmd    *exec.Cmd
	log    *bytes.Buffer
	exited chan struct{}
	err    error
}

// startReplica starts a manager that elects its leader on the Lease lease; env is added
// to its environment. Leases are short so that a standby takes over within seconds.
func startReplica(t *testing.T, name, lease string, env ...string) *replica {
	t.Helper()
	r := &replica{name: name, log: &bytes.Buffer{}, exited: make(chan struct{})}
	r.cmd = exec.Command(managerBin,
		"--kubeconfig="+kubeconfig, "--config="+catalog, "--namespace=kubeask-system",
		"--watch-namespace="+namespace, "--leader-elect", "--leader-election-id="+lease,
		"--leader-elect-lease-duration=4s", "--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=500ms",
		"--metrics-bind-address=0", "--health-probe-bind-address=0", "--mcp-bind-address=",
		"--triggers=false", "--graceful-shutdown-timeout=20s")
	r.cmd.Env = append(os.Environ(), env...)
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		r.err = r.cmd.Wait()
		close(r.exited)
	}()
	t.Cleanup(func() {
		_ = r.cmd.Process.Signal(syscall.SIGCONT)
		_ = r.cmd.Process.Kill()
		<-r.exited
		if t.Failed() {
			t.Logf("log of %s:\n%s", r.name, tail(r.log.String(), 40))
		}
	})
	return r
}

func tail(s string, lines int) string {
	all := strings.Split(s, "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

func (r *replica) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s to %s: %v", sig, r.name, err)
	}
}

// stopped reports whether the process is stopped by a signal (state T in /proc).
func (r *replica) stopped() bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", r.cmd.Process.Pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: the state follows the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	return i > 0 && i+2 < len(stat) && stat[i+2] == 'T'
}

func (r *replica) waitExit(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case <-r.exited:
		return r.err
	case <-time.After(within):
		t.Fatalf("%s did not exit within %s", r.name, within)
		return nil
	}
}

func eventually(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitLeader waits until a replica holds lease.
func waitLeader(t *testing.T, lease string) {
	t.Helper()
	eventually(t, 30*time.Second, "a replica holds lease "+lease, func() bool {
		l := &coordinationv1.Lease{}
		err := admin.Get(t.Context(), client.ObjectKey{Namespace: "kubeask-system", Name: lease}, l)
		return err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != ""
	})
}

func ask(t *testing.T, prompt string, mode agentsv1alpha1.Mode) *agentsv1alpha1.AgentQuery {
	t.Helper()
	q := &agentsv1alpha1.AgentQuery{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "q-", Namespace: namespace},
		Spec:       agentsv1alpha1.AgentQuerySpec{Prompt: prompt, Profile: "operate", Mode: &mode},
	}
	eventually(t, 30*time.Second, "alice may create queries", func() bool {
		err := alice.Create(t.Context(), q)
		return err == nil
	})
	return q
}

func get(t *testing.T, q *agentsv1alpha1.AgentQuery) *agentsv1alpha1.AgentQuery {
	t.Helper()
	got := &agentsv1alpha1.AgentQuery{}
	if err := admin.Get(t.Context(), client.ObjectKeyFromObject(q), got); err != nil {
		t.Fatal(err)
	}
	return got
}

func waitFinished(t *testing.T, q *agentsv1alpha1.AgentQuery) *agentsv1alpha1.AgentQuery {
	t.Helper()
	var got *agentsv1alpha1.AgentQuery
	eventually(t, 60*time.Second, "query "+q.Name+" finishes", func() bool {
		got = get(t, q)
		return got.Status.Phase.Finished()
	})
	return got
}

// appendEnv scripts a model that appends an env var to deployment name (each execution
// adds one) and then answers with the tool's result.
func appendEnv(name string) func(llmtest.Request) llmtest.Reply {
	args := `{"resource":"deployment","name":"` + name + `","namespace":"` + namespace +
		`","patchType":"json","patch":"[{\"op\":\"add\",\"path\":\"/spec/template/spec/containers/0/env\",\"value\":[]},{\"op\":\"add\",\"path\":\"/spec/template/spec/containers/0/env/-\",\"value\":{\"name\":\"ADDED\",\"value\":\"x\"}}]"}`
	return func(req llmtest.Request) llmtest.Reply {
		if res := req.ToolResults(); len(res) > 0 {
			return llmtest.Reply{Text: "RESULT: " + res[0].Text()}
		}
		return llmtest.Reply{Calls: []llmtest.Call{{Name: "resources_patch", Args: args}}}
	}
}

func reason(q *agentsv1alpha1.AgentQuery) string {
	if c := meta.FindStatusCondition(q.Status.Conditions, agent.ConditionRunning); c != nil {
		return c.Reason
	}
	return ""
}

// TestAPausedLeaderNeverRunsAChangeTwice pauses the leader with SIGSTOP at each moment
// of a change, lets the standby take the query over, then resumes the paused leader.
func TestAPausedLeaderNeverRunsAChangeTwice(t *testing.T) {
	for _, moment := range []string{"before-execute", "after-execute"} {
		t.Run(moment, func(t *testing.T) {
			name := "paused-" + moment
			deployment(t, name)
			prompt := "Add an env var to " + name + "."
			scripts.Set(prompt, appendEnv(name))
			lease := "failover-" + moment
			leader := startReplica(t, "leader", lease, "KUBEASK_FAULT="+moment+":STOP")
			waitLeader(t, lease)
			startReplica(t, "standby", lease)

			q := ask(t, prompt, agentsv1alpha1.ModeAuto)
			eventually(t, 30*time.Second, "the leader stops itself "+moment, leader.stopped)
			// The standby takes the Lease over and finds the change recorded Running.
			got := waitFinished(t, q)
			if got.Status.Phase != agentsv1alpha1.QueryFailed || reason(got) != agent.ReasonMutationOutcomeUnknown {
				t.Fatalf("the standby left the query %s/%s: steps %+v, runID %s", got.Status.Phase, reason(got), got.Status.Steps, got.Status.RunID)
			}
			leader.signal(t, syscall.SIGCONT)
			// The resumed leader finds it lost its Lease and exits; whatever its run
			// tried meanwhile, the record stays the standby's.
			_ = leader.waitExit(t, 30*time.Second)
			got = get(t, q)
			if got.Status.Phase != agentsv1alpha1.QueryFailed || reason(got) != agent.ReasonMutationOutcomeUnknown ||
				got.Status.Steps[0].State != agentsv1alpha1.StepUnknown {
				t.Errorf("after the paused leader resumed: %s/%s, steps %+v", got.Status.Phase, reason(got), got.Status.Steps)
			}
			n := executions(t, name)
			if n > 1 || (moment == "after-execute" && n != 1) {
				t.Errorf("the change ran %d times", n)
			}
		})
	}
	t.Run("waiting for the model", func(t *testing.T) {
		name := "paused-model"
		deployment(t, name)
		prompt := "Add an env var to " + name + "."
		inner := appendEnv(name)
		called, release := make(chan struct{}), make(chan struct{})
		var calls atomic.Int32
		scripts.Set(prompt, func(req llmtest.Request) llmtest.Reply {
			if calls.Add(1) == 1 {
				close(called)
				<-release // answered only once the leader is paused: it reads it on SIGCONT
			}
			return inner(req)
		})
		lease := "failover-model"
		leader := startReplica(t, "leader", lease)
		waitLeader(t, lease)
		startReplica(t, "standby", lease)

		q := ask(t, prompt, agentsv1alpha1.ModeAuto)
		<-called
		leader.signal(t, syscall.SIGSTOP)
		close(release)
		got := waitFinished(t, q)
		if got.Status.Phase != agentsv1alpha1.QuerySucceeded {
			t.Fatalf("the standby left the query %s/%s", got.Status.Phase, reason(got))
		}
		leader.signal(t, syscall.SIGCONT)
		_ = leader.waitExit(t, 30*time.Second)
		got = get(t, q)
		if got.Status.Phase != agentsv1alpha1.QuerySucceeded || len(got.Status.Steps) != 1 {
			t.Errorf("after the paused leader resumed: %s, steps %+v", got.Status.Phase, got.Status.Steps)
		}
		if n := executions(t, name); n != 1 {
			t.Errorf("the change ran %d times, want once", n)
		}
	})
}

// TestARollingUpdateFinishesTheQueryInFlight: SIGTERM to the leader while the model
// answers (every rolling update of the chart) leaves the query to the next leader,
// which answers it; the stopped replica exits cleanly and nothing fails.
func TestARollingUpdateFinishesTheQueryInFlight(t *testing.T) {
	prompt := "Answer across a rolling update."
	called := make(chan struct{})
	var calls atomic.Int32
	scripts.Set(prompt, func(req llmtest.Request) llmtest.Reply {
		if calls.Add(1) == 1 {
			close(called)
			<-req.Context.Done() // the old leader gives up this call when it stops
			return llmtest.Reply{Status: 503, Body: "gone"}
		}
		return llmtest.Reply{Text: "answered by the new leader"}
	})
	lease := "failover-sigterm"
	old := startReplica(t, "old", lease)
	waitLeader(t, lease)
	startReplica(t, "new", lease)

	q := ask(t, prompt, agentsv1alpha1.ModeReadOnly)
	<-called
	start := time.Now()
	old.signal(t, syscall.SIGTERM)
	if err := old.waitExit(t, 25*time.Second); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Errorf("the old leader exited with %v after SIGTERM, want 0", err)
		}
	}
	got := waitFinished(t, q)
	if got.Status.Phase != agentsv1alpha1.QuerySucceeded || got.Status.Answer != "answered by the new leader" {
		t.Fatalf("after the rolling update: %s/%s %q", got.Status.Phase, reason(got), got.Status.Answer)
	}
	t.Logf("the new leader answered %s after SIGTERM", time.Since(start).Round(100*time.Millisecond))
}

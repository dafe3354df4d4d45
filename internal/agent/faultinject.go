//go:build faultinject

package agent

import (
	"context"
	"os"
	osignal "os/signal"
	"strings"
	"sync"
	"syscall"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// InjectFaults is built only with the faultinject tag, into the manager that the
// failover tests run as real processes (test/failover); the released binary has the
// no-op. KUBEASK_FAULT="<moment>:<signal>" makes the process send itself the signal
// the first time a run reaches the moment with a step that changes the cluster:
// moment before-execute (the step is recorded Running, the tool has not run) or
// after-execute (the tool returned, its result is not recorded); signal STOP (a paused
// leader) or KILL.
func InjectFaults(a *Agent) {
	moment, sig, ok := strings.Cut(os.Getenv("KUBEASK_FAULT"), ":")
	if !ok {
		return
	}
	signal := map[string]syscall.Signal{"STOP": syscall.SIGSTOP, "KILL": syscall.SIGKILL}[sig]
	if signal == 0 {
		return
	}
	var once sync.Once
	hook := func(_ context.Context, step agentsv1alpha1.Step) {
		if step.ReadOnly {
			return
		}
		once.Do(func() {
			// kill(2) to itself does not stop this goroutine at once: another thread may
			// take the signal and stop the process a little later. Block until SIGCONT,
			// so that nothing of the run goes on before the pause.
			cont := make(chan os.Signal, 1)
			osignal.Notify(cont, syscall.SIGCONT)
			defer osignal.Stop(cont)
			_ = syscall.Kill(os.Getpid(), signal)
			<-cont
		})
	}
	switch moment {
	case "before-execute":
		a.beforeExecute = hook
	case "after-execute":
		a.afterExecute = hook
	}
}

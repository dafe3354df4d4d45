package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// supervisor starts the node's and the control plane's processes, each in its own
// process group, and stops them in reverse order. The driver's PID namespace is the
// backstop: whatever survives a stop dies with the namespace when the driver exits.
type supervisor struct {
	logDir string
	grace  time.Duration

	mu    sync.Mutex
	procs []*process
}

type process struct {
	name, logPath string
	cmd           *exec.Cmd
	done          chan struct{}
	err           error // valid once done is closed
	stopped       atomic.Bool
}

func newSupervisor(logDir string, grace time.Duration) *supervisor {
	return &supervisor{logDir: logDir, grace: grace}
}

// start runs bin with args and env (added to ours), output to <logDir>/<name>.log.
func (s *supervisor) start(name, bin string, args, env []string) (*process, error) {
	logPath := s.logDir + "/" + name + ".log"
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "==== %s %s\n", bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = f.Close()
		close(p.done)
	}()
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	return p, nil
}

// died returns an error naming the first process that exited, with the end of its log:
// a dead component explains a failed wait better than the wait does.
func (s *supervisor) died() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.procs {
		if p.stopped.Load() {
			continue // stopped on purpose
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%w); end of %s:\n%s", p.name, p.err, p.logPath, tail(p.logPath, 15))
		default:
		}
	}
	return nil
}

// stopAll stops the processes in reverse start order: the kubelet before containerd,
// the API server before etcd.
func (s *supervisor) stopAll() {
	s.mu.Lock()
	procs := append([]*process(nil), s.procs...)
	s.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop(s.grace)
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after grace.
func (p *process) stop(grace time.Duration) {
	p.stopped.Store(true)
	pgid := -p.cmd.Process.Pid
	select {
	case <-p.done:
		// The leader is gone, but a child may still hold the group.
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		return
	default:
	}
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		logf("%s did not stop within %s; killing it", p.name, grace)
	}
	_ = syscall.Kill(pgid, syscall.SIGKILL)
	<-p.done
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// run runs a short command to completion and returns its combined output.
func run(bin string, args ...string) (string, error) {
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return string(out), fmt.Errorf("%s %s: %w: %s", bin, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return string(out), fmt.Errorf("%s %s: %w", bin, strings.Join(args, " "), err)
	}
	return string(out), nil
}

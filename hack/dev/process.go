package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// process is one child program of the environment. Each runs in its own process group,
// so a stop signal reaches anything it spawned and the terminal's Ctrl-C reaches only
// us: we decide the order in which things stop.
type process struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	log     *os.File
	done    chan struct{} // closed once the process has exited and been reaped
	waitErr error         // valid after done is closed
}

// startProcess starts bin with args, its stdout and stderr appended to logPath.
func startProcess(name, bin string, args []string, logPath string) (*process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s log: %w", name, err)
	}
	fmt.Fprintf(f, "\n==== %s: %s %s\n", time.Now().Format(time.RFC3339), bin, strings.Join(args, " "))
	// Not exec.CommandContext: cancellation must go through stop, which signals the whole
	// group and escalates, instead of killing only the leader at once.
	cmd := exec.Command(bin, args...) //nolint:gosec // G702: a control-plane binary make built, with arguments this tool composed
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{Name: name, LogPath: logPath, cmd: cmd, log: f, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		_ = f.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id, which is also its process-group id.
func (p *process) Pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, waits up to grace, then sends SIGKILL. It
// returns once the leader is reaped; the final SIGKILL to the group also takes any
// descendant that ignored SIGTERM or outlived the leader.
func (p *process) stop(grace time.Duration) {
	if !p.exited() {
		_ = syscall.Kill(-p.Pid(), syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
			<-p.done
		}
	}
	// ESRCH once the group is empty, which is the normal case.
	_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
}

// exitedError reports a process that exited while it should have been running.
type exitedError struct{ msg string }

func (e *exitedError) Error() string { return e.msg }

// exitError describes how the process ended, with the tail of its log: the reason a
// process dies early is almost always in its last lines.
func (p *process) exitError() error {
	status := "exited"
	if p.waitErr != nil {
		status = p.waitErr.Error()
	}
	tail, err := logTail(p.LogPath, 30)
	if err != nil {
		tail = fmt.Sprintf("(reading the log: %v)", err)
	}
	return &exitedError{msg: fmt.Sprintf("%s died (%s); full log: %s\n---- last lines of %s ----\n%s\n----", p.Name, status, p.LogPath, p.Name, tail)}
}

// logTail returns the last n lines of the file at path, reading at most 64 KiB.
func logTail(path string, n int) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("opening %s: %w", path, err)
	}
	defer func() { _ = f.Close() }()
	const maxRead = 64 << 10
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("stat %s: %w", path, err)
	}
	off := max(fi.Size()-maxRead, 0)
	buf := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	lines := bytes.Split(bytes.TrimRight(buf, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n"))), nil
}

// supervisor owns the running processes. Its context is cancelled, with the process's
// exitError as cause, as soon as any process exits on its own, so every wait in
// start-up and the main loop notices a dead child at once.
type supervisor struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	procs  []*process
	// stopping is closed when shutdown begins; exits after that are expected.
	stopping chan struct{}
	grace    time.Duration
	out      io.Writer
}

func newSupervisor(parent context.Context, grace time.Duration, out io.Writer) *supervisor {
	ctx, cancel := context.WithCancelCause(parent)
	return &supervisor{ctx: ctx, cancel: cancel, stopping: make(chan struct{}), grace: grace, out: out}
}

// start starts a process and watches it.
func (s *supervisor) start(name, bin string, args []string, logPath string) (*process, error) {
	p, err := startProcess(name, bin, args, logPath)
	if err != nil {
		return nil, err
	}
	s.procs = append(s.procs, p)
	fmt.Fprintf(s.out, "  %-24s pid %-7d log %s\n", name, p.Pid(), logPath)
	go func() {
		select {
		case <-p.done:
			select {
			case <-s.stopping: // an exit caused by our own shutdown
			default:
				s.cancel(p.exitError())
			}
		case <-s.stopping:
		}
	}()
	return p, nil
}

// died returns why a process exited on its own, or nil if none did.
func (s *supervisor) died() error {
	var e *exitedError
	if errors.As(context.Cause(s.ctx), &e) {
		return e
	}
	return nil
}

// stopAll stops the processes in reverse start order: the operator before the
// apiserver it talks to, the apiserver before etcd, so nothing logs a storm of
// connection errors on the way down.
func (s *supervisor) stopAll() {
	select {
	case <-s.stopping:
		return
	default:
		close(s.stopping)
	}
	for i := len(s.procs) - 1; i >= 0; i-- {
		p := s.procs[i]
		fmt.Fprintf(s.out, "stopping %s (pid %d)\n", p.Name, p.Pid())
		p.stop(s.grace)
	}
}

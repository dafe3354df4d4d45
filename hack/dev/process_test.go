package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary act as a child process for the supervisor tests, so
// they need neither a shell nor the control plane.
const helperEnv = "KUBEASK_DEV_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "die":
		_, _ = io.WriteString(os.Stderr, "line one\nboom: cannot bind 127.0.0.1:1\n")
		os.Exit(3)
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
		_, _ = io.WriteString(os.Stdout, "ignoring SIGTERM\n")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
}

func startHelper(t *testing.T, sup *supervisor, mode string) *process {
	t.Helper()
	t.Setenv(helperEnv, mode)
	p, err := sup.start(mode, os.Args[0], nil, filepath.Join(t.TempDir(), mode+".log"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSupervisorReportsEarlyDeathWithLogTail(t *testing.T) {
	sup := newSupervisor(t.Context(), time.Second, io.Discard)
	t.Cleanup(sup.stopAll)
	startHelper(t, sup, "die")
	select {
	case <-sup.ctx.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the supervisor did not notice the process exit")
	}
	err := sup.died()
	if err == nil {
		t.Fatalf("died() = nil after a child exited; cause %v", context.Cause(sup.ctx))
	}
	for _, want := range []string{"die died", "exit status 3", "boom: cannot bind 127.0.0.1:1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("died() = %q, want it to contain %q", err, want)
		}
	}
}

func TestSupervisorStopEscalatesToSIGKILLAndIsNotADeath(t *testing.T) {
	sup := newSupervisor(t.Context(), 300*time.Millisecond, io.Discard)
	p := startHelper(t, sup, "ignore-term")
	// Wait until the helper has installed its SIGTERM handler, or stop would simply kill it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(p.LogPath)
		if strings.Contains(string(b), "ignoring SIGTERM") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("helper did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	began := time.Now()
	sup.stopAll()
	if !p.exited() {
		t.Fatal("stopAll returned with the process still running")
	}
	if took := time.Since(began); took < 300*time.Millisecond {
		t.Errorf("stop took %s: the process ignoring SIGTERM should have had the whole grace period", took)
	}
	if err := syscall.Kill(-p.Pid(), 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process group %d still exists after stop (kill 0: %v)", p.Pid(), err)
	}
	if err := sup.died(); err != nil {
		t.Errorf("died() = %v after a deliberate stop, want nil", err)
	}
}

func TestLogTail(t *testing.T) {
	tests := []struct {
		name, content string
		n             int
		want          string
	}{
		{"fewer lines than asked", "a\nb\n", 5, "a\nb"},
		{"last n lines", "a\nb\nc\nd\n", 2, "c\nd"},
		{"no trailing newline", "a\nb\nc", 2, "b\nc"},
		{"empty", "", 3, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := logTail(path, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("logTail = %q, want %q", got, tt.want)
			}
		})
	}
}

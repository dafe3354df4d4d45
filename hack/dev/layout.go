package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// layout names every file and directory under the state dir. The user-facing files
// (kubeconfigs, the sample query) sit at the top; the rest is in subdirectories.
type layout struct{ root string }

func (l layout) path(elem ...string) string {
	return filepath.Join(append([]string{l.root}, elem...)...)
}
func (l layout) etcdData() string       { return l.path("etcd") }
func (l layout) pki() string            { return l.path("pki") }
func (l layout) logs() string           { return l.path("logs") }
func (l layout) log(name string) string { return l.path("logs", name+".log") }
func (l layout) run(name string) string { return l.path("run", name) }

// auditLog is the API server's audit log; like the other logs it starts empty on every
// start, and the API server rotates it (auditLogFlags).
func (l layout) auditLog() string    { return l.path("logs", "audit.log") }
func (l layout) auditPolicy() string { return l.run("audit-policy.yaml") }
func (l layout) kubeconfig(user string) string {
	return l.path(user + ".kubeconfig")
}

// prepareRoot creates the state dir, before it is locked.
func (l layout) prepareRoot() error {
	if err := os.MkdirAll(l.root, 0o700); err != nil {
		return fmt.Errorf("creating state dir: %w", err)
	}
	// The state dir holds keys and tokens; keep it out of git wherever it is.
	if err := os.WriteFile(l.path(".gitignore"), []byte("# Created by hack/dev: everything here is generated.\n*\n"), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", l.path(".gitignore"), err)
	}
	return nil
}

// prepare clears what must not survive a restart, once the state dir is locked: the
// logs, run files and key material always, the etcd data unless keepState.
// Kubeconfigs are regenerated on every start and simply overwritten.
func (l layout) prepare(keepState bool) error {
	wipe := []string{l.logs(), l.path("run"), l.pki()}
	if !keepState {
		wipe = append(wipe, l.etcdData())
	}
	for _, d := range wipe {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("clearing %s: %w", d, err)
		}
	}
	for _, d := range []string{l.logs(), l.run("controller-manager"), l.run("scheduler"), l.run("apiserver")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", d, err)
		}
	}
	return nil
}

// lock takes an exclusive lock on the state dir so two environments cannot share (and
// wipe) the same etcd data. The kernel drops the lock when we exit, however we exit.
func (l layout) lock() (release func(), err error) {
	path := l.path("lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another dev environment (pid %s) is using %s; stop it or pass another --state-dir", strings.TrimSpace(string(holder)), l.root)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { _ = f.Close() }, nil
}

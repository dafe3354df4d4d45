package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/kubeask/kubeask/internal/manager"
)

// auditEvent is the part of an audit.k8s.io/v1 Event the tests read.
type auditEvent struct {
	Level            string          `json:"level"`
	Verb             string          `json:"verb"`
	RequestURI       string          `json:"requestURI"`
	User             auditUser       `json:"user"`
	ImpersonatedUser *auditUser      `json:"impersonatedUser"`
	ObjectRef        *auditObjectRef `json:"objectRef"`
	ResponseStatus   *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	RequestObject json.RawMessage `json:"requestObject"`
}

type auditUser struct {
	Username string   `json:"username"`
	UID      string   `json:"uid"`
	Groups   []string `json:"groups"`
}

type auditObjectRef struct {
	Resource    string `json:"resource"`
	Namespace   string `json:"namespace"`
	Name        string `json:"name"`
	APIGroup    string `json:"apiGroup"`
	Subresource string `json:"subresource"`
}

// readAuditLog decodes every event of the audit log at path.
func readAuditLog(path string) ([]auditEvent, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var events []auditEvent
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20) // a status write of a query can be large
	for sc.Scan() {
		var e auditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("%s: a line is not an audit event: %w", path, err)
		}
		events = append(events, e)
	}
	return events, sc.Err()
}

// findAuditEvent polls the audit log until an event matches, or fails after ten seconds
// (the log is written while the request is handled, but the client may see the
// response a moment before).
func findAuditEvent(t *testing.T, path, what string, match func(auditEvent) bool) auditEvent {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		events, err := readAuditLog(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			if match(e) {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audit event in %s (%d events) is %s", path, len(events), what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// startManagerInProcess runs the operator in the test process with the command line
// make dev gives the binary (managerArgs) and the demo model, and waits for its
// /readyz. The test then needs no manager binary; the code is the same. It returns a
// function that stops it and reports how it stopped.
func startManagerInProcess(t *testing.T, o *options) (stop func() error) {
	t.Helper()
	l := layout{root: o.StateDir}
	srv, config, err := startDemoModel(o.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	probe := "127.0.0.1:" + strconv.Itoa(p[0])
	args := o.managerArgs(l, probe, config)
	mo := manager.NewOptions()
	fs := flag.NewFlagSet("kubeask-manager", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	mo.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("the manager rejects make dev's arguments %v: %v", args, err)
	}
	mo.Complete()
	if err := mo.Validate(); err != nil {
		t.Fatalf("make dev's manager arguments %v: %v", args, err)
	}
	cfg, err := mo.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	logFile, err := os.OpenFile(l.log("kubeask-manager"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	logger := zap.New(zap.WriteTo(logFile), zap.UseDevMode(true))
	ctrl.SetLogger(logger)
	ctx, cancel := context.WithCancel(ctrl.LoggerInto(t.Context(), logger))
	done := make(chan error, 1)
	go func() { done <- mo.Run(ctx, cfg) }()
	stopped := false
	var runErr error
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			runErr = <-done
			srv.Close()
			_ = logFile.Close()
		}
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	readyCtx, readyCancel := context.WithTimeout(ctx, 2*time.Minute)
	defer readyCancel()
	ready := httpGetOK(newPlainHTTPClient(), "http://"+probe+"/readyz", "")
	for ready(readyCtx) != nil {
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("the manager stopped before it was ready: %v; log in %s", err, l.log("kubeask-manager"))
		case <-readyCtx.Done():
			t.Fatalf("the manager was not ready within 2 minutes; log in %s", l.log("kubeask-manager"))
		case <-time.After(pollInterval):
		}
	}
	return stop
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Run starts the environment, reports it ready and keeps it running until ctx ends
// (Ctrl-C, SIGTERM) or a process dies; with ExitAfterReady it stops right after ready.
// Every process is stopped before Run returns, whatever happened.
func (o *options) Run(ctx context.Context) error {
	began := time.Now()
	l := layout{root: o.StateDir}
	if err := l.prepareRoot(); err != nil {
		return err
	}
	release, err := l.lock()
	if err != nil {
		return err
	}
	defer release()
	if err := l.prepare(o.KeepState); err != nil {
		return err
	}
	// A ready file left by an earlier run would tell a waiting script we are ready now.
	// It is left in place at exit, for scripts that read it after --exit-after-ready.
	if o.ReadyFile != "" {
		if err := os.Remove(o.ReadyFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing the old ready file: %w", err)
		}
	}

	sup := newSupervisor(ctx, o.GracePeriod, o.Out)
	defer sup.stopAll()

	info, err := o.start(sup, l, began)
	if err != nil {
		// Report the root cause: a dead process explains a failed wait better than the
		// wait does.
		if died := sup.died(); died != nil {
			return fmt.Errorf("start-up failed: %w", died)
		}
		if ctx.Err() != nil {
			fmt.Fprintln(o.Out, "interrupted during start-up; stopping")
			return nil
		}
		return fmt.Errorf("start-up failed: %w", err)
	}
	if o.ReadyFile != "" {
		if err := writeReadyFile(o.ReadyFile, info); err != nil {
			return err
		}
	}
	if o.onReady != nil {
		o.onReady(info)
	}
	printInstructions(o.Out, info)
	if o.ExitAfterReady {
		fmt.Fprintln(o.Out, "--exit-after-ready: shutting down")
		return nil
	}

	<-sup.ctx.Done() // a signal, or a process died
	if died := sup.died(); died != nil {
		return died
	}
	fmt.Fprintln(o.Out, "\nshutting down")
	return nil
}

// start brings up everything in dependency order and returns the description of the
// ready environment.
func (o *options) start(sup *supervisor, l layout, began time.Time) (readyInfo, error) {
	ctx, cancel := context.WithTimeoutCause(sup.ctx, o.StartTimeout,
		fmt.Errorf("start-up took longer than --start-timeout=%s", o.StartTimeout))
	defer cancel()

	fmt.Fprintf(o.Out, "kubeask dev environment in %s\n", o.StateDir)
	pk, err := newPKI(l.pki())
	if err != nil {
		return readyInfo{}, err
	}
	users, err := demoUsers()
	if err != nil {
		return readyInfo{}, err
	}
	tokenFile, err := writeTokenFile(l.pki(), users)
	if err != nil {
		return readyInfo{}, err
	}
	pt, err := choosePorts()
	if err != nil {
		return readyInfo{}, err
	}
	admin := users[0]

	fmt.Fprintln(o.Out, "starting the control plane:")
	cp, err := o.startControlPlane(ctx, sup, l, pk, tokenFile, pt, admin)
	if err != nil {
		return readyInfo{}, err
	}
	info := readyInfo{Server: cp.Server, StateDir: o.StateDir, Kubeconfigs: map[string]string{}, AuditLog: l.auditLog()}
	for _, u := range users {
		path := l.kubeconfig(u.Name)
		if err := writeKubeconfig(path, cp.Server, pk.CA.CertPEM, u.Name, credential{Token: u.Token}, u.Namespace); err != nil {
			return readyInfo{}, err
		}
		info.Kubeconfigs[u.Name] = path
	}
	adminCfg, err := restConfigFromFile(info.Kubeconfigs["admin"])
	if err != nil {
		return readyInfo{}, err
	}
	c, err := newClient(adminCfg)
	if err != nil {
		return readyInfo{}, err
	}

	keySecrets, err := modelKeySecrets(o.ModelConfig)
	if err != nil {
		return readyInfo{}, err
	}
	fmt.Fprintf(o.Out, "installing %s with helm (release %s in %s), the demo objects\n", relativeToWorkingDir(o.chartDir()), releaseName, managerNamespace)
	values, err := devValues(keySecrets)
	if err != nil {
		return readyInfo{}, err
	}
	info.ChartValues = l.path("values.yaml")
	if err := writeFiles(map[string][]byte{info.ChartValues: values}); err != nil {
		return readyInfo{}, err
	}
	if o.chartArgs, err = o.installChart(ctx, l, info.Kubeconfigs["admin"], info.ChartValues); err != nil {
		return readyInfo{}, err
	}
	if err := waitForPolicies(ctx, c); err != nil {
		return readyInfo{}, err
	}
	if err := installDemo(ctx, c); err != nil {
		return readyInfo{}, err
	}
	info.Kubeconfigs["manager"] = l.kubeconfig("manager")
	if err := writeManagerKubeconfig(ctx, adminCfg, info.Kubeconfigs["manager"], cp.Server, pk.CA.CertPEM); err != nil {
		return readyInfo{}, err
	}
	if len(keySecrets) > 0 {
		fmt.Fprintf(o.Out, "the manager may get the model key Secrets %s in %s (create them as admin)\n", strings.Join(keySecrets, ", "), managerNamespace)
	}
	info.ModelKeySecrets = keySecrets
	info.SampleQuery = l.path("sample-query.yaml")
	if err := writeFiles(map[string][]byte{info.SampleQuery: []byte(sampleQuery)}); err != nil {
		return readyInfo{}, err
	}
	if dir := filepath.Join(o.RepoRoot, "config", "samples"); fileExists(filepath.Join(dir, "kustomization.yaml")) {
		info.SamplesDir = dir
	}
	if err := cp.waitComponents(ctx); err != nil {
		return readyInfo{}, err
	}
	// The first question right after ready must see the demo's pods: the controller
	// manager creates them and the scheduler marks them unschedulable a moment after
	// the Deployments are applied.
	if err := waitFor(ctx, "the demo workloads' pods to be created and scheduled", demoWorkloadsSettled(c)); err != nil {
		return readyInfo{}, err
	}

	if o.NoManager {
		fmt.Fprintln(o.Out, "--no-manager: not starting kubeask-manager")
		info.ManagerArgs = o.managerArgs(l, fmt.Sprintf("127.0.0.1:%d", pt.ManagerProbe), o.ModelConfig)
	} else {
		if err := o.startManager(ctx, sup, l, pt.ManagerProbe); err != nil {
			return readyInfo{}, err
		}
		info.ManagerProbe = fmt.Sprintf("127.0.0.1:%d", pt.ManagerProbe)
	}
	// A last look: a process may have died after its own readiness check passed.
	if died := sup.died(); died != nil {
		return readyInfo{}, died
	}
	if ctx.Err() != nil {
		return readyInfo{}, errors.New("interrupted")
	}
	for _, p := range sup.procs {
		info.Processes = append(info.Processes, readyProcess{Name: p.Name, PID: p.Pid(), Log: p.LogPath})
	}
	info.StartupSeconds = time.Since(began).Seconds()
	return info, nil
}

package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubeask/kubeask/internal/llm/catalog"
)

// managerTokenSeconds bounds the manager's token; a dev session rarely lasts a week, and a
// restart of `make dev` mints a new one.
const managerTokenSeconds = 7 * 24 * 3600

// writeManagerKubeconfig mints a token for the chart's ServiceAccount with the
// TokenRequest API and writes manager.kubeconfig with it: the local manager then runs
// with exactly the RBAC the chart grants the release.
func writeManagerKubeconfig(ctx context.Context, admin *rest.Config, kubeconfigPath, server string, caPEM []byte) error {
	cs, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return fmt.Errorf("creating a clientset: %w", err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(managerNamespace).CreateToken(ctx, managerServiceAccount,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: new(int64(managerTokenSeconds))}},
		metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("requesting a token for the chart's ServiceAccount %s/%s: %w", managerNamespace, managerServiceAccount, err)
	}
	return writeKubeconfig(kubeconfigPath, server, caPEM, managerServiceAccount, credential{Token: tr.Status.Token}, managerNamespace)
}

// modelKeySecrets returns the names of the Secrets the model catalog at path takes API
// keys from (models[].apiKeySecretRef), sorted and without duplicates; none for "".
func modelKeySecrets(path string) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	c, err := catalog.Load(path)
	if err != nil {
		return nil, fmt.Errorf("--model-config: %w", err)
	}
	var names []string
	for _, m := range c.Models {
		if m.APIKeySecretRef != nil && !slices.Contains(names, m.APIKeySecretRef.Name) {
			names = append(names, m.APIKeySecretRef.Name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// startManager starts the operator with the flags it documents and waits for its /readyz.
func (o *options) startManager(ctx context.Context, sup *supervisor, l layout, probePort int) error {
	probe := "127.0.0.1:" + strconv.Itoa(probePort)
	config := o.ModelConfig
	if config == "" {
		srv, path, err := startDemoModel(l.root)
		if err != nil {
			return fmt.Errorf("starting the demo model: %w", err)
		}
		// The demo model lives as long as the processes do, not as long as start-up.
		context.AfterFunc(sup.ctx, srv.Close)
		config = path
	}
	if _, err := sup.start("kubeask-manager", o.ManagerBin, o.managerArgs(l, probe, config), l.log("kubeask-manager")); err != nil {
		return err
	}
	return waitFor(ctx, "kubeask-manager /readyz", httpGetOK(newPlainHTTPClient(), "http://"+probe+"/readyz", ""))
}

// managerArgs are the manager's command line in the dev environment: the chart's
// (installChart), made local by localManagerArgs, with the model catalog config and the
// health probes on probe.
func (o *options) managerArgs(l layout, probe, config string) []string {
	kubectl := filepath.Join(o.BinDir, "kubectl")
	if !fileExists(kubectl) {
		kubectl = ""
	}
	return localManagerArgs(o.chartArgs, l.kubeconfig("manager"), probe, config, kubectl)
}

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeask/kubeask/internal/llm/llmtest"
	"github.com/kubeask/kubeask/internal/testcluster"
)

// runner is one e2e run inside the namespaces.
type runner struct {
	o     *options
	state string
	sup   *supervisor
	c     *cluster

	admin    kubernetes.Interface
	adminCfg *rest.Config
	crAdmin  client.Client // controller-runtime client with the kubeask types

	kubelet, kubeProxy *process
	containerd         bool
	// cleanups run first at the end (in reverse order): servers and port-forwards the
	// checks started in the driver itself.
	cleanups []func()
	// model is the demo model; modelURL its base URL as pods reach it.
	model    *llmtest.Server
	modelURL string
}

// run brings the cluster and the node up, runs the checks, and stops everything,
// also on failure. Each step logs its name and duration.
func (r *runner) run(ctx context.Context) (err error) {
	logs := filepath.Join(r.state, "logs")
	if err := os.MkdirAll(logs, 0o700); err != nil {
		return err
	}
	r.sup = newSupervisor(logs, 10*time.Second)
	defer func() {
		began := time.Now()
		logf("== stopping everything")
		if err != nil && r.admin != nil {
			r.saveManagerLogs(logs)
		}
		for i := len(r.cleanups) - 1; i >= 0; i-- {
			r.cleanups[i]()
		}
		for _, p := range []*process{r.kubeProxy, r.kubelet} {
			if p != nil {
				p.stop(10 * time.Second)
			}
		}
		if r.containerd {
			r.stopContainers()
		}
		r.sup.stopAll()
		logf("   stopped in %s", time.Since(began).Round(100*time.Millisecond))
		if err != nil {
			logf("component logs are in %s", logs)
		}
	}()

	steps := []struct {
		name string
		do   func(context.Context) error
	}{
		{"network namespace: loopback, node address " + nodeIP + ", private /etc/hosts and resolv.conf", r.setUpNamespace},
		{"control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler", r.controlPlane},
		{"containerd with runc " + r.o.Runc + ", pause image imported", r.containerdAndImages},
		{"kubelet and kube-proxy: node " + nodeName + " Ready", r.node},
		{"pods: host network, CNI network, crash loop with logs", r.pods},
	}
	steps = append(steps, r.productSteps()...)
	for i, s := range steps {
		began := time.Now()
		logf("== step %d/%d: %s", i+1, len(steps), s.name)
		if err := s.do(ctx); err != nil {
			if died := r.sup.died(); died != nil && !strings.Contains(err.Error(), died.Error()) {
				err = fmt.Errorf("%w\n(%w)", err, died)
			}
			return fmt.Errorf("step %q: %w", s.name, err)
		}
		logf("   ok in %s", time.Since(began).Round(100*time.Millisecond))
	}
	return nil
}

func (r *runner) controlPlane(ctx context.Context) error {
	c, err := r.startControlPlane(ctx)
	if err != nil {
		return err
	}
	r.c = c
	if r.adminCfg, err = clientcmd.BuildConfigFromFlags("", c.kubeconfigs["admin"]); err != nil {
		return err
	}
	if r.admin, err = kubernetes.NewForConfig(r.adminCfg); err != nil {
		return err
	}
	if r.crAdmin, err = client.New(r.adminCfg, client.Options{Scheme: testcluster.NewScheme()}); err != nil {
		return err
	}
	return nil
}

func (r *runner) containerdAndImages(ctx context.Context) error {
	if err := r.startContainerd(ctx); err != nil {
		return err
	}
	r.containerd = true
	archive := filepath.Join(r.state, "pause.oci.tar")
	if err := writeSingleFileImage(archive, pauseImage, filepath.Join(r.o.NodeBin, "pause"), "pause"); err != nil {
		return fmt.Errorf("writing the pause image: %w", err)
	}
	return r.importImage(archive)
}

func (r *runner) node(ctx context.Context) error {
	if err := r.writeCNIConfig(); err != nil {
		return err
	}
	var err error
	if r.kubelet, err = r.startKubeletProcess(); err != nil {
		return err
	}
	if err := r.waitNodeReady(ctx); err != nil {
		return err
	}
	if r.kubeProxy, err = r.startKubeProxyProcess(); err != nil {
		return err
	}
	return nil
}

// waitFor polls check every half second until it succeeds or ctx ends, and returns
// the last error with the cause, so a timeout says what was being waited for.
func (r *runner) waitFor(ctx context.Context, what string, check func() error) error {
	return r.waitForWithin(ctx, 2*time.Minute, what, check)
}

func (r *runner) waitForWithin(ctx context.Context, limit time.Duration, what string, check func() error) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if last = check(); last == nil {
			return nil
		}
		if died := r.sup.died(); died != nil {
			return fmt.Errorf("waiting for %s: %w", what, died)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s (%s): %w", what, limit, errors.Join(last, context.Cause(ctx)))
		case <-tick.C:
		}
	}
}

// waitHTTP waits until url answers 200, trusting caPEM (if any) and sending token.
func (r *runner) waitHTTP(ctx context.Context, what, url string, caPEM []byte, token string) error {
	tr := &http.Transport{}
	if caPEM != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caPEM)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	hc := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	defer tr.CloseIdleConnections()
	return r.waitFor(ctx, what, func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s answered %s", url, resp.Status)
		}
		return nil
	})
}

// saveManagerLogs writes the logs of every manager pod (and of its previous container)
// into dir, for a failed run: deleted pods take their logs with them.
func (r *runner) saveManagerLogs(dir string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pods, err := r.admin.CoreV1().Pods(releaseNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for _, p := range pods.Items {
		for _, previous := range []bool{false, true} {
			b, err := r.admin.CoreV1().Pods(releaseNamespace).GetLogs(p.Name, &corev1.PodLogOptions{Previous: previous}).DoRaw(ctx)
			if err != nil {
				continue
			}
			name := "pod-" + p.Name + ".log"
			if previous {
				name = "pod-" + p.Name + ".previous.log"
			}
			_ = os.WriteFile(filepath.Join(dir, name), b, 0o600)
		}
	}
}

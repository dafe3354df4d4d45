package main

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Cluster network settings. Nothing routes them (there is no kubelet), but the
// apiserver needs a service range to allocate ClusterIPs for demo Services.
const (
	serviceCIDR = "10.0.0.0/24"
	serviceIP   = "10.0.0.1" // the kubernetes Service, first address of serviceCIDR
	saIssuer    = "https://kubernetes.default.svc.cluster.local"
)

// auditPolicy records Metadata for every request and the request body for kubeask's
// own objects; see the file.
//
//go:embed audit-policy.yaml
var auditPolicy []byte

// auditLogFlags turn on the API server's audit log: the policy above, JSON lines in
// l.auditLog(), rotated at 100 MB with 5 old files kept for at most 7 days (a dev
// environment left running with triggers and MCP clients keeps writing). The mode is
// blocking, the log backend's default, said here because it matters: an event is
// written while its request is handled, not in a batch up to a second later, so the
// log is current when a developer (or a test) reads it.
func auditLogFlags(l layout) []string {
	return []string{
		"--audit-policy-file=" + l.auditPolicy(),
		"--audit-log-path=" + l.auditLog(),
		"--audit-log-format=json",
		"--audit-log-mode=blocking",
		"--audit-log-maxsize=100",
		"--audit-log-maxbackup=5",
		"--audit-log-maxage=7",
	}
}

// ports are the loopback ports of one run, chosen at start so several environments (or
// a test next to `make dev`) never collide.
type ports struct {
	EtcdClient, EtcdPeer, APIServer, ControllerManager, Scheduler, ManagerProbe int
}

func choosePorts() (ports, error) {
	p, err := freePorts(6)
	if err != nil {
		return ports{}, err
	}
	return ports{EtcdClient: p[0], EtcdPeer: p[1], APIServer: p[2], ControllerManager: p[3], Scheduler: p[4], ManagerProbe: p[5]}, nil
}

func loopbackURL(scheme string, port int) string {
	return scheme + "://127.0.0.1:" + strconv.Itoa(port)
}

// controlPlane is what start-up needs to know about the running control plane.
type controlPlane struct {
	Server string // the apiserver URL
	// components are started after the apiserver and checked before we declare ready.
	componentChecks []componentCheck
}

type componentCheck struct {
	name  string
	check func(context.Context) error
}

// startControlPlane starts etcd and kube-apiserver, waits for the apiserver's /readyz,
// then starts the controller manager and the scheduler without waiting for them (the
// caller installs the CRDs meanwhile and calls waitComponents later).
func (o *options) startControlPlane(ctx context.Context, sup *supervisor, l layout, pk *pki, tokenFile string, pt ports, admin demoUser) (*controlPlane, error) {
	bin := func(name string) string { return filepath.Join(o.BinDir, name) }
	etcdURL := loopbackURL("http", pt.EtcdClient)
	peerURL := loopbackURL("http", pt.EtcdPeer)
	if _, err := sup.start("etcd", bin("etcd"), []string{
		"--name=kubeask-dev",
		"--data-dir=" + l.etcdData(),
		"--listen-client-urls=" + etcdURL,
		"--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=kubeask-dev=" + peerURL,
		// The data is disposable; fsync would make every write wait on the disk, which on
		// a laptop is the slowest part of start-up. A crash can lose the last writes of a
		// --keep-state run, which is acceptable for a dev cluster.
		"--unsafe-no-fsync=true",
	}, l.log("etcd")); err != nil {
		return nil, err
	}
	if err := waitFor(ctx, "etcd /health", httpGetOK(newPlainHTTPClient(), etcdURL+"/health", "")); err != nil {
		return nil, err
	}

	server := loopbackURL("https", pt.APIServer)
	if err := os.WriteFile(l.auditPolicy(), auditPolicy, 0o600); err != nil {
		return nil, fmt.Errorf("writing the audit policy: %w", err)
	}
	if _, err := sup.start("kube-apiserver", bin("kube-apiserver"), append([]string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		// The endpoint reconciler refuses a loopback advertise address, and nothing in
		// the cluster needs the kubernetes Service's endpoints: there are no pods running.
		"--endpoint-reconciler-type=none",
		"--secure-port=" + strconv.Itoa(pt.APIServer),
		"--cert-dir=" + l.run("apiserver"),
		"--tls-cert-file=" + pk.Serving.CertFile,
		"--tls-private-key-file=" + pk.Serving.KeyFile,
		"--client-ca-file=" + pk.CA.CertFile,
		// The front-proxy (request-header) authenticator, as in any real cluster: without
		// it the controller manager and the scheduler log an error every few seconds
		// about the missing request-header CA, and aggregated APIs could not be added.
		"--requestheader-client-ca-file=" + pk.FrontProxyCA.CertFile,
		"--requestheader-allowed-names=" + frontProxyClientName,
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-uid-headers=X-Remote-Uid",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + pk.ProxyClient.CertFile,
		"--proxy-client-key-file=" + pk.ProxyClient.KeyFile,
		"--token-auth-file=" + tokenFile,
		"--authorization-mode=Node,RBAC",
		"--service-account-issuer=" + saIssuer,
		"--service-account-key-file=" + pk.SAPubFile,
		"--service-account-signing-key-file=" + pk.SAKeyFile,
		"--service-cluster-ip-range=" + serviceCIDR,
	}, auditLogFlags(l)...), l.log("kube-apiserver")); err != nil {
		return nil, err
	}
	apiClient, err := httpClientTrusting(pk.CA.CertPEM)
	if err != nil {
		return nil, err
	}
	if err := waitFor(ctx, "kube-apiserver /readyz", httpGetOK(apiClient, server+"/readyz", admin.Token)); err != nil {
		return nil, err
	}

	cp := &controlPlane{Server: server}
	kcmKubeconfig := l.run("controller-manager.kubeconfig")
	schedKubeconfig := l.run("scheduler.kubeconfig")
	// Client certificates, not tokens: the bootstrap RBAC policy already grants these
	// exact user names what the components need, as in a kubeadm cluster.
	for _, c := range []struct{ file, user string }{
		{kcmKubeconfig, "system:kube-controller-manager"},
		{schedKubeconfig, "system:kube-scheduler"},
	} {
		kp, err := pk.CA.clientCert(strings.TrimPrefix(c.user, "system:"), c.user)
		if err != nil {
			return nil, err
		}
		if err := writeKubeconfig(c.file, server, pk.CA.CertPEM, c.user, credential{CertPEM: kp.CertPEM, KeyPEM: kp.KeyPEM}, ""); err != nil {
			return nil, err
		}
	}

	if _, err := sup.start("kube-controller-manager", bin("kube-controller-manager"), []string{
		"--kubeconfig=" + kcmKubeconfig,
		"--authentication-kubeconfig=" + kcmKubeconfig,
		"--authorization-kubeconfig=" + kcmKubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(pt.ControllerManager),
		"--cert-dir=" + l.run("controller-manager"),
		"--leader-elect=false",
		// Each controller acts as its own service account, as in a real cluster, so RBAC
		// mistakes in demo objects show up here the way they would in production.
		"--use-service-account-credentials=true",
		// The token controller needs the signing key to publish service-account tokens,
		// and the root CA to put into every namespace's kube-root-ca.crt.
		"--service-account-private-key-file=" + pk.SAKeyFile,
		"--root-ca-file=" + pk.CA.CertFile,
		// Lets CSRs be approved and signed (kubectl certificate approve) against our CA.
		"--cluster-signing-cert-file=" + pk.CA.CertFile,
		"--cluster-signing-key-file=" + pk.CA.KeyFile,
		// No cloud and no nodes: node IPAM and cloud routes have nothing to do.
		"--controllers=*,-node-ipam-controller",
		"--allocate-node-cidrs=false",
		"--configure-cloud-routes=false",
		"--service-cluster-ip-range=" + serviceCIDR,
	}, l.log("kube-controller-manager")); err != nil {
		return nil, err
	}
	if _, err := sup.start("kube-scheduler", bin("kube-scheduler"), []string{
		// --kubeconfig is deprecated in favour of a KubeSchedulerConfiguration file, but
		// still honoured, and keeps this free of a config format to maintain.
		"--kubeconfig=" + schedKubeconfig,
		"--authentication-kubeconfig=" + schedKubeconfig,
		"--authorization-kubeconfig=" + schedKubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(pt.Scheduler),
		"--cert-dir=" + l.run("scheduler"),
		"--leader-elect=false",
	}, l.log("kube-scheduler")); err != nil {
		return nil, err
	}
	insecure := httpClientSelfSigned()
	cp.componentChecks = []componentCheck{
		{"kube-controller-manager /healthz", httpGetOK(insecure, fmt.Sprintf("https://127.0.0.1:%d/healthz", pt.ControllerManager), "")},
		{"kube-scheduler /healthz", httpGetOK(insecure, fmt.Sprintf("https://127.0.0.1:%d/healthz", pt.Scheduler), "")},
	}
	return cp, nil
}

// waitComponents waits for the controller manager and the scheduler to be healthy.
func (cp *controlPlane) waitComponents(ctx context.Context) error {
	for _, c := range cp.componentChecks {
		if err := waitFor(ctx, c.name, c.check); err != nil {
			return err
		}
	}
	return nil
}

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Addresses inside the e2e network namespace. None of them exists outside it.
const (
	nodeName    = "kubeask-e2e-node"
	nodeIP      = "10.250.0.10"   // the node's address, on a bridge without ports
	podCIDR     = "10.244.0.0/24" // the CNI bridge's range
	serviceCIDR = "10.96.0.0/24"  // ClusterIPs, routed by kube-proxy
	serviceIP   = "10.96.0.1"     // the kubernetes Service, first address of serviceCIDR
	apiPort     = 6443            // the API server, on every address of the namespace
	etcdPort    = 2379            // etcd, on loopback
	saIssuer    = "https://kubernetes.default.svc.cluster.local"
)

// user is a person of the test, authenticated by a static bearer token like hack/dev's
// demo users, with the RBAC of hack/dev/demo.yaml.
type user struct {
	name, uid, group, token string
}

// cluster is what the checks need to know about the running control plane.
type cluster struct {
	server      string // https://<nodeIP>:6443, reachable from pods and from the driver
	ca          *ca
	kubeconfigs map[string]string // admin, alice, bob, kubelet, kube-proxy
	users       map[string]user
}

// startControlPlane starts etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler, and writes kubeconfigs for the users and the node's components.
func (r *runner) startControlPlane(ctx context.Context) (*cluster, error) {
	pkiDir := filepath.Join(r.state, "pki")
	if err := os.MkdirAll(pkiDir, 0o700); err != nil {
		return nil, err
	}
	c := &cluster{server: "https://" + nodeIP + ":" + strconv.Itoa(apiPort), kubeconfigs: map[string]string{}, users: map[string]user{}}
	var err error
	if c.ca, err = newCA(pkiDir); err != nil {
		return nil, err
	}
	serving, err := c.ca.serving("apiserver", []string{"127.0.0.1", nodeIP, serviceIP},
		"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local")
	if err != nil {
		return nil, err
	}
	// The API server's client certificate towards kubelets (logs, exec, port-forward).
	kubeletClient, err := c.ca.client("apiserver-kubelet-client", "kube-apiserver-kubelet-client", "system:masters")
	if err != nil {
		return nil, err
	}
	saKey, saPub, err := serviceAccountKey(pkiDir)
	if err != nil {
		return nil, err
	}
	tokenFile := filepath.Join(pkiDir, "tokens.csv")
	var tokens []byte
	for _, u := range []user{
		{name: "admin", uid: "e2e-uid-admin", group: "system:masters"},
		{name: "alice", uid: "e2e-uid-alice", group: "dev"},
		{name: "bob", uid: "e2e-uid-bob", group: "ops"},
	} {
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		u.token = hex.EncodeToString(b)
		c.users[u.name] = u
		tokens = fmt.Appendf(tokens, "%s,%s,%s,%q\n", u.token, u.name, u.uid, u.group)
		path := filepath.Join(r.state, u.name+".kubeconfig")
		if err := writeKubeconfig(path, c.server, c.ca.certPEM, u.name, u.token, nil); err != nil {
			return nil, err
		}
		c.kubeconfigs[u.name] = path
	}
	if err := os.WriteFile(tokenFile, tokens, 0o600); err != nil {
		return nil, err
	}
	// The node's components and the controllers authenticate with client certificates
	// whose names the bootstrap RBAC policy (and the Node authorizer) already knows.
	for _, id := range []struct{ name, user, group string }{
		{"kubelet", "system:node:" + nodeName, "system:nodes"},
		{"kube-proxy", "system:kube-proxy", ""},
		{"kube-controller-manager", "system:kube-controller-manager", ""},
		{"kube-scheduler", "system:kube-scheduler", ""},
	} {
		var groups []string
		if id.group != "" {
			groups = []string{id.group}
		}
		kp, err := c.ca.client(id.name, id.user, groups...)
		if err != nil {
			return nil, err
		}
		path := filepath.Join(r.state, id.name+".kubeconfig")
		if err := writeKubeconfig(path, c.server, c.ca.certPEM, id.user, "", &kp); err != nil {
			return nil, err
		}
		c.kubeconfigs[id.name] = path
	}

	bin := func(name string) string { return filepath.Join(r.o.K8sBin, name) }
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	if _, err := r.sup.start("etcd", bin("etcd"), []string{
		"--name=e2e", "--data-dir=" + filepath.Join(r.state, "etcd"),
		"--listen-client-urls=" + etcdURL, "--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=http://127.0.0.1:2380", "--initial-advertise-peer-urls=http://127.0.0.1:2380",
		"--initial-cluster=e2e=http://127.0.0.1:2380",
		"--unsafe-no-fsync=true", // the data lives for one run
	}, nil); err != nil {
		return nil, err
	}
	if err := r.waitHTTP(ctx, "etcd /health", etcdURL+"/health", nil, ""); err != nil {
		return nil, err
	}
	if _, err := r.sup.start("kube-apiserver", bin("kube-apiserver"), []string{
		"--etcd-servers=" + etcdURL,
		// Every address of the namespace: the driver and the node's components dial the
		// node address, pods dial the kubernetes Service, which kube-proxy sends there.
		"--bind-address=0.0.0.0",
		"--advertise-address=" + nodeIP,
		"--secure-port=" + strconv.Itoa(apiPort),
		"--cert-dir=" + filepath.Join(r.state, "apiserver"),
		"--tls-cert-file=" + serving.certFile, "--tls-private-key-file=" + serving.keyFile,
		"--client-ca-file=" + c.ca.certFile(),
		// The node's address, not its name: nothing resolves names here.
		"--kubelet-preferred-address-types=InternalIP",
		"--kubelet-client-certificate=" + kubeletClient.certFile, "--kubelet-client-key=" + kubeletClient.keyFile,
		"--token-auth-file=" + tokenFile,
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--service-account-issuer=" + saIssuer,
		"--service-account-key-file=" + saPub,
		"--service-account-signing-key-file=" + saKey,
		"--service-cluster-ip-range=" + serviceCIDR,
		// Webhooks (and aggregated APIs) are called at their endpoints' pod IPs, not at
		// the Service IP: the API server is not a pod and kube-proxy's rules for
		// locally generated traffic are not what this test is about.
		"--enable-aggregator-routing=true",
	}, nil); err != nil {
		return nil, err
	}
	if err := r.waitHTTP(ctx, "kube-apiserver /readyz", c.server+"/readyz", c.ca.certPEM, c.users["admin"].token); err != nil {
		return nil, err
	}
	if _, err := r.sup.start("kube-controller-manager", bin("kube-controller-manager"), []string{
		"--kubeconfig=" + c.kubeconfigs["kube-controller-manager"],
		"--authentication-kubeconfig=" + c.kubeconfigs["kube-controller-manager"],
		"--authorization-kubeconfig=" + c.kubeconfigs["kube-controller-manager"],
		"--bind-address=127.0.0.1", "--secure-port=10257",
		"--cert-dir=" + filepath.Join(r.state, "controller-manager"),
		"--leader-elect=false",
		"--use-service-account-credentials=true",
		"--service-account-private-key-file=" + saKey,
		"--root-ca-file=" + c.ca.certFile(),
		// The CNI config fixes the node's pod range; no cloud.
		"--controllers=*,-node-ipam-controller",
		"--allocate-node-cidrs=false", "--configure-cloud-routes=false",
		"--service-cluster-ip-range=" + serviceCIDR,
	}, nil); err != nil {
		return nil, err
	}
	if _, err := r.sup.start("kube-scheduler", bin("kube-scheduler"), []string{
		"--kubeconfig=" + c.kubeconfigs["kube-scheduler"],
		"--authentication-kubeconfig=" + c.kubeconfigs["kube-scheduler"],
		"--authorization-kubeconfig=" + c.kubeconfigs["kube-scheduler"],
		"--bind-address=127.0.0.1", "--secure-port=10259",
		"--leader-elect=false",
	}, nil); err != nil {
		return nil, err
	}
	return c, nil
}

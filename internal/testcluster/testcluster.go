// Package testcluster starts a real control plane (etcd and kube-apiserver with RBAC on,
// built by hack/build-controlplane.sh) for integration tests, with the kubeask CRDs
// installed and helpers to act as real authenticated users.
package testcluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// K8sVersion is the version of the control plane the tests run against.
const K8sVersion = "v1.37.2"

// Cluster is a running control plane.
type Cluster struct {
	env *envtest.Environment
	// Admin is a cluster-admin (system:masters) config.
	Admin *rest.Config
	// Scheme knows the built-in types and the kubeask API.
	Scheme *runtime.Scheme
	// Root is the repository root.
	Root string
}

// Options tune Start.
type Options struct {
	// SkipCRDs leaves the kubeask CRDs out.
	SkipCRDs bool
	// StaticTokens are bearer tokens the API server accepts (its --token-auth-file),
	// for tests of components that authenticate callers by token.
	StaticTokens []StaticToken
	// OIDC, when set, makes the API server trust ID tokens of an OIDC issuer (its
	// --oidc-* flags), for tests of logins through an issuer (see package oidcissuer).
	OIDC *OIDC
}

// OIDC is the API server's trust in one OIDC issuer: kube-apiserver's --oidc-issuer-url,
// --oidc-client-id, --oidc-ca-file, --oidc-username-claim, --oidc-username-prefix,
// --oidc-groups-claim and --oidc-groups-prefix. Empty fields keep the API server's
// defaults (username claim sub, prefixed with the issuer URL and #).
type OIDC struct {
	// IssuerURL is the https:// issuer; the API server fetches its discovery and keys
	// from there (in the background: the issuer must be up, but may come after).
	IssuerURL string
	// ClientID is the audience the ID tokens must carry.
	ClientID string
	// CAFile is the issuer's serving CA (PEM).
	CAFile                        string
	UsernameClaim, UsernamePrefix string
	GroupsClaim, GroupsPrefix     string
}

func (o *OIDC) flags() (map[string]string, error) {
	if !strings.HasPrefix(o.IssuerURL, "https://") || o.ClientID == "" {
		return nil, errors.New("testcluster: OIDC needs an https:// IssuerURL and a ClientID")
	}
	flags := map[string]string{"oidc-issuer-url": o.IssuerURL, "oidc-client-id": o.ClientID}
	for name, v := range map[string]string{"oidc-ca-file": o.CAFile, "oidc-username-claim": o.UsernameClaim,
		"oidc-username-prefix": o.UsernamePrefix, "oidc-groups-claim": o.GroupsClaim, "oidc-groups-prefix": o.GroupsPrefix} {
		if v != "" {
			flags[name] = v
		}
	}
	return flags, nil
}

// StaticToken is one line of the API server's token file.
type StaticToken struct {
	Token, User, UID string
	Groups           []string
}

// NewScheme returns a scheme with the built-in types and the kubeask API.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err) // static registration; cannot fail
	}
	if err := agentsv1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// Start starts etcd and kube-apiserver and installs the CRDs. Call Stop when done.
func Start(opts Options) (*Cluster, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(root, "bin", "k8s", K8sVersion)
	}
	if _, err := os.Stat(filepath.Join(assets, "kube-apiserver")); err != nil { //nolint:gosec // G703: the developer's own KUBEBUILDER_ASSETS, in tests
		return nil, fmt.Errorf("no control plane in %s: run `make controlplane` first: %w", assets, err)
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		ErrorIfCRDPathMissing: true,
		Scheme:                NewScheme(),
	}
	if !opts.SkipCRDs {
		env.CRDDirectoryPaths = []string{filepath.Join(root, "config", "crd", "bases")}
	}
	if len(opts.StaticTokens) > 0 {
		path, err := writeTokenFile(opts.StaticTokens)
		if err != nil {
			return nil, err
		}
		env.ControlPlane.GetAPIServer().Configure().Set("token-auth-file", path)
	}
	if opts.OIDC != nil {
		flags, err := opts.OIDC.flags()
		if err != nil {
			return nil, err
		}
		for name, v := range flags {
			env.ControlPlane.GetAPIServer().Configure().Set(name, v)
		}
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting control plane: %w", err)
	}
	return &Cluster{env: env, Admin: cfg, Scheme: env.Scheme, Root: root}, nil
}

// writeTokenFile writes tokens in the API server's CSV format: token,user,uid,"groups".
func writeTokenFile(tokens []StaticToken) (string, error) {
	f, err := os.CreateTemp("", "kubeask-tokens-*.csv")
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	for _, t := range tokens {
		if _, err := fmt.Fprintf(f, "%s,%s,%s,%q\n", t.Token, t.User, t.UID, strings.Join(t.Groups, ",")); err != nil {
			return "", err
		}
	}
	return f.Name(), f.Close()
}

// ServiceAccountSigner returns the file of the key the API server signs
// ServiceAccount tokens with, and their issuer, so that tests can mint tokens the API
// server would have issued (for example already expired ones).
func (c *Cluster) ServiceAccountSigner() (keyFile, issuer string) {
	api := c.env.ControlPlane.GetAPIServer()
	return filepath.Join(api.CertDir, "sa-signer.key"), api.SecureServing.URL("https", "/").String()
}

// Stop stops the control plane.
func (c *Cluster) Stop() error {
	return c.env.Stop()
}

// UserConfig returns a rest.Config that authenticates as name with the given groups,
// using a client certificate signed by the apiserver's CA: real authentication, so RBAC,
// admission userInfo and impersonation checks see exactly this user.
func (c *Cluster) UserConfig(name string, groups ...string) (*rest.Config, error) {
	u, err := c.env.ControlPlane.AddUser(envtest.User{Name: name, Groups: groups}, c.Admin)
	if err != nil {
		return nil, fmt.Errorf("adding user %s: %w", name, err)
	}
	return u.Config(), nil
}

// Client returns a controller-runtime client for cfg with the cluster's scheme.
func (c *Cluster) Client(cfg *rest.Config) (client.Client, error) {
	return client.New(cfg, client.Options{Scheme: c.Scheme})
}

// RepoRoot finds the repository root by walking up to the directory holding go.mod
// with the kubeask module.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "PROJECT")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root (with PROJECT and go.mod) not found above the working directory")
		}
		dir = parent
	}
}

package main

import (
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// contextName is the context of every kubeconfig the environment writes, so
// `kubectl ask --context kubeask-dev` means this cluster whichever user file is active.
const contextName = "kubeask-dev"

// credential is how a kubeconfig authenticates: a bearer token or a client certificate.
type credential struct {
	Token           string
	CertPEM, KeyPEM []byte
}

// writeKubeconfig writes a self-contained kubeconfig (CA and credential inlined, so the
// file works from any directory) for user at server.
func writeKubeconfig(path, server string, caPEM []byte, user string, cred credential, namespace string) error {
	cfg := clientcmdapi.NewConfig()
	cluster := clientcmdapi.NewCluster()
	cluster.Server = server
	cluster.CertificateAuthorityData = caPEM
	cfg.Clusters[contextName] = cluster
	auth := clientcmdapi.NewAuthInfo()
	auth.Token = cred.Token
	auth.ClientCertificateData = cred.CertPEM
	auth.ClientKeyData = cred.KeyPEM
	cfg.AuthInfos[user] = auth
	kctx := clientcmdapi.NewContext()
	kctx.Cluster = contextName
	kctx.AuthInfo = user
	kctx.Namespace = namespace
	cfg.Contexts[contextName] = kctx
	cfg.CurrentContext = contextName
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	return nil
}

// restConfigFromFile loads a kubeconfig written by writeKubeconfig.
func restConfigFromFile(path string) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig %s: %w", path, err)
	}
	return cfg, nil
}

package oidcissuer_test

import (
	"slices"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubeask/kubeask/internal/testcluster"
	"github.com/kubeask/kubeask/internal/testcluster/oidcissuer"
)

// The API server started with testcluster.Options.OIDC authenticates the issuer's ID
// tokens (its --oidc-* flags): alice's token is alice, with her groups and the
// prefixes; a token for another audience, or signed by another issuer, is not.
func TestAPIServerTrustsTheIssuer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	users := map[string]oidcissuer.User{"alice": {Subject: "alice", Email: "alice@example.com", Groups: []string{"dev", "sre"}}}
	is, err := oidcissuer.New(oidcissuer.Options{Users: users})
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
	stranger, err := oidcissuer.New(oidcissuer.Options{Users: users})
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	cluster, err := testcluster.Start(testcluster.Options{SkipCRDs: true, OIDC: &testcluster.OIDC{
		IssuerURL: is.URL, ClientID: clientID, CAFile: is.CAFile,
		UsernameClaim: "sub", UsernamePrefix: "oidc:", GroupsClaim: "groups", GroupsPrefix: "oidc:",
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cluster.Stop() }()

	whoami := func(token string) (authenticationv1.UserInfo, error) {
		cfg := rest.AnonymousClientConfig(cluster.Admin)
		cfg.BearerToken = token
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		r, err := cs.AuthenticationV1().SelfSubjectReviews().Create(t.Context(), &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil {
			return authenticationv1.UserInfo{}, err
		}
		return r.Status.UserInfo, nil
	}
	alice, err := is.IDToken("alice", clientID, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The API server fetches the issuer's keys in the background after it starts.
	var who authenticationv1.UserInfo
	deadline := time.Now().Add(30 * time.Second)
	for who, err = whoami(alice); err != nil; who, err = whoami(alice) {
		if time.Now().After(deadline) {
			t.Fatalf("the API server does not accept alice's ID token: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if who.Username != "oidc:alice" || !slices.Contains(who.Groups, "oidc:dev") || !slices.Contains(who.Groups, "oidc:sre") {
		t.Errorf("alice is %+v", who)
	}
	for name, token := range map[string]func() (string, error){
		"another audience": func() (string, error) { return is.IDToken("alice", "someone-else", nil) },
		"another issuer":   func() (string, error) { return stranger.IDToken("alice", clientID, nil) },
		"another issuer claiming to be this one": func() (string, error) {
			return stranger.IDToken("alice", clientID, func(c *oidcissuer.Claims) { c.Issuer = is.URL })
		},
		"expired": func() (string, error) {
			return is.IDToken("alice", clientID, func(c *oidcissuer.Claims) { c.Expiry = time.Now().Add(-time.Minute).Unix() })
		},
	} {
		tok, err := token()
		if err != nil {
			t.Fatal(err)
		}
		if who, err := whoami(tok); !apierrors.IsUnauthorized(err) {
			t.Errorf("%s: want 401, got %+v, %v", name, who, err)
		}
	}
}

package mcp_test

import (
	"net/http"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	kmcp "github.com/kubeask/kubeask/internal/mcp"
	"github.com/kubeask/kubeask/internal/mcp/auth"
)

// A revoked token stops working once the cached review expires: here a token bound
// to a Secret, with the cache bound shortened to a second.
func TestRevokedTokenStopsWorking(t *testing.T) {
	f := env(t)
	ctx := t.Context()
	cs, err := kubernetes.NewForConfig(f.cluster.Admin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ServiceAccounts("team-b").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "revoked"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	anchor, err := cs.CoreV1().Secrets("team-b").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "token-anchor"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts("team-b").CreateToken(ctx, "revoked", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		Audiences:      []string{"kubeask-mcp"},
		BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Secret", APIVersion: "v1", Name: anchor.Name, UID: anchor.UID},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ts := newServer(t, func(c *kmcp.Config) {
		reviews, err := kubernetes.NewForConfig(f.operatorCfg)
		if err != nil {
			t.Fatal(err)
		}
		c.Authenticator = &auth.Cached{TTL: time.Second, Inner: &auth.TokenReview{Reviews: reviews.AuthenticationV1().TokenReviews(), Audiences: []string{"kubeask-mcp"}}}
	})
	if code, _ := rawPost(t, ts.URL, tr.Status.Token, initializeBody); code != http.StatusOK {
		t.Fatalf("fresh token: status %d", code)
	}
	if err := cs.CoreV1().Secrets("team-b").Delete(ctx, anchor.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The API server caches successful token authentications itself, for 10 s: the
	// token stops working once that cache and the endpoint's (a second here) expired,
	// about 11 s after the first review.
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, _ := rawPost(t, ts.URL, tr.Status.Token, initializeBody)
		if code == http.StatusUnauthorized {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the revoked token still works after 20s (status %d)", code)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

package mcp_test

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kmcp "github.com/kubeask/kubeask/internal/mcp"
)

// Two tokens of one user that differ only in their extra (two ServiceAccount tokens:
// the API server gives each its own credential-id) are two callers: a legacy SSE
// session and a signed confirmation of one are refused to the other. (The client
// cache is tested in envs_test.go; ServiceAccounts are impersonated by name alone, so
// sharing clients between them would not show here.)
func TestTokensWithDifferentExtrasAreDifferentCallers(t *testing.T) {
	f := env(t)
	ctx := t.Context()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "extras", Namespace: "team-a"}}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "extras", Namespace: "team-a"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "team-member"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "extras", Namespace: "team-a"}},
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "extras-victim", Namespace: "team-a"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "x:1"}}}}
	for _, o := range []client.Object{sa, binding, pod} {
		if err := f.admin.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	first := requestToken(t, "extras", nil)
	second := requestToken(t, "extras", nil)
	// The premise: one user, one uid, the same groups, different extra.
	u1, u2 := reviewToken(t, first), reviewToken(t, second)
	if u1.Username != u2.Username || u1.UID != u2.UID || !reflect.DeepEqual(u1.Groups, u2.Groups) || reflect.DeepEqual(u1.Extra, u2.Extra) {
		t.Fatalf("the two tokens should differ in extra only: %+v and %+v", u1, u2)
	}

	ts := newServer(t, func(c *kmcp.Config) { c.Options.Mutations = kmcp.MutationsPropose })

	// Legacy SSE: each caller has a handler of its own, so the other token finds no
	// such session.
	var sessionURL string
	sseClient := mcp.NewClient(&mcp.Implementation{Name: "sse-test", Version: "v0"}, nil)
	sse, err := sseClient.Connect(ctx, &mcp.SSEClientTransport{Endpoint: ts.Base + kmcp.PathSSE,
		HTTPClient: &http.Client{Transport: recordEndpoint{bearer{first, http.DefaultTransport}, &sessionURL}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sse.Close() }()
	if text, isErr := callTool(t, sse, "resources_list", map[string]any{"resource": "pods", "namespace": "team-a"}); isErr || !strings.Contains(text, "extras-victim") {
		t.Fatalf("SSE as the first token: error=%v:\n%s", isErr, text)
	}
	if sessionURL == "" {
		t.Fatal("no SSE session endpoint seen")
	}
	listCall := `{"jsonrpc":"2.0","id":99,"method":"tools/call","params":{"name":"resources_list","arguments":{"resource":"pods","namespace":"team-a"}}}`
	if code, _ := rawPost(t, sessionURL, second, listCall); code != http.StatusNotFound {
		t.Errorf("the second token posting to the first token's SSE session: status %d, want 404", code)
	}

	// A confirmation signed for the first token does not confirm the second's call.
	del := &mcp.CallToolParams{Name: "resources_delete", Arguments: map[string]any{"resource": "pods", "namespace": "team-a", "name": "extras-victim"}}
	manual := &mcp.ClientOptions{
		ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			t.Error("the client was asked although it answers confirmations itself")
			return &mcp.ElicitResult{Action: "decline"}, nil
		},
		MultiRoundTrip: &mcp.MultiRoundTripOptions{Disabled: true},
	}
	asked, err := connect(t, ts.URL, first, manual).CallTool(ctx, del)
	if err != nil || asked.RequestState == "" {
		t.Fatalf("the first token's delete should ask for confirmation: err=%v result=%+v", err, asked)
	}
	accept := mcp.InputResponseMap{"confirm": &mcp.ElicitResult{Action: "accept", Content: map[string]any{"confirm": true}}}
	replayed := *del
	replayed.InputResponses, replayed.RequestState = accept, asked.RequestState
	res, err := connect(t, ts.URL, second, manual).CallTool(ctx, &replayed)
	if err != nil || !res.IsError || !strings.Contains(resultText(res), "does not match") {
		t.Errorf("the second token replaying the first token's confirmation: err=%v result=%s", err, resultText(res))
	}
	if err := f.admin.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{}); err != nil {
		t.Fatalf("the pod is gone after a refused confirmation: %v", err)
	}
	// The same confirmation is good for the token it was signed for.
	res, err = connect(t, ts.URL, first, manual).CallTool(ctx, &replayed)
	if err != nil || res.IsError {
		t.Fatalf("the first token confirming its own call: err=%v result=%s", err, resultText(res))
	}
	got := &corev1.Pod{}
	if err := f.admin.Get(ctx, client.ObjectKeyFromObject(pod), got); !apierrors.IsNotFound(err) && got.DeletionTimestamp == nil {
		t.Errorf("the confirmed delete did not happen: %v", err)
	}
}

// reviewToken asks the API server who a token is.
func reviewToken(t *testing.T, token string) authenticationv1.UserInfo {
	t.Helper()
	cs, err := kubernetes.NewForConfig(env(t).cluster.Admin)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := cs.AuthenticationV1().TokenReviews().Create(t.Context(), &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Status.Authenticated {
		t.Fatalf("token not authenticated: %s", tr.Status.Error)
	}
	return tr.Status.User
}

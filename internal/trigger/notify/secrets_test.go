package notify_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// TestSecretsAreReadAsTheRequester reads the targets' Secrets as real users of an
// API server with RBAC: alice may get the Secret "hook" (and "gone", which does not
// exist), bob may read nothing. A trigger of bob's must not be able to use alice's
// webhook, and nothing may be posted when a Secret cannot be read.
func TestSecretsAreReadAsTheRequester(t *testing.T) {
	ns := newNamespace(t)
	rc := newReceiver(t, ok)
	for _, obj := range []client.Object{
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: ns},
			Data:       map[string][]byte{"url": []byte(rc.URL + "/alice"), "token": []byte("alice-token")},
		},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: ns},
			Data:       map[string][]byte{"token": []byte("not-for-alice")},
		},
		&rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "read-hook", Namespace: ns},
			Rules: []rbacv1.PolicyRule{{
				APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"},
				ResourceNames: []string{"hook", "gone"},
			}},
		},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "alice-reads-hook", Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "read-hook"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "alice"}},
		},
	} {
		if err := admin.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}

	userClient := func(cfg *rest.Config, err error) client.Client {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		c, err := cluster.Client(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	alice := userClient(cluster.UserConfig("alice", "dev"))
	bob := userClient(cluster.UserConfig("bob", "dev"))
	// What the operator does: its own identity, impersonating the trigger's requester.
	asBob := rest.CopyConfig(cluster.Admin)
	asBob.Impersonate = rest.ImpersonationConfig{UserName: "bob", Groups: []string{"dev", "system:authenticated"}}
	operatorAsBob := userClient(asBob, nil)

	ref := func(name, key string) agentsv1alpha1.SecretKeySelector {
		return agentsv1alpha1.SecretKeySelector{Name: name, Key: key}
	}
	hook := &agentsv1alpha1.WebhookTarget{URLSecretRef: ref("hook", "url"), TokenSecretRef: &agentsv1alpha1.SecretKeySelector{Name: "hook", Key: "token"}}
	tests := []struct {
		name    string
		secrets client.Reader
		target  *agentsv1alpha1.WebhookTarget
		// want is the error; empty means delivered.
		want []string
	}{
		{name: "alice reads her Secret", secrets: alice, target: hook},
		{
			name: "bob may not read it", secrets: bob, target: hook,
			want: []string{"webhook: the requester may not read Secret " + ns + "/hook (the URL): ", `User "bob" cannot get resource "secrets"`},
		},
		{
			name: "nor may the operator impersonating bob", secrets: operatorAsBob, target: hook,
			want: []string{"webhook: the requester may not read Secret " + ns + "/hook (the URL): ", `User "bob" cannot get resource "secrets"`},
		},
		{
			name: "alice may not read the token Secret", secrets: alice,
			target: &agentsv1alpha1.WebhookTarget{URLSecretRef: ref("hook", "url"), TokenSecretRef: &agentsv1alpha1.SecretKeySelector{Name: "other", Key: "token"}},
			want:   []string{"webhook: the requester may not read Secret " + ns + "/other (the token): ", `User "alice" cannot get resource "secrets"`},
		},
		{
			name: "a Secret that does not exist", secrets: alice,
			target: &agentsv1alpha1.WebhookTarget{URLSecretRef: ref("gone", "url")},
			want:   []string{"webhook: Secret " + ns + "/gone (the URL) not found"},
		},
		{
			name: "a key that does not exist", secrets: alice,
			target: &agentsv1alpha1.WebhookTarget{URLSecretRef: ref("hook", "webhook-url")},
			want:   []string{"webhook: Secret " + ns + `/hook has no key "webhook-url" (the URL)`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(rc.got())
			clock := newFakeClock()
			res := clock.notifier().Deliver(t.Context(), tt.secrets, ns, &agentsv1alpha1.Notify{Webhook: tt.target}, sampleMessage())
			posted := rc.got()[before:]
			if len(tt.want) == 0 {
				if !res.Delivered() || len(posted) != 1 || posted[0].Path != "/alice" || posted[0].Header.Get("Authorization") != "Bearer alice-token" {
					t.Fatalf("result %+v, posted %+v", res, posted)
				}
				return
			}
			if len(posted) != 0 || len(clock.waits()) != 0 || res.Targets[0].Attempts != 0 {
				t.Errorf("posted %d, waits %v, attempts %d", len(posted), clock.waits(), res.Targets[0].Attempts)
			}
			for _, w := range tt.want {
				if !strings.Contains(res.Error(), w) {
					t.Errorf("error %q does not say %q", res.Error(), w)
				}
			}
			if strings.Contains(res.Error(), rc.URL) || strings.Contains(res.Error(), "alice-token") {
				t.Errorf("error shows a value of the Secret: %q", res.Error())
			}
		})
	}
}

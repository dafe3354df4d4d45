package tools

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestKubectlDenials(t *testing.T) {
	for _, tc := range []struct {
		name, stderr string
		want         []Access
	}{
		{"none", "Error from server (NotFound): pods \"x\" not found\n", nil},
		{"a list in a namespace",
			`Error from server (Forbidden): pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "team-b"`,
			[]Access{{Verb: "list", Resource: "pods", Namespace: "team-b"}}},
		{"a named object of a group",
			`Error from server (Forbidden): deployments.apps "web" is forbidden: User "alice" cannot patch resource "deployments" in API group "apps" in the namespace "team-b"`,
			[]Access{{Verb: "patch", Resource: "deployments", Namespace: "team-b", Name: "web"}}},
		{"cluster scope", `Error from server (Forbidden): nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" at the cluster scope`,
			[]Access{{Verb: "list", Resource: "nodes"}}},
		{"a subresource", `Error from server (Forbidden): pods "p" is forbidden: User "system:serviceaccount:a:b" cannot get resource "pods/log" in API group "" in the namespace "a"`,
			[]Access{{Verb: "get", Resource: "pods/log", Namespace: "a", Name: "p"}}},
		{"apply from stdin, twice the same", "Error from server (Forbidden): error when creating \"STDIN\": configmaps is forbidden: User \"alice\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"team-b\"\n" +
			"Error from server (Forbidden): error when creating \"STDIN\": configmaps is forbidden: User \"alice\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"team-b\"\n",
			[]Access{{Verb: "create", Resource: "configmaps", Namespace: "team-b"}}},
		{"a path", `Error from server (Forbidden): User "system:anonymous" cannot get path "/apis"`, []Access{{Verb: "get", Resource: "/apis"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := kubectlDenials(tc.stderr); !slices.Equal(got, tc.want) {
				t.Errorf("kubectlDenials = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// Refusal gives the reason a call is refused before anyone decides whether it may
// change the cluster: the schema, then the kubectl tool's argument rules.
func TestRefusal(t *testing.T) {
	kubectl := kubectlTool()
	for _, tc := range []struct {
		args, want string
	}{
		{`{"args":["get","pods"]}`, ""},
		{`{"args":["delete","pod","x"]}`, ""},
		{`{"args":["get","pods","--as","admin"]}`, "--as is not allowed (credentials)"},
		{`{"args":["config","view"]}`, `"config" is not an allowed kubectl command`},
		{`{"args":"get pods"}`, "invalid arguments for kubectl"},
		{`{"args":["get","secret","x","-o","jsonpath={.data}"]}`, "could print secret values"},
	} {
		err := kubectl.Refusal(json.RawMessage(tc.args), OutputPolicy{})
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Refusal(%s) = %v, want %q", tc.args, err, tc.want)
		}
	}
	if err := kubectl.Refusal(json.RawMessage(`{"args":["get","secret","x","-o","jsonpath={.data}"]}`), OutputPolicy{AllowSecretValues: true}); err != nil {
		t.Errorf("with secret values allowed: %v", err)
	}
}

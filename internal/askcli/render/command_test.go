package render

import "testing"

func TestCommand(t *testing.T) {
	tests := []struct {
		tool, args, want string
	}{
		{"resources_list", `{"resource":"pods","namespace":"team-a","labelSelector":"app=checkout"}`, "kubectl get pods -n team-a -l app=checkout"},
		{"resources_list", `{"resource":"deploy","allNamespaces":true}`, "kubectl get deploy -A"},
		{"resources_get", `{"resource":"deployment","name":"checkout","namespace":"team-a","apiVersion":"apps/v1"}`, "kubectl get deployment.v1.apps checkout -n team-a -o yaml"},
		{"resources_describe", `{"resource":"pod","name":"p"}`, "kubectl describe pod p"},
		{"events_list", `{"namespace":"x","objectName":"p","objectKind":"Pod","warningsOnly":true}`, "kubectl events -n x --for Pod/p --types=Warning"},
		{"pods_log", `{"name":"p","namespace":"x","previous":true,"tailLines":50}`, "kubectl logs p -n x --previous --tail=50"},
		{"rollout_status", `{"kind":"Deployment","name":"checkout","namespace":"team-a"}`, "kubectl rollout status deployment/checkout -n team-a"},
		{"auth_can_i", `{"verb":"delete","resource":"pods","namespace":"x"}`, "kubectl auth can-i delete pods -n x"},
		{"resources_scale", `{"resource":"deployment","name":"checkout","namespace":"team-a","replicas":4}`, "kubectl scale deployment/checkout --replicas=4 -n team-a"},
		{"resources_patch", `{"resource":"deployment","name":"c","namespace":"a","patch":"{ \"spec\": {\"paused\": true} }"}`, `kubectl patch deployment c -n a --type strategic -p '{"spec":{"paused":true}}'`},
		{"resources_apply", `{"manifest":"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\nkind: Secret\nmetadata:\n  name: b\n","namespace":"x"}`, "kubectl apply --server-side -f - -n x # ConfigMap/a, Secret/b"},
		{"resources_delete", `{"resource":"pod","name":"p","namespace":"x"}`, "kubectl delete pod p -n x"},
		{"kubectl", `{"args":["get","pods","-l","app in (a,b)"]}`, `kubectl get pods -l 'app in (a,b)'`},
		{"mystery", `{"a":1}`, `mystery {"a":1}`},
		{"resources_get", `not json`, `resources_get not json`},
	}
	for _, tt := range tests {
		if got := Command(tt.tool, tt.args); got != tt.want {
			t.Errorf("Command(%s, %s)\n got %s\nwant %s", tt.tool, tt.args, got, tt.want)
		}
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{"a": "a", "": "''", "it's": `'it'\''s'`, "a b": "'a b'", "app=x,y": "app=x,y"} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

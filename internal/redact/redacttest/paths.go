package redacttest

import (
	"encoding/json"
)

// Call is one tool call of a read path.
type Call struct {
	Tool, Args string
	// RawOnly calls print what cannot be redacted: refused unless secret values are
	// allowed, and then never recorded.
	RawOnly bool
	// Want is a part of the result the call shows in both profiles, so that a refused
	// or failed call cannot pass for a redacted one.
	Want string
}

// ReadPaths are every read path of every built-in tool over the planted objects: each
// object through resources_get, resources_describe, resources_list and kubectl get
// (yaml, json, wide) and describe; the other read tools; and the kubectl commands that
// print objects or their values another way (lists, apply view-last-applied, diff,
// set env --list, rollout history, events, create token, a label or an annotation
// printed with -o, and jsonpath, --raw and --resolve where the profile allows them).
func (p *Plants) ReadPaths() []Call {
	ns := p.Namespace
	obj := func(resource, name string) string {
		return `{"resource":"` + resource + `","name":"` + name + `","namespace":"` + ns + `"}`
	}
	k := func(args ...string) string { return kubectlJSON(args, "") }
	diffDeploy := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + Deployment + "\n  namespace: " + ns +
		"\nspec:\n  selector:\n    matchLabels: {app: " + Deployment + "}\n  template:\n    metadata:\n      labels: {app: " + Deployment +
		"}\n    spec:\n      containers:\n      - name: app\n        image: app:2\n"
	diffSecret := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: " + OpaqueSecret + "\n  namespace: " + ns + "\nstringData:\n  extra: added-by-the-model\n"
	var calls []Call
	for _, r := range []struct{ resource, name string }{
		{"secret", OpaqueSecret}, {"secret", AppliedSecret}, {"deployment", Deployment},
		{"pod", Pod}, {"replicaset", ReplicaSet}, {"serviceaccount", ServiceAccount},
	} {
		calls = append(calls,
			Call{Tool: "resources_get", Args: obj(r.resource, r.name), Want: r.name},
			Call{Tool: "resources_describe", Args: obj(r.resource, r.name), Want: "Events:"},
			Call{Tool: "resources_list", Args: `{"resource":"` + r.resource + `","namespace":"` + ns + `"}`, Want: r.name},
			Call{Tool: "kubectl", Args: k("get", r.resource, r.name, "-n", ns, "-o", "yaml"), Want: r.name},
			Call{Tool: "kubectl", Args: k("get", r.resource, r.name, "-n", ns, "-o", "json"), Want: r.name},
			Call{Tool: "kubectl", Args: k("get", r.resource, r.name, "-n", ns, "-o", "wide"), Want: r.name},
			Call{Tool: "kubectl", Args: k("describe", r.resource, r.name, "-n", ns), Want: r.name},
		)
	}
	return append(calls,
		Call{Tool: "events_list", Args: `{"namespace":"` + ns + `"}`},
		Call{Tool: "pods_log", Args: `{"name":"` + Pod + `","namespace":"` + ns + `"}`},
		Call{Tool: "rollout_status", Args: `{"kind":"deployment","name":"` + Deployment + `","namespace":"` + ns + `"}`, Want: Deployment},
		Call{Tool: "rollout_history", Args: `{"kind":"deployment","name":"` + Deployment + `","namespace":"` + ns + `"}`, Want: ReplicaSet},
		Call{Tool: "api_resources", Args: `{"apiGroup":"core"}`, Want: "secrets"},
		Call{Tool: "auth_can_i", Args: `{"verb":"get","resource":"secrets","namespace":"` + ns + `"}`, Want: "yes"},
		Call{Tool: "kubectl", Args: k("get", "secrets,deployments,pods,replicasets", "-n", ns, "-o", "yaml"), Want: "kind: List"},
		Call{Tool: "kubectl", Args: k("get", "deployments,replicasets,secrets", "-n", ns, "-o", "json"), Want: Deployment},
		Call{Tool: "kubectl", Args: k("get", "secrets", "-n", ns), Want: OpaqueSecret},
		Call{Tool: "kubectl", Args: k("get", "secrets", "-n", ns, "-o", "name"), Want: OpaqueSecret},
		Call{Tool: "kubectl", Args: k("apply", "view-last-applied", "secret/"+AppliedSecret, "-n", ns), Want: "kind: Secret"},
		Call{Tool: "kubectl", Args: k("apply", "view-last-applied", "deployment/"+Deployment, "-n", ns, "-o", "json"), Want: "DB_PASSWORD"},
		Call{Tool: "kubectl", Args: kubectlJSON([]string{"diff", "-f", "-"}, diffDeploy), Want: "+        image: app:2"},
		Call{Tool: "kubectl", Args: kubectlJSON([]string{"diff", "-f", "-"}, diffSecret), Want: "Secret"},
		Call{Tool: "kubectl", Args: kubectlJSON([]string{"diff", "-f", "-", "--show-secrets"}, diffSecret), Want: "Secret"},
		Call{Tool: "kubectl", Args: k("set", "env", "deployment/"+Deployment, "-n", ns, "--list"), Want: "MODE=fast"},
		Call{Tool: "kubectl", Args: k("rollout", "history", "deployment/"+Deployment, "-n", ns), Want: "REVISION"},
		Call{Tool: "kubectl", Args: k("rollout", "history", "deployment/"+Deployment, "-n", ns, "--revision=1"), Want: "DB_PASSWORD"},
		Call{Tool: "kubectl", Args: k("rollout", "history", "deployment/"+Deployment, "-n", ns, "--revision=1", "-o", "yaml"), Want: "DB_PASSWORD"},
		Call{Tool: "kubectl", Args: k("events", "-n", ns)},
		Call{Tool: "kubectl", Args: k("create", "token", ServiceAccount, "-n", ns)},
		Call{Tool: "kubectl", Args: k("create", "token", ServiceAccount, "-n", ns, "-o", "yaml"), Want: "kind: TokenRequest"},
		// Commands that change something print the object they changed.
		Call{Tool: "kubectl", Args: k("label", "deployment", Deployment, "-n", ns, "checked=yes", "--dry-run=server", "-o", "yaml"), Want: "checked: \"yes\""},
		Call{Tool: "kubectl", Args: k("annotate", "secret", OpaqueSecret, "-n", ns, "checked=yes", "--dry-run=server", "-o", "json"), Want: "checked"},
		// Only for a profile that allows secret values.
		Call{Tool: "kubectl", Args: k("get", "secret", OpaqueSecret, "-n", ns, "-o", "jsonpath={.data.blob}"), RawOnly: true},
		Call{Tool: "kubectl", Args: k("get", "deployment", Deployment, "-n", ns, "-o", "jsonpath={.spec.template.spec.containers[0].env}"), RawOnly: true},
		Call{Tool: "kubectl", Args: k("get", "--raw", "/api/v1/namespaces/"+ns+"/secrets/"+OpaqueSecret), RawOnly: true},
		Call{Tool: "kubectl", Args: k("set", "env", "deployment/"+Deployment, "-n", ns, "--list", "--resolve"), RawOnly: true},
	)
}

// kubectlJSON is the arguments of the kubectl tool.
func kubectlJSON(args []string, stdin string) string {
	in := map[string]any{"args": args}
	if stdin != "" {
		in["stdin"] = stdin
	}
	b, err := json.Marshal(in)
	if err != nil {
		panic(err) // strings always encode
	}
	return string(b)
}

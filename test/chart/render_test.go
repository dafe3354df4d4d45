package chart_test

import (
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeask/kubeask/internal/manifest"
)

// impersonateOnVerbs returns the impersonate-on:<mode>:<verb> verbs of a ClusterRole's rules.
func impersonateOnVerbs(cr *rbacv1.ClusterRole, mode string) []string {
	var out []string
	for _, r := range cr.Rules {
		for _, v := range r.Verbs {
			// The general grant (every group and resource); triggersRule checks the one
			// narrower grant, create on agentqueries.
			if after, ok := strings.CutPrefix(v, "impersonate-on:"+mode+":"); ok && len(r.NonResourceURLs) == 0 && slices.Equal(r.Resources, []string{"*"}) {
				out = append(out, after)
			}
		}
	}
	slices.Sort(out)
	return out
}

// triggersRule returns the rules that let the manager create AgentQueries as a
// trigger's author.
func triggersRule(cr *rbacv1.ClusterRole) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	for _, r := range cr.Rules {
		if slices.Contains(r.Verbs, "impersonate-on:user-info:create") && !slices.Equal(r.Resources, []string{"*"}) {
			out = append(out, r)
		}
	}
	return out
}

func hasVerb(cr *rbacv1.ClusterRole, verb string) bool {
	for _, r := range cr.Rules {
		if slices.Contains(r.Verbs, verb) {
			return true
		}
	}
	return false
}

func leaseRules(role *rbacv1.Role) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	for _, r := range role.Rules {
		if slices.Contains(r.Resources, "leases") {
			out = append(out, r)
		}
	}
	return out
}

// checkLease checks that the chart owns the leader-election Lease the manager is told to
// use, and that the manager may only get and update it: without create, a replica still
// running during `helm uninstall` cannot bring it back.
func checkLease(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	lease := one(t, objs, "Lease")
	if lease.GetName() != leaseName || lease.GetNamespace() != releaseNamespace || lease.Object["spec"] != nil {
		t.Errorf("Lease %s/%s with spec %v, want an empty %s/%s", lease.GetNamespace(), lease.GetName(), lease.Object["spec"], releaseNamespace, leaseName)
	}
	// TestManagerAcceptsTheChartsArguments checks that the manager elects on this name.
	role := convert[rbacv1.Role](t, managerRole(t, objs))
	want := []rbacv1.PolicyRule{{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, ResourceNames: []string{leaseName}, Verbs: []string{"get", "update"}}}
	if got := leaseRules(role); !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("Lease rules = %+v, want %+v", got, want)
	}
}

func secretRules(role *rbacv1.Role) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	for _, r := range role.Rules {
		if slices.Contains(r.Resources, "secrets") {
			out = append(out, r)
		}
	}
	return out
}

// TestChartRendersAndApplies renders the chart in each supported value combination and
// server-side dry-run applies every object (CRDs, RBAC, Deployment, admission policies or
// webhook configurations) to a real API server, which validates them fully.
func TestChartRendersAndApplies(t *testing.T) {
	ensureNamespace(t, releaseNamespace, nil)
	apiKeys := valuesFile(t, `
apiKeySecrets: [kubeask-openai]
config:
  models:
    - name: gemini-flash
      provider: gemini
      model: gemini-2.5-flash
      apiKeySecretRef: {name: kubeask-gemini, key: apiKey}
`)
	readWrite := []string{"create", "delete", "get", "list", "patch", "update", "watch"}
	readOnly := []string{"get", "list", "watch"}

	cases := []struct {
		name  string
		args  []string
		check func(t *testing.T, objs []*unstructured.Unstructured)
	}{{
		name: "default",
		check: func(t *testing.T, objs []*unstructured.Unstructured) {
			if n := len(find(objs, "MutatingAdmissionPolicy")) + len(find(objs, "ValidatingAdmissionPolicy")); n != 6 {
				t.Errorf("want 6 admission policies, got %d", n)
			}
			if n := len(find(objs, "MutatingWebhookConfiguration")) + len(find(objs, "ValidatingWebhookConfiguration")); n != 0 {
				t.Errorf("policy mode rendered %d webhook configurations", n)
			}
			cr := convert[rbacv1.ClusterRole](t, one(t, objs, "ClusterRole"))
			if got := impersonateOnVerbs(cr, "user-info"); !slices.Equal(got, readWrite) {
				t.Errorf("impersonate-on:user-info verbs = %v, want %v", got, readWrite)
			}
			if got := impersonateOnVerbs(cr, "serviceaccount"); !slices.Equal(got, readWrite) {
				t.Errorf("impersonate-on:serviceaccount verbs = %v, want %v", got, readWrite)
			}
			if hasVerb(cr, "impersonate") {
				t.Error("constrained mode must not grant the legacy impersonate verb")
			}
			role := convert[rbacv1.Role](t, managerRole(t, objs))
			if s := secretRules(role); len(s) != 0 {
				t.Errorf("default Role grants Secrets: %+v", s)
			}
			if n := len(find(objs, "Secret")); n != 0 {
				t.Errorf("policy mode rendered %d Secrets", n)
			}
			checkLease(t, objs)
			dep := convert[appsv1.Deployment](t, one(t, objs, "Deployment"))
			args := dep.Spec.Template.Spec.Containers[0].Args
			for _, want := range []string{"--admission=policy", "--leader-elect", "--config=/etc/kubeask/config.yaml"} {
				if !slices.Contains(args, want) {
					t.Errorf("manager args %v lack %s", args, want)
				}
			}
			if *dep.Spec.Replicas != 2 {
				t.Errorf("replicas = %d, want 2", *dep.Spec.Replicas)
			}
			svc := convert[corev1.Service](t, one(t, objs, "Service"))
			for _, p := range svc.Spec.Ports {
				if p.Name == "mcp" {
					t.Error("the MCP port is exposed although mcp.enabled is false")
				}
			}
		},
	}, {
		name: "webhook",
		args: []string{"--set", "admission.mode=webhook"},
		check: func(t *testing.T, objs []*unstructured.Unstructured) {
			if n := len(find(objs, "MutatingAdmissionPolicy")) + len(find(objs, "ValidatingAdmissionPolicy")); n != 0 {
				t.Errorf("webhook mode rendered %d admission policies", n)
			}
			mwc := convert[admissionregistrationv1.MutatingWebhookConfiguration](t, one(t, objs, "MutatingWebhookConfiguration"))
			vwc := convert[admissionregistrationv1.ValidatingWebhookConfiguration](t, one(t, objs, "ValidatingWebhookConfiguration"))
			if mwc.Name != "webhook-kubeask" || vwc.Name != "webhook-kubeask" {
				t.Errorf("webhook configuration names %q, %q, want the full name webhook-kubeask", mwc.Name, vwc.Name)
			}
			check := func(kind string, cc admissionregistrationv1.WebhookClientConfig, fp *admissionregistrationv1.FailurePolicyType, se *admissionregistrationv1.SideEffectClass, rules []admissionregistrationv1.RuleWithOperations, path string) {
				if len(cc.CABundle) != 0 {
					t.Errorf("%s has a caBundle; the manager injects its own", kind)
				}
				if cc.Service == nil || cc.Service.Name != "webhook-kubeask-webhook" || cc.Service.Path == nil || *cc.Service.Path != path || *cc.Service.Port != 443 {
					t.Errorf("%s clientConfig = %+v, want service webhook-kubeask-webhook:443%s", kind, cc.Service, path)
				}
				if *fp != admissionregistrationv1.Fail || *se != admissionregistrationv1.SideEffectClassNone {
					t.Errorf("%s failurePolicy %s sideEffects %s", kind, *fp, *se)
				}
				// The validating webhook also sees status writes, which only the operator may make.
				want := 1
				if kind == "ValidatingWebhookConfiguration" {
					want = 2
				}
				if len(rules) != want || !slices.Equal(rules[0].Resources, []string{"agentqueries", "agentsessions", "agenttriggers"}) ||
					!slices.Equal(rules[0].Operations, []admissionregistrationv1.OperationType{"CREATE", "UPDATE"}) {
					t.Errorf("%s rules = %+v", kind, rules)
				}
				if want == 2 && (!slices.Equal(rules[1].Resources, []string{"agentqueries/status", "agentsessions/status"}) ||
					!slices.Equal(rules[1].Operations, []admissionregistrationv1.OperationType{"UPDATE"})) {
					t.Errorf("%s status rule = %+v", kind, rules[1])
				}
			}
			check("MutatingWebhookConfiguration", mwc.Webhooks[0].ClientConfig, mwc.Webhooks[0].FailurePolicy, mwc.Webhooks[0].SideEffects, mwc.Webhooks[0].Rules, "/mutate-requester")
			check("ValidatingWebhookConfiguration", vwc.Webhooks[0].ClientConfig, vwc.Webhooks[0].FailurePolicy, vwc.Webhooks[0].SideEffects, vwc.Webhooks[0].Rules, "/validate-requester")
			var svc *corev1.Service
			for _, s := range find(objs, "Service") {
				if s.GetName() == "webhook-kubeask-webhook" {
					svc = convert[corev1.Service](t, s)
				}
			}
			if svc == nil || svc.Spec.Ports[0].Port != 443 || svc.Spec.Ports[0].TargetPort.String() != "webhook" {
				t.Fatalf("webhook Service missing or wrong: %+v", svc)
			}
			dep := convert[appsv1.Deployment](t, one(t, objs, "Deployment"))
			c := dep.Spec.Template.Spec.Containers[0]
			for _, want := range []string{"--admission=webhook", "--webhook-secret-name=webhook-kubeask-webhook-tls", "--webhook-configuration-name=webhook-kubeask", "--webhook-service-name=webhook-kubeask-webhook", "--webhook-port=9443"} {
				if !slices.Contains(c.Args, want) {
					t.Errorf("manager args %v lack %s", c.Args, want)
				}
			}
			if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "webhook" && p.ContainerPort == 9443 }) {
				t.Errorf("container ports %+v lack webhook 9443", c.Ports)
			}
			// The chart creates the webhook Secret empty, so the release owns it (and helm
			// uninstall deletes the CA's private key); the manager may get, update and patch
			// that one Secret, and create none.
			sec := convert[corev1.Secret](t, one(t, objs, "Secret"))
			if sec.Name != "webhook-kubeask-webhook-tls" || sec.Namespace != releaseNamespace || sec.Type != corev1.SecretTypeOpaque || len(sec.Data)+len(sec.StringData) != 0 {
				t.Errorf("webhook Secret %s/%s type %s with %d keys, want an empty Opaque %s/webhook-kubeask-webhook-tls", sec.Namespace, sec.Name, sec.Type, len(sec.Data)+len(sec.StringData), releaseNamespace)
			}
			role := convert[rbacv1.Role](t, managerRole(t, objs))
			want := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"webhook-kubeask-webhook-tls"}, Verbs: []string{"get", "update", "patch"}}}
			if got := secretRules(role); !equality.Semantic.DeepEqual(got, want) {
				t.Errorf("Secret rules = %+v, want %+v", got, want)
			}
			checkLease(t, objs)
			cr := convert[rbacv1.ClusterRole](t, one(t, objs, "ClusterRole"))
			found := false
			for _, r := range cr.Rules {
				if slices.Contains(r.Resources, "mutatingwebhookconfigurations") {
					found = slices.Equal(r.ResourceNames, []string{"webhook-kubeask"})
				}
			}
			if !found {
				t.Error("the ClusterRole does not grant its own webhook configurations by name")
			}
		},
	}, {
		name: "without-leader-election",
		args: []string{"--set", "leaderElection.enabled=false", "--set", "replicaCount=1"},
		check: func(t *testing.T, objs []*unstructured.Unstructured) {
			if n := len(find(objs, "Lease")); n != 0 {
				t.Errorf("leader election off, yet the chart renders %d Lease(s)", n)
			}
			if r := leaseRules(convert[rbacv1.Role](t, managerRole(t, objs))); len(r) != 0 {
				t.Errorf("leader election off, yet the Role grants Leases: %+v", r)
			}
			dep := convert[appsv1.Deployment](t, one(t, objs, "Deployment"))
			for _, a := range dep.Spec.Template.Spec.Containers[0].Args {
				if strings.HasPrefix(a, "--leader-elect") {
					t.Errorf("leader election off, yet the manager gets %s", a)
				}
			}
		},
	}, {
		name: "legacy",
		args: []string{"--set", "impersonation.mode=legacy"},
		check: func(t *testing.T, objs []*unstructured.Unstructured) {
			cr := convert[rbacv1.ClusterRole](t, one(t, objs, "ClusterRole"))
			if !hasVerb(cr, "impersonate") {
				t.Error("legacy mode does not grant impersonate")
			}
			if got := impersonateOnVerbs(cr, "user-info"); len(got) != 0 {
				t.Errorf("legacy mode grants impersonate-on verbs %v", got)
			}
		},
	}, {
		name: "readonly",
		args: []string{"--set", "agent.allowedModes={ReadOnly}"},
		check: func(t *testing.T, objs []*unstructured.Unstructured) {
			cr := convert[rbacv1.ClusterRole](t, one(t, objs, "ClusterRole"))
			if got := impersonateOnVerbs(cr, "user-info"); !slices.Equal(got, readOnly) {
				t.Errorf("impersonate-on:user-info verbs = %v, want %v", got, readOnly)
			}
			if got := impersonateOnVerbs(cr, "serviceaccount"); !slices.Equal(got, readOnly) {
				t.Errorf("impersonate-on:serviceaccount verbs = %v, want %v", got, readOnly)
			}
			// Triggers create their queries as their author: create on agentqueries, nothing else.
			want := []rbacv1.PolicyRule{{APIGroups: []string{"agents.kubeask.dev"}, Resources: []string{"agentqueries"},
				Verbs: []string{"impersonate-on:user-info:create", "impersonate-on:serviceaccount:create"}}}
			if got := triggersRule(cr); !equality.Semantic.DeepEqual(got, want) {
				t.Errorf("trigger rules = %+v, want %+v", got, want)
			}
		},
	}, {
		name: "readonly-without-triggers",
		args: []string{"--set", "agent.allowedModes={ReadOnly}", "--set", "triggers.enabled=false"},
		check: func(t *testing.T, objs []*unstructured.Unstructured) {
			cr := convert[rbacv1.ClusterRole](t, one(t, objs, "ClusterRole"))
			if got := triggersRule(cr); len(got) != 0 {
				t.Errorf("triggers disabled, yet the manager may create queries as users: %+v", got)
			}
			for _, r := range cr.Rules {
				if slices.Contains(r.Resources, "events") && slices.Contains(r.Verbs, "watch") {
					t.Errorf("triggers disabled, yet the manager watches events: %+v", r)
				}
			}
			dep := convert[appsv1.Deployment](t, one(t, objs, "Deployment"))
			if args := dep.Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, "--triggers=false") {
				t.Errorf("manager args %v lack --triggers=false", args)
			}
		},
	}, {
		name: "mcp-and-api-keys",
		args: []string{"--set", "mcp.enabled=true", "--values", apiKeys},
		check: func(t *testing.T, objs []*unstructured.Unstructured) {
			svc := convert[corev1.Service](t, one(t, objs, "Service"))
			if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == "mcp" && p.Port == 8090 }) {
				t.Errorf("Service ports %+v lack mcp 8090", svc.Spec.Ports)
			}
			role := convert[rbacv1.Role](t, managerRole(t, objs))
			s := secretRules(role)
			if len(s) != 1 || !slices.Equal(s[0].ResourceNames, []string{"kubeask-gemini", "kubeask-openai"}) || !slices.Equal(s[0].Verbs, []string{"get"}) {
				t.Errorf("API-key Secret rule = %+v, want get on kubeask-gemini and kubeask-openai only", s)
			}
			cm := convert[corev1.ConfigMap](t, platformConfig(t, objs))
			if !strings.Contains(cm.Data["config.yaml"], "apiKeySecretRef") {
				t.Errorf("config.yaml = %q", cm.Data["config.yaml"])
			}
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs := render(t, tc.name, tc.args...)
			// Every combination: the Namespace exists, so namespaced objects validate; the CRDs
			// were installed by the test cluster and are dry-run applied again here.
			if err := manifest.Apply(t.Context(), adminClient(t), fieldOwner, objs, client.DryRunAll); err != nil {
				t.Fatalf("server-side dry-run apply: %v", err)
			}
			if n := len(find(objs, "CustomResourceDefinition")); n != 3 {
				t.Errorf("want the 3 CRDs with --include-crds, got %d", n)
			}
			for _, cr := range find(objs, "ClusterRole") {
				role := convert[rbacv1.ClusterRole](t, cr)
				for _, r := range role.Rules {
					for _, res := range []string{"secrets", "pods", "deployments", "configmaps"} {
						for _, v := range []string{"get", "list", "watch"} {
							for _, g := range []string{"", "apps"} {
								if ruleGrants(r, g, res, v) {
									t.Errorf("ClusterRole rule %+v grants %s on %s cluster-wide", r, v, res)
								}
							}
						}
					}
				}
			}
			tc.check(t, objs)
		})
	}
}

// TestChartRejectsBadValues checks that values which would install something broken or unsafe
// fail the rendering with a message that says what to do.
func TestChartRejectsBadValues(t *testing.T) {
	inlineKey := valuesFile(t, "config:\n  models:\n    - name: m\n      apiKey: sk-secret\n")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown admission mode", []string{"--set", "admission.mode=magic"}, `admission.mode must be "policy" or "webhook"`},
		{"unknown impersonation mode", []string{"--set", "impersonation.mode=yolo"}, `impersonation.mode must be "constrained" or "legacy"`},
		{"unknown agent mode", []string{"--set", "agent.allowedModes={ReadOnly,Everything}"}, `unknown mode "Everything"`},
		{"API key as a value", []string{"--values", inlineKey}, "API keys must not be values"},
		{"policies on 1.35", []string{"--kube-version", "1.35.0", "--set", "impersonation.mode=legacy"}, "set admission.mode=webhook"},
		{"constrained on 1.35", []string{"--kube-version", "1.35.0", "--set", "admission.mode=webhook"}, "set impersonation.mode=legacy"},
		{"any extra key with legacy", []string{"--set", "impersonation.mode=legacy", "--set", "impersonation.userExtraKeys={*}"}, "only supported with impersonation.mode=constrained"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := helmTemplate(t, "bad", tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("helm template %v: error %v, want one containing %q", tc.args, err, tc.want)
			}
		})
	}
	// Control: the oldest supported cluster renders with webhook admission and legacy impersonation.
	if _, err := helmTemplate(t, "old", "--kube-version", "1.30.0", "--set", "admission.mode=webhook", "--set", "impersonation.mode=legacy"); err != nil {
		t.Fatalf("rendering for Kubernetes 1.30: %v", err)
	}
}

// TestManagerPodIsRestricted dry-run creates the manager's pod (from the Deployment's template)
// in a namespace that enforces the "restricted" Pod Security Standard, and, as a control, shows
// that the same namespace rejects the pod once its seccomp profile is removed.
func TestManagerPodIsRestricted(t *testing.T) {
	const ns = "psa-restricted"
	ensureNamespace(t, ns, map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
	for _, mode := range []string{"policy", "webhook"} {
		t.Run(mode, func(t *testing.T) {
			objs := render(t, "psa", "--set", "admission.mode="+mode)
			dep := convert[appsv1.Deployment](t, one(t, objs, "Deployment"))
			pod := &corev1.Pod{Spec: dep.Spec.Template.Spec}
			pod.Name, pod.Namespace = "manager", ns
			sc := pod.Spec.Containers[0].SecurityContext
			if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				t.Error("the root filesystem is not read-only")
			}
			if err := adminClient(t).Create(t.Context(), pod.DeepCopy(), client.DryRunAll); err != nil {
				t.Fatalf("the manager pod is not accepted under the restricted Pod Security Standard: %v", err)
			}
			weak := pod.DeepCopy()
			weak.Spec.SecurityContext.SeccompProfile = nil
			if err := adminClient(t).Create(t.Context(), weak, client.DryRunAll); err == nil || !strings.Contains(err.Error(), "restricted") {
				t.Fatalf("control: a pod without a seccomp profile was not rejected as violating restricted: %v", err)
			}
		})
	}
}

package policy_test

import (
	"reflect"
	"strings"
	"testing"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/admission/policy"
)

// TestTheTriggerRuleCoversEverySpecField fails when AgentTriggerSpec gains a field that
// kubeask-agenttrigger-rules does not compare: another user could then change it.
func TestTheTriggerRuleCoversEverySpecField(t *testing.T) {
	files, err := policy.Files()
	if err != nil {
		t.Fatal(err)
	}
	rule := string(files["agenttrigger-rules.yaml"])
	for path, typ := range map[string]reflect.Type{
		"spec":        reflect.TypeFor[agentsv1alpha1.AgentTriggerSpec](),
		"spec.events": reflect.TypeFor[agentsv1alpha1.EventSource](),
		"spec.query":  reflect.TypeFor[agentsv1alpha1.QueryTemplate](),
	} {
		for i := range typ.NumField() {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			switch {
			case path == "spec" && (name == "suspend" || name == "requester"): // anyone may suspend; requester has its own rule
				continue
			case path == "spec" && (name == "events" || name == "query"): // compared field by field
				continue
			}
			f := "object." + path
			if !strings.Contains(rule, f+".?"+name+" ==") && !strings.Contains(rule, f+"."+name+" ==") &&
				!strings.Contains(rule, "duration("+f+"."+name+") ==") {
				t.Errorf("kubeask-agenttrigger-rules does not compare %s.%s", path, name)
			}
		}
	}
}

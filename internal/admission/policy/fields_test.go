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
	typ := reflect.TypeFor[agentsv1alpha1.AgentTriggerSpec]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if name == "suspend" || name == "requester" { // anyone may suspend; requester has its own rule
			continue
		}
		if !strings.Contains(rule, "object.spec.?"+name+" ==") && !strings.Contains(rule, "object.spec."+name+" ==") {
			t.Errorf("kubeask-agenttrigger-rules does not compare spec.%s", name)
		}
	}
}

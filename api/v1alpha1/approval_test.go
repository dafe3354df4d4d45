package v1alpha1

import (
	"strings"
	"testing"
)

func TestArgumentsDigest(t *testing.T) {
	d := ArgumentsDigest("resources_scale", `{"replicas":3}`)
	if !strings.HasPrefix(d, "sha256:") || len(d) != len("sha256:")+64 {
		t.Fatalf("digest %q is not sha256:<64 hex>", d)
	}
	for name, other := range map[string]string{
		"other arguments":             ArgumentsDigest("resources_scale", `{"replicas":4}`),
		"other tool":                  ArgumentsDigest("resources_patch", `{"replicas":3}`),
		"same bytes, split otherwise": ArgumentsDigest("resources_scal", `e{"replicas":3}`),
		"reformatted arguments":       ArgumentsDigest("resources_scale", `{"replicas": 3}`),
	} {
		if other == d {
			t.Errorf("%s: same digest %s", name, d)
		}
	}
	if again := ArgumentsDigest("resources_scale", `{"replicas":3}`); again != d {
		t.Errorf("the digest is not stable: %s, then %s", d, again)
	}
}

func TestDecisions(t *testing.T) {
	step := Step{ID: "s1", Tool: "resources_scale", State: StepProposed, Digest: ArgumentsDigest("resources_scale", `{"replicas":3}`)}
	exact := "s1@" + step.Digest
	other := "s1@" + ArgumentsDigest("resources_scale", `{"replicas":4}`)
	tests := []struct {
		name                             string
		approvals, denials               []string
		approves, decides, hasDecisionOn bool
	}{
		{"nothing", nil, nil, false, false, false},
		{"approved as recorded", []string{exact}, nil, true, true, true},
		{"approved for other arguments", []string{other}, nil, false, false, true},
		{"another step approved", []string{"s2@" + step.Digest}, nil, false, false, false},
		{"a bare id", []string{"s1"}, nil, false, false, true},
		{"denied", nil, []string{"s1"}, false, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &AgentQuery{Spec: AgentQuerySpec{Approvals: tt.approvals, Denials: tt.denials}}
			if got := q.Approves(step); got != tt.approves {
				t.Errorf("Approves = %v, want %v", got, tt.approves)
			}
			if got := q.Decides(step); got != tt.decides {
				t.Errorf("Decides = %v, want %v", got, tt.decides)
			}
			if got := q.HasDecisionOn(step.ID); got != tt.hasDecisionOn {
				t.Errorf("HasDecisionOn = %v, want %v", got, tt.hasDecisionOn)
			}
		})
	}
	// A step recorded without a digest cannot be approved at all.
	if a := ApprovalFor(Step{ID: "s1"}); a != "" {
		t.Errorf("ApprovalFor a step without digest = %q", a)
	}
	if q := (&AgentQuery{Spec: AgentQuerySpec{Approvals: []string{"s1@"}}}); q.Approves(Step{ID: "s1"}) {
		t.Error("an approval without digest approved a step without digest")
	}
}

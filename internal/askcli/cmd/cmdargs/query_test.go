package cmdargs

import (
	"strings"
	"testing"
	"time"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

func TestQueryFlags(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags QueryFlags
		want  string // "" means valid
	}{
		{"none", QueryFlags{}, ""},
		{"all valid", QueryFlags{Mode: "propose", Timeout: time.Minute, MaxSteps: 5, Model: "gemini-flash", Profile: "operate"}, ""},
		{"unknown mode", QueryFlags{Mode: "yolo"}, `--mode must be ReadOnly, Propose or Auto, not "yolo"`},
		{"timeout too short", QueryFlags{Timeout: 5 * time.Second}, "--timeout must be between 10s and 1h"},
		{"timeout too long", QueryFlags{Timeout: 2 * time.Hour}, "--timeout must be between 10s and 1h"},
		{"too many steps", QueryFlags{MaxSteps: agentsv1alpha1.MaxSteps + 1}, "--max-steps must be between 1 and"},
		{"model not a name", QueryFlags{Model: "https://evil"}, "is not a catalog name"},
		{"profile not a name", QueryFlags{Profile: "Ops"}, "is not a profile name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.flags.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Validate() = %v, want an error saying %q", err, tc.want)
			}
		})
	}
	if m := ParseMode("auto"); m == nil || *m != agentsv1alpha1.ModeAuto {
		t.Errorf("ParseMode(auto) = %v", m)
	}
	if m := ParseMode("nope"); m != nil {
		t.Errorf("ParseMode(nope) = %v, want nil", *m)
	}
}

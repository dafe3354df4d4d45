package agent

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

func TestBoundStatusKeepsTheObjectSmall(t *testing.T) {
	huge := strings.Repeat("é", 1<<20) // 2 MiB of two-byte runes
	st := &agentsv1alpha1.AgentQueryStatus{Answer: huge, Summary: huge}
	for i := range agentsv1alpha1.MaxSteps {
		st.Steps = append(st.Steps, agentsv1alpha1.Step{ID: "s" + string(rune('0'+i%10)), Tool: "t", Arguments: huge, Output: huge, Error: huge})
	}
	b := boundStatus(st)
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) > 1<<20 {
		t.Errorf("bounded status is %d bytes; it must stay far below etcd's 1.5 MiB", len(raw))
	}
	if len(b.Answer) > agentsv1alpha1.MaxAnswerLength || !utf8.ValidString(b.Answer) || !strings.HasSuffix(b.Answer, "…") {
		t.Errorf("answer: %d bytes, valid UTF-8 %v", len(b.Answer), utf8.ValidString(b.Answer))
	}
	for _, s := range b.Steps {
		if !s.Truncated || len(s.Output) > agentsv1alpha1.MaxStepOutputLength || len(s.Arguments) > agentsv1alpha1.MaxStepArgsLength ||
			len(s.Error) > agentsv1alpha1.MaxStepErrorLength || !utf8.ValidString(s.Output) {
			t.Fatalf("step not bounded or not marked: %d/%d/%d bytes, truncated %v", len(s.Arguments), len(s.Output), len(s.Error), s.Truncated)
		}
	}
	if st.Answer != huge || st.Steps[0].Truncated {
		t.Error("boundStatus modified its input")
	}
}

func TestSummary(t *testing.T) {
	cases := map[string]string{
		"":                               "",
		"\n\n## The checkout pods\nmore": "The checkout pods",
		"- **first** item":               "first item",
		"Look at `pods`":                 "Look at pods",
		strings.Repeat("x", 500):         strings.Repeat("x", agentsv1alpha1.MaxSummaryLength-len("…")) + "…",
	}
	for in, want := range cases {
		if got := summary(in); got != want {
			t.Errorf("summary(%.20q) = %q, want %q", in, got, want)
		}
	}
}

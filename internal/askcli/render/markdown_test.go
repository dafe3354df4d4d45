package render

import (
	"strings"
	"testing"
)

// Without colour (NO_COLOR) the answer is rendered without markdown's markers: the
// README's demo answer names **alice**, which must read alice (issue 15 §9).
func TestMarkdownWithoutColor(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
		notWant  []string
	}{
		{"bold", "Here is what I could see as **alice** in namespace `team-a`.", []string{"as alice in namespace team-a."}, []string{"**", "`"}},
		{"italic", "an *important* word", []string{"an important word"}, []string{"*important*"}},
		{"struck through", "~~old~~ new", []string{"old new"}, []string{"~~"}},
		{"code block kept as is", "```\n1 pod in namespace team-a\n```", []string{"1 pod in namespace team-a"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := Markdown(tt.in, 80, false)
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("Markdown(%q) = %q, want it to contain %q", tt.in, out, w)
				}
			}
			for _, n := range tt.notWant {
				if strings.Contains(out, n) {
					t.Errorf("Markdown(%q) = %q, want no %q", tt.in, out, n)
				}
			}
			if strings.Contains(out, "\x1b[") {
				t.Errorf("Markdown(%q) without colour has escape sequences: %q", tt.in, out)
			}
		})
	}
}

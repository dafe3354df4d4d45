package render

import (
	"strings"

	"github.com/pmezard/go-difflib/difflib"
)

// Diff is a unified diff from before to after, coloured when st.Color is on, or ""
// when they are equal.
func Diff(st Style, before, after, beforeName, afterName string) string {
	if before == after {
		return ""
	}
	text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(before), B: difflib.SplitLines(after),
		FromFile: beforeName, ToFile: afterName, Context: 3,
	})
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, l := range strings.SplitAfter(text, "\n") {
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
			b.WriteString(st.Bold(strings.TrimSuffix(l, "\n")))
		case strings.HasPrefix(l, "+"):
			b.WriteString(st.Green(strings.TrimSuffix(l, "\n")))
		case strings.HasPrefix(l, "-"):
			b.WriteString(st.Red(strings.TrimSuffix(l, "\n")))
		case strings.HasPrefix(l, "@@"):
			b.WriteString(st.Cyan(strings.TrimSuffix(l, "\n")))
		default:
			b.WriteString(strings.TrimSuffix(l, "\n"))
		}
		if strings.HasSuffix(l, "\n") {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

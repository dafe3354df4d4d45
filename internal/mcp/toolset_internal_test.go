package mcp

import (
	"strings"
	"testing"
)

func TestFirstLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"forbidden: pods is forbidden", "forbidden: pods is forbidden"},
		{"not found: x\nmore", "not found: x"},
		{"kubectl exited with status 1:\nError from server (Forbidden): pods is forbidden\nmore", "kubectl exited with status 1: Error from server (Forbidden): pods is forbidden"},
		{"ends with a colon:", "ends with a colon:"},
		{strings.Repeat("x", 400), strings.Repeat("x", 300) + "..."},
	} {
		if got := firstLine(tc.in); got != tc.want {
			t.Errorf("firstLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

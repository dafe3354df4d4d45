package webui

import (
	"strings"
	"testing"
)

func TestRenderMarkdownDropsScripts(t *testing.T) {
	for _, answer := range []string{
		"Done.\n\n<script>alert(1)</script>",
		"<img src=x onerror=alert(1)>",
		"[click](javascript:alert(1))",
		"<a href=\"javascript:alert(1)\">x</a>",
		"<iframe src=\"https://evil.example\"></iframe>",
		"<div style=\"background:url(javascript:alert(1))\">x</div>",
		"```html\n<script>alert(1)</script>\n```",
	} {
		got := string(renderMarkdown(answer))
		low := strings.ToLower(got)
		for _, bad := range []string{"<script", "onerror", "javascript:", "<iframe", "style="} {
			if strings.Contains(low, bad) {
				t.Errorf("renderMarkdown(%q) = %q: contains %q", answer, got, bad)
			}
		}
	}
}

func TestRenderMarkdownKeepsFormatting(t *testing.T) {
	got := string(renderMarkdown("# Cause\n\n**checkout** lacks `DATABASE_URL`.\n\n| pod | state |\n| --- | --- |\n| a | ok |\n\n- one\n- two\n"))
	for _, want := range []string{"<h1", "<strong>checkout</strong>", "<code>DATABASE_URL</code>", "<table>", "<li>one</li>"} {
		if !strings.Contains(got, want) {
			t.Errorf("rendered answer lacks %q:\n%s", want, got)
		}
	}
}

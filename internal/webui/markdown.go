package webui

import (
	"bytes"
	"html/template"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// Answers are the model's output, and a model can be told (by a pod's log line, an
// annotation, a prompt) to write anything, <script> included. goldmark escapes raw HTML
// unless told otherwise, and every rendering still goes through bluemonday's policy for
// user content, which keeps formatting and drops scripts, event handlers, styles and
// javascript: links: two independent layers, so a bug in one does not run code.
var (
	markdown = goldmark.New(goldmark.WithExtensions(extension.GFM))
	answers  = func() *bluemonday.Policy {
		p := bluemonday.UGCPolicy()
		p.RequireNoReferrerOnLinks(true)
		p.AddTargetBlankToFullyQualifiedLinks(true)
		return p
	}()
)

// renderMarkdown turns an answer into HTML that is safe to put in a page.
func renderMarkdown(text string) template.HTML {
	var buf bytes.Buffer
	if err := markdown.Convert([]byte(text), &buf); err != nil {
		return template.HTML("<pre>" + template.HTMLEscapeString(text) + "</pre>") //nolint:gosec // escaped just here
	}
	return template.HTML(answers.SanitizeBytes(buf.Bytes())) //nolint:gosec // sanitized just here
}

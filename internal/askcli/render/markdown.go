package render

import (
	"os"
	"strings"

	"github.com/charmbracelet/glamour"
)

// Markdown renders an answer for a terminal of the given width. Without colour it uses
// glamour's plain "notty" style; the caller prints raw text when output is not a
// terminal at all. GLAMOUR_STYLE picks another style (dark, light, dracula, ...).
func Markdown(text string, width int, color bool) string {
	style := "dark"
	if s := os.Getenv("GLAMOUR_STYLE"); s != "" {
		style = s
	}
	if !color {
		style = "notty"
	}
	if width <= 0 || width > 120 {
		width = min(max(width, 80), 120)
	}
	r, err := glamour.NewTermRenderer(glamour.WithStandardStyle(style), glamour.WithWordWrap(width-4))
	if err != nil {
		return text + "\n"
	}
	out, err := r.Render(text)
	if err != nil {
		return text + "\n"
	}
	return strings.TrimLeft(out, "\n")
}

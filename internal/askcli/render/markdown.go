package render

import (
	"os"
	"strings"

	"github.com/charmbracelet/glamour"
	"github.com/charmbracelet/glamour/ansi"
	"github.com/charmbracelet/glamour/styles"
)

// Markdown renders an answer for a terminal of the given width. Without colour
// (NO_COLOR) it uses plainStyle; the caller prints raw text when output is not a
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
	styleOpt := glamour.WithStandardStyle(style)
	if !color {
		styleOpt = glamour.WithStyles(plainStyle())
	}
	r, err := glamour.NewTermRenderer(styleOpt, glamour.WithWordWrap(width-4))
	if err != nil {
		return text + "\n"
	}
	out, err := r.Render(text)
	if err != nil {
		return text + "\n"
	}
	return strings.TrimLeft(out, "\n")
}

// plainStyle is glamour's "notty" style without the markers it keeps around bold,
// italic and struck-through text: with NO_COLOR, **alice** reads alice, as in the
// coloured rendering, not as markdown source.
func plainStyle() ansi.StyleConfig {
	s := styles.NoTTYStyleConfig
	s.Strong, s.Emph, s.Strikethrough = ansi.StylePrimitive{}, ansi.StylePrimitive{}, ansi.StylePrimitive{}
	return s
}

package webui

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/render"
)

// pageNames are the templates/<name>.html that are whole pages; fragments.html holds
// what pages and the live stream share.
var pageNames = []string{"home", "session", "query", "triggers", "message", "login"}

type pages struct{ byName map[string]*template.Template }

var funcs = template.FuncMap{
	"markdown": renderMarkdown,
	"command":  render.Command,
	"result":   render.StepResult,
	"ago":      ago,
	"duration": func(d *metav1.Duration) string {
		if d == nil {
			return ""
		}
		return d.Duration.Round(time.Millisecond).String()
	},
	"lower":    func(v any) string { return strings.ToLower(fmt.Sprint(v)) },
	"join":     strings.Join,
	"finished": func(p agentsv1alpha1.QueryPhase) bool { return p.Finished() },
}

func parsePages() (*pages, error) {
	p := &pages{byName: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/fragments.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("webui templates: %w", err)
		}
		p.byName[name] = t
	}
	return p, nil
}

// frame is what the layout needs around every page.
type frame struct {
	Title string
	// Who is the person's name; empty on pages before login.
	Who string
	// NS is the namespace the navigation points at.
	NS   string
	CSRF string
	// Local is true for kubectl ask ui, which has no logout.
	Local bool
	// Refresh is a URL to go on to at once (see message.Refresh).
	Refresh string
	Body    any
}

// message is a page that says one thing: an error, a refusal.
type message struct {
	Title, Text string
	// Detail is the API server's own words, shown below.
	Detail string
	// Back links where to go from here.
	Back string
	// Refresh goes on to Back at once (a same-site navigation, which sends the
	// SameSite=Strict cookie that a cross-site redirect would not).
	Refresh bool
}

// render writes page name with body inside the layout. v is nil before login.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, v *visit, body any) {
	f := frame{Body: body, Local: s.cfg.Local != nil, NS: r.PathValue("ns")}
	if f.NS == "" {
		f.NS = s.cfg.DefaultNamespace
	}
	if v != nil {
		f.Who, f.CSRF = v.who.name, v.sess.csrf
	}
	switch b := body.(type) {
	case message:
		f.Title = b.Title
		if b.Refresh {
			f.Refresh = b.Back
		}
	case titled:
		f.Title = b.title()
	}
	var buf bytes.Buffer
	if err := s.pages.byName[name].ExecuteTemplate(&buf, "layout", f); err != nil {
		s.cfg.Log.Error(err, "rendering a page", "page", name)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// titled bodies name their page.
type titled interface{ title() string }

// fragment renders one fragment of fragments.html (the live stream's query).
func (s *Server) fragment(name string, data any) (string, error) {
	var buf bytes.Buffer
	err := s.pages.byName["query"].ExecuteTemplate(&buf, name, data)
	return buf.String(), err
}

// ago says how long ago t was, in the largest unit that is at least one.
func ago(t any) string {
	var tt time.Time
	switch v := t.(type) {
	case metav1.Time:
		tt = v.Time
	case *metav1.Time:
		if v == nil {
			return "never"
		}
		tt = v.Time
	case time.Time:
		tt = v
	}
	if tt.IsZero() {
		return "never"
	}
	d := time.Since(tt)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

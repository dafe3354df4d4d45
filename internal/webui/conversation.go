package webui

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// sessionView is a session as a conversation: each query, oldest first.
type sessionView struct {
	S       *agentsv1alpha1.AgentSession
	Queries []queryView
	// Hidden counts the session's queries the person may not list.
	Denied string
	Ask    askForm
}

func (s sessionView) title() string { return s.S.Name }

// session shows a session. Its URL is the share link: whoever opens it sees it only if
// the API server lets them read it, and otherwise a page that says so.
func (s *Server) session(w http.ResponseWriter, r *http.Request, v *visit) {
	ns, name := r.PathValue("ns"), r.PathValue("name")
	ctx, c := r.Context(), v.who.client
	sess := &agentsv1alpha1.AgentSession{}
	v.did("get", "agentsessions", ns, name)
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, sess); err != nil {
		s.refuse(w, r, v, "session", ns, name, err)
		return
	}
	sv := sessionView{S: sess, Ask: s.offer(r.Context(), v, ns, name)}
	var list agentsv1alpha1.AgentQueryList
	v.did("list", "agentqueries", ns, "")
	// The API server selects the session's queries (a selectable field of the CRD), so
	// no other query of the namespace is read.
	if err := c.List(ctx, &list, client.InNamespace(ns), client.MatchingFields{"spec.sessionRef.name": name}); err != nil {
		sv.Denied = err.Error()
	}
	slices.SortFunc(list.Items, func(a, b agentsv1alpha1.AgentQuery) int {
		return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
	})
	back := r.URL.Path
	for i := range list.Items {
		sv.Queries = append(sv.Queries, s.viewQuery(ctx, v, &list.Items[i], back))
	}
	s.render(w, r, http.StatusOK, "session", v, sv)
}

type queryPage struct {
	View queryView
}

func (q queryPage) title() string { return q.View.Q.Name }

func (s *Server) query(w http.ResponseWriter, r *http.Request, v *visit) {
	ns, name := r.PathValue("ns"), r.PathValue("name")
	q := &agentsv1alpha1.AgentQuery{}
	v.did("get", "agentqueries", ns, name)
	if err := v.who.client.Get(r.Context(), client.ObjectKey{Namespace: ns, Name: name}, q); err != nil {
		s.refuse(w, r, v, "query", ns, name, err)
		return
	}
	s.render(w, r, http.StatusOK, "query", v, queryPage{View: s.viewQuery(r.Context(), v, q, r.URL.Path)})
}

// refuse explains why an object cannot be shown: RBAC, absence, or another failure.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, v *visit, kind, ns, name string, err error) {
	status := apiStatus(err)
	m := message{Detail: err.Error(), Back: "/ns/" + url.PathEscape(ns) + "/"}
	switch {
	case apierrors.IsForbidden(err):
		m.Title = fmt.Sprintf("You cannot read this %s in %s", kind, ns)
		m.Text = fmt.Sprintf("The API server does not let %s read the %s %s in namespace %s. Ask whoever shared the link, or your cluster admin, for read access (get on agent%ss.agents.kubeask.dev in %s).",
			v.who.name, kind, name, ns, kind, ns)
	case apierrors.IsNotFound(err):
		m.Title = fmt.Sprintf("No %s %s in %s", kind, name, ns)
		m.Text = "It may have been deleted, or it expired (sessions can have a time to live)."
	default:
		m.Title = fmt.Sprintf("Cannot read the %s %s", kind, name)
		m.Text = "The API server could not be asked."
	}
	s.render(w, r, status, "message", v, m)
}

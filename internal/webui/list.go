package webui

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// homeView lists a namespace's sessions and one-shot queries, as the person may see
// them, with the ask form.
type homeView struct {
	NS       string
	Sessions []agentsv1alpha1.AgentSession
	Queries  []agentsv1alpha1.AgentQuery
	// SessionsDenied and QueriesDenied hold the API server's refusal to list them.
	SessionsDenied, QueriesDenied string
	Ask                           askForm
}

func (h homeView) title() string { return "Sessions in " + h.NS }

func (s *Server) home(w http.ResponseWriter, r *http.Request, v *visit) {
	ns := r.PathValue("ns")
	if !validNamespace(ns) {
		s.render(w, r, http.StatusNotFound, "message", v, message{Title: "No such namespace", Text: ns + " is not a namespace name."})
		return
	}
	ctx, c := r.Context(), v.who.client
	h := homeView{NS: ns, Ask: s.offer(r.Context(), v, ns, "")}
	var sessions agentsv1alpha1.AgentSessionList
	v.did("list", "agentsessions", ns, "")
	if err := c.List(ctx, &sessions, client.InNamespace(ns)); err != nil {
		h.SessionsDenied = err.Error()
	}
	var queries agentsv1alpha1.AgentQueryList
	v.did("list", "agentqueries", ns, "")
	if err := c.List(ctx, &queries, client.InNamespace(ns)); err != nil {
		h.QueriesDenied = err.Error()
	}
	h.Sessions = sessions.Items
	slices.SortFunc(h.Sessions, func(a, b agentsv1alpha1.AgentSession) int { return lastActivity(b).Compare(lastActivity(a)) })
	seenModels, seenProfiles := map[string]bool{}, map[string]bool{}
	for _, q := range queries.Items {
		if q.Spec.SessionRef == nil {
			h.Queries = append(h.Queries, q)
		}
		seenModels[q.Status.Model], seenProfiles[q.Status.Profile] = true, true
	}
	slices.SortFunc(h.Queries, func(a, b agentsv1alpha1.AgentQuery) int {
		return b.CreationTimestamp.Compare(a.CreationTimestamp.Time)
	})
	if len(h.Queries) > 50 {
		h.Queries = h.Queries[:50]
	}
	h.Ask.SeenModels, h.Ask.SeenProfiles = names(seenModels), names(seenProfiles)
	if h.SessionsDenied != "" && h.QueriesDenied != "" {
		v.outcome = "forbidden"
	}
	s.render(w, r, http.StatusOK, "home", v, h)
}

// lastActivity orders sessions: their last activity, else their creation.
func lastActivity(s agentsv1alpha1.AgentSession) time.Time {
	if s.Status.LastActivityTime != nil {
		return s.Status.LastActivityTime.Time
	}
	return s.CreationTimestamp.Time
}

func names(set map[string]bool) []string {
	var out []string
	for n := range set {
		if n != "" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// switchNamespace serves the namespace box of the header.
func (s *Server) switchNamespace(w http.ResponseWriter, r *http.Request, v *visit) {
	ns := strings.TrimSpace(r.URL.Query().Get("ns"))
	if !validNamespace(ns) {
		s.render(w, r, http.StatusBadRequest, "message", v, message{Title: "No such namespace", Text: "A namespace name is lower-case letters, digits and '-'."})
		return
	}
	http.Redirect(w, r, "/ns/"+url.PathEscape(ns)+"/", http.StatusSeeOther)
}

func validNamespace(ns string) bool { return len(validation.IsDNS1123Label(ns)) == 0 }

// triggerView is one trigger with the answer of the last query it fired.
type triggerView struct {
	T           agentsv1alpha1.AgentTrigger
	Ready       string
	LastSummary string
	LastPhase   agentsv1alpha1.QueryPhase
}

type triggersView struct {
	NS       string
	Triggers []triggerView
	Denied   string
}

func (t triggersView) title() string { return "Triggers in " + t.NS }

func (s *Server) triggers(w http.ResponseWriter, r *http.Request, v *visit) {
	ns := r.PathValue("ns")
	ctx, c := r.Context(), v.who.client
	tv := triggersView{NS: ns}
	var list agentsv1alpha1.AgentTriggerList
	v.did("list", "agenttriggers", ns, "")
	if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
		tv.Denied = err.Error()
		v.outcome = "forbidden"
	}
	for i, t := range list.Items {
		row := triggerView{T: t, Ready: "Unknown"}
		if cond := meta.FindStatusCondition(t.Status.Conditions, "Ready"); cond != nil {
			row.Ready = string(cond.Status)
		}
		// The last answers of the first 50 only: one read each, as the person, who may
		// not be allowed to read them.
		if t.Status.LastQuery != "" && i < 50 {
			var q agentsv1alpha1.AgentQuery
			v.did("get", "agentqueries", ns, t.Status.LastQuery)
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: t.Status.LastQuery}, &q); err == nil {
				row.LastSummary, row.LastPhase = q.Status.Summary, q.Status.Phase
			}
		}
		tv.Triggers = append(tv.Triggers, row)
	}
	s.render(w, r, http.StatusOK, "triggers", v, tv)
}

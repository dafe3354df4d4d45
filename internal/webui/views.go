package webui

import (
	"bytes"
	"context"
	"strings"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/follow"
	"github.com/kubeask/kubeask/internal/askcli/proposal"
	"github.com/kubeask/kubeask/internal/askcli/render"
)

// queryView is one query as a turn of a conversation.
type queryView struct {
	Q *agentsv1alpha1.AgentQuery
	// Mine is true when the viewer is the query's requester: only they see the
	// decision buttons (admission lets only them decide anyway).
	Mine bool
	// Live is true while the query may still change without anyone acting: the page
	// then follows it through the event stream.
	Live bool
	// Proposals are the undecided proposed changes, with their diff, for the requester.
	Proposals []proposalView
	// Failure is the reason and message of a query that did not succeed.
	Reason, Failure string
	// Waiting is true when the query waits for its requester, who is someone else.
	Waiting bool
	CSRF    string
	// Back is where decisions return to.
	Back string
}

type proposalView struct {
	Step agentsv1alpha1.Step
	// Approval is the spec.approvals entry that approves exactly the arguments shown.
	Approval string
	// Review is what kubectl ask approve shows: the command, the full arguments, the
	// diff of the live object against the server's dry run as the viewer.
	Review []reviewLine
}

type reviewLine struct{ Class, Text string }

// viewQuery builds the view; diffs are computed (as the viewer) only for the
// requester's undecided proposals.
func (s *Server) viewQuery(ctx context.Context, v *visit, q *agentsv1alpha1.AgentQuery, back string) queryView {
	qv := queryView{Q: q, Live: !follow.Stopped(q), CSRF: v.sess.csrf, Back: back}
	qv.Mine = q.Spec.Requester != nil && q.Spec.Requester.Username == v.who.name
	if q.Status.Phase == agentsv1alpha1.QueryFailed || q.Status.Phase == agentsv1alpha1.QueryCancelled {
		qv.Reason, qv.Failure = follow.Failure(q)
	}
	if !qv.Mine || q.Status.Phase.Finished() {
		qv.Waiting = !qv.Mine && q.Status.Phase == agentsv1alpha1.QueryAwaitingApproval && len(follow.Undecided(q)) > 0
		return qv
	}
	for _, st := range follow.Undecided(q) {
		pv := proposalView{Step: st, Approval: agentsv1alpha1.ApprovalFor(st)}
		var buf bytes.Buffer
		proposal.Show(ctx, v.who.client, &buf, render.Style{}, st)
		v.did("dryrun", "(proposed change)", q.Namespace, st.ID)
		pv.Review = reviewLines(buf.String())
		qv.Proposals = append(qv.Proposals, pv)
	}
	return qv
}

// reviewLines classifies the review's lines for colour: the diff's additions,
// removals and hunk headers, and the rest.
func reviewLines(text string) []reviewLine {
	var out []reviewLine
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		class := ""
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
			class = "meta"
		case strings.HasPrefix(l, "+"):
			class = "add"
		case strings.HasPrefix(l, "-"):
			class = "del"
		case strings.HasPrefix(l, "@@"):
			class = "hunk"
		}
		out = append(out, reviewLine{Class: class, Text: l})
	}
	return out
}

// askForm is the prompt box with what the platform offers this person.
type askForm struct {
	NS string
	// Session is set for a follow-up in a session; the form then has no session field.
	Session string
	// Models and Profiles come from the catalog, filtered by who may use them. Without
	// a catalog (kubectl ask ui cannot read the manager's) they are free text, with the
	// names queries here already ran with as suggestions.
	Models, Profiles []choice
	Free             bool
	SeenModels       []string
	SeenProfiles     []string
	Modes            []agentsv1alpha1.Mode
	CSRF             string
}

type choice struct {
	Name, Note string
	Default    bool
}

// offer is what the ask form offers v's person.
func (s *Server) offer(v *visit, ns, session string) askForm {
	f := askForm{NS: ns, Session: session, CSRF: v.sess.csrf}
	cat := s.cfg.Catalog
	if cat == nil {
		f.Free, f.Modes = true, s.cfg.AllowedModes
		return f
	}
	for _, m := range cat.Models {
		if m.Permits(v.who.name, v.who.groups) {
			f.Models = append(f.Models, choice{Name: m.Name, Default: m.Name == cat.DefaultModel})
		}
	}
	defProfile, _ := cat.Profile("")
	modes := map[agentsv1alpha1.Mode]bool{}
	for _, p := range cat.Profiles {
		if !p.Permits(v.who.name, v.who.groups) {
			continue
		}
		f.Profiles = append(f.Profiles, choice{Name: p.Name, Note: p.Description, Default: defProfile != nil && p.Name == defProfile.Name})
		for _, m := range s.cfg.AllowedModes {
			if p.AllowsMode(m) {
				modes[m] = true
			}
		}
	}
	for _, m := range s.cfg.AllowedModes {
		if modes[m] {
			f.Modes = append(f.Modes, m)
		}
	}
	return f
}

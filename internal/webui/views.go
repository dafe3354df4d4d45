package webui

import (
	"bytes"
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/follow"
	"github.com/kubeask/kubeask/internal/askcli/proposal"
	"github.com/kubeask/kubeask/internal/askcli/render"
	"github.com/kubeask/kubeask/internal/llm/catalog"
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
	// CatalogNote says, locally, why the names are free text.
	CatalogNote  string
	SeenModels   []string
	SeenProfiles []string
	Modes        []agentsv1alpha1.Mode
	CSRF         string
}

type choice struct {
	Name, Note string
	Default    bool
}

// offer is what the ask form offers v's person: the manager's catalog in the cluster;
// locally, the catalog the manager publishes, read as the person on every page (never
// cached), else free text.
func (s *Server) offer(ctx context.Context, v *visit, ns, session string) askForm {
	f := askForm{NS: ns, Session: session, CSRF: v.sess.csrf}
	var pub *catalog.Public
	if s.cfg.Catalog != nil {
		pub = s.cfg.Catalog.Public(s.cfg.AllowedModes)
	} else if s.cfg.Local != nil {
		pub, f.CatalogNote = s.readPublished(ctx, v)
	}
	if pub == nil {
		f.Free, f.Modes = true, s.cfg.AllowedModes
		return f
	}
	mine := pub.For(v.who.name, v.who.groups)
	for _, m := range mine.Models {
		f.Models = append(f.Models, choice{Name: m.Name, Default: m.Name == pub.DefaultModel})
	}
	for _, p := range mine.Profiles {
		f.Profiles = append(f.Profiles, choice{Name: p.Name, Note: p.Description, Default: p.Name == pub.DefaultProfile})
	}
	f.Modes = mine.AllowedModes
	return f
}

// readPublished reads the catalog the manager publishes (catalog.PublicConfigMap), as
// the kubeconfig's user. Without it the form offers free text, and the note says why.
func (s *Server) readPublished(ctx context.Context, v *visit) (*catalog.Public, string) {
	ns := s.cfg.Local.CatalogNamespace
	if ns == "" {
		return nil, ""
	}
	cm := &corev1.ConfigMap{}
	v.did("get", "configmaps", ns, catalog.PublicConfigMap)
	where := ns + "/" + catalog.PublicConfigMap
	if err := v.who.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: catalog.PublicConfigMap}, cm); err != nil {
		switch {
		case apierrors.IsNotFound(err):
			return nil, "The platform's catalog (ConfigMap " + where + ") is not published: type model and profile names."
		case apierrors.IsForbidden(err):
			return nil, "You may not read the platform's catalog (ConfigMap " + where + "): type model and profile names."
		default:
			return nil, "Could not read the platform's catalog (ConfigMap " + where + "): type model and profile names."
		}
	}
	data, ok := cm.Data[catalog.PublicKey]
	if !ok {
		return nil, "The platform's catalog (ConfigMap " + where + ") is not published yet: type model and profile names."
	}
	pub, err := catalog.ParsePublic(data)
	if err != nil {
		return nil, "The platform's catalog (ConfigMap " + where + ") is unreadable: type model and profile names."
	}
	return pub, ""
}

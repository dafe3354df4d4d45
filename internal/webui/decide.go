package webui

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/proposal"
	"github.com/kubeask/kubeask/internal/mcp/audit"
)

var (
	approvalEntry = regexp.MustCompile(`^s[0-9]{1,3}@sha256:[0-9a-f]{64}$`)
	stepID        = regexp.MustCompile(`^s[0-9]{1,3}$`)
)

// decide approves or denies one proposed step, as the person, with kubectl ask
// approve's own code. The approval is the entry the page showed, bound to the digest of
// the arguments that were on screen: if they changed since, it runs nothing. Only the
// requester sees the buttons; admission refuses anyone else whatever they send.
func (s *Server) decide(w http.ResponseWriter, r *http.Request, v *visit) {
	ns, name := r.PathValue("ns"), r.PathValue("name")
	approve := r.PostFormValue("decision") == "approve"
	entry := r.PostFormValue("approval")
	if !approve {
		entry, _ = agentsv1alpha1.SplitApproval(entry)
	}
	v.args["decision"], v.args["step"] = r.PostFormValue("decision"), entry
	if (approve && !approvalEntry.MatchString(entry)) || (!approve && !stepID.MatchString(entry)) {
		v.outcome = audit.OutcomeToolError
		s.render(w, r, http.StatusUnprocessableEntity, "message", v, message{Title: "Nothing to decide", Text: "The form names no proposed step."})
		return
	}
	v.did("patch", "agentqueries", ns, name)
	v.query = &audit.QueryRef{Namespace: ns, Name: name}
	if _, err := proposal.Decide(r.Context(), v.who.client, client.ObjectKey{Namespace: ns, Name: name}, []string{entry}, approve); err != nil {
		verb := map[bool]string{true: "approve", false: "deny"}[approve]
		s.refuseChange(w, r, v, verb+" "+entry+" of "+name, ns, err)
		return
	}
	http.Redirect(w, r, back(r, ns, name), http.StatusSeeOther) //nolint:gosec // G710: back keeps it on this site's /ns/ pages
}

// cancel sets spec.cancel as the person; admission lets only the requester do it.
func (s *Server) cancel(w http.ResponseWriter, r *http.Request, v *visit) {
	ns, name := r.PathValue("ns"), r.PathValue("name")
	q := &agentsv1alpha1.AgentQuery{}
	q.Namespace, q.Name = ns, name
	v.did("patch", "agentqueries", ns, name)
	v.query = &audit.QueryRef{Namespace: ns, Name: name}
	if err := v.who.client.Patch(r.Context(), q, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"cancel":true}}`))); err != nil {
		s.refuseChange(w, r, v, "cancel "+name, ns, err)
		return
	}
	http.Redirect(w, r, back(r, ns, name), http.StatusSeeOther) //nolint:gosec // G710: back keeps it on this site's /ns/ pages
}

// back is the page a decision returns to: the form's, when it is one of ours.
func back(r *http.Request, ns, name string) string {
	if b := r.PostFormValue("back"); strings.HasPrefix(b, "/ns/") && !strings.Contains(b, "//") {
		return b + "#" + name
	}
	return "/ns/" + url.PathEscape(ns) + "/queries/" + url.PathEscape(name)
}

package webui

import (
	"net/http"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/cmd/cmdargs"
	"github.com/kubeask/kubeask/internal/mcp/audit"
)

// ask creates a query as the person, in a session when one is named (created, with the
// form's choices as its defaults, when missing), as kubectl ask does. Admission stamps
// the person as its requester.
func (s *Server) ask(w http.ResponseWriter, r *http.Request, v *visit) {
	ns := r.PathValue("ns")
	prompt := strings.TrimSpace(r.PostFormValue("prompt"))
	session := strings.TrimSpace(r.PostFormValue("session"))
	flags := cmdargs.QueryFlags{Model: r.PostFormValue("model"), Profile: r.PostFormValue("profile"), Mode: r.PostFormValue("mode")}
	v.args["session"], v.args["model"], v.args["profile"], v.args["mode"] = session, flags.Model, flags.Profile, flags.Mode
	bad := func(text string) {
		v.outcome, v.err = audit.OutcomeToolError, text
		s.render(w, r, http.StatusUnprocessableEntity, "message", v, message{Title: "Cannot ask this", Text: text, Back: "/ns/" + url.PathEscape(ns) + "/"})
	}
	switch {
	case prompt == "":
		bad("The question is empty.")
		return
	case len(prompt) > agentsv1alpha1.MaxPromptLength:
		bad("The question is longer than 16384 bytes.")
		return
	case session != "" && len(validation.IsDNS1123Subdomain(session)) > 0:
		bad("A session name is lower-case letters, digits, '-' and '.'.")
		return
	}
	if err := flags.Validate(); err != nil {
		bad(strings.TrimPrefix(err.Error(), "--"))
		return
	}
	ctx, c := r.Context(), v.who.client
	mode := cmdargs.ParseMode(flags.Mode)
	if session != "" {
		sess := &agentsv1alpha1.AgentSession{}
		v.did("get", "agentsessions", ns, session)
		err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: session}, sess)
		if apierrors.IsNotFound(err) {
			sess = &agentsv1alpha1.AgentSession{ObjectMeta: metav1.ObjectMeta{Name: session, Namespace: ns},
				Spec: agentsv1alpha1.AgentSessionSpec{Model: flags.Model, Profile: flags.Profile}}
			if mode != nil {
				sess.Spec.DefaultMode = *mode
			}
			v.did("create", "agentsessions", ns, session)
			err = c.Create(ctx, sess)
			if apierrors.IsAlreadyExists(err) {
				err = nil
			}
		}
		if err != nil {
			s.refuseChange(w, r, v, "create the session "+session, ns, err)
			return
		}
	}
	q := &agentsv1alpha1.AgentQuery{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "ask-", Namespace: ns,
			Labels: map[string]string{"app.kubernetes.io/created-by": "kubeask-ui"}},
		Spec: agentsv1alpha1.AgentQuerySpec{Prompt: prompt, Model: flags.Model, Profile: flags.Profile, Mode: mode},
	}
	if session != "" {
		q.Spec.SessionRef = &agentsv1alpha1.SessionReference{Name: session}
	}
	v.did("create", "agentqueries", ns, "")
	if err := c.Create(ctx, q); err != nil {
		s.refuseChange(w, r, v, "ask in "+ns, ns, err)
		return
	}
	v.query = &audit.QueryRef{Namespace: ns, Name: q.Name}
	target := "/ns/" + url.PathEscape(ns) + "/queries/" + url.PathEscape(q.Name)
	if session != "" {
		target = "/ns/" + url.PathEscape(ns) + "/sessions/" + url.PathEscape(session) + "#" + q.Name
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// refuseChange explains a change the API server refused: RBAC or admission, in its words.
func (s *Server) refuseChange(w http.ResponseWriter, r *http.Request, v *visit, what, ns string, err error) {
	v.err = err.Error()
	m := message{Title: "Could not " + what, Detail: err.Error(), Back: "/ns/" + url.PathEscape(ns) + "/"}
	switch {
	case apierrors.IsForbidden(err):
		m.Text = "The API server refused it for " + v.who.name + " (RBAC or kubeask's admission rules)."
	case apierrors.IsInvalid(err):
		m.Text = "The API server found the request invalid."
	default:
		m.Text = "The API server could not do it."
	}
	s.render(w, r, apiStatus(err), "message", v, m)
}

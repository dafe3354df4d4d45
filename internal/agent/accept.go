package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/llm/catalog"
	"github.com/kubeask/kubeask/internal/tools"
)

// choice is what a query runs with: its model, profile and mode.
//
// It is decided once, when the query is accepted, from the query's spec and its
// session, and recorded in status (model, profile, mode). Every later run of the query
// (after an approval, a restart, a change of leader) reads it back from status and never
// from the session again: anyone allowed to edit a session could otherwise change what a
// query already running, or awaiting approval, does as its requester.
type choice struct {
	model, profile string
	mode           agentsv1alpha1.Mode
	// autoChosen is true when the requester chose Auto themselves: in the query, or as
	// the defaultMode of a session they created.
	autoChosen bool
	// foreignProfile is true when the profile comes from a session someone else created.
	foreignProfile bool
	// session is the name of the session the query belongs to, for messages.
	session string
	// sessionOwner is the username of that session's requester, for messages.
	sessionOwner string
}

// choose decides the choice of a query that is not accepted yet.
func choose(q *agentsv1alpha1.AgentQuery, session *agentsv1alpha1.AgentSession) choice {
	c := choice{model: q.Spec.Model, profile: q.Spec.Profile, mode: agentsv1alpha1.ModeReadOnly}
	if session != nil {
		own := sameRequester(q.Spec.Requester, session.Spec.Requester)
		c.session = session.Name
		if session.Spec.Requester != nil {
			c.sessionOwner = session.Spec.Requester.Username
		}
		c.model = cmpOr(c.model, session.Spec.Model)
		if c.profile == "" && session.Spec.Profile != "" {
			c.profile, c.foreignProfile = session.Spec.Profile, !own
		}
		if session.Spec.DefaultMode != "" {
			c.mode = session.Spec.DefaultMode
			c.autoChosen = own
		}
	}
	if q.Spec.Mode != nil {
		// spec.mode is immutable and the spec is the requester's own: it is their choice.
		c.mode, c.autoChosen = *q.Spec.Mode, true
	}
	return c
}

// sameRequester reports whether a and b are the same person: same username and same
// uid (a user deleted and created again under the same name is someone else).
func sameRequester(a, b *agentsv1alpha1.Requester) bool {
	return a != nil && b != nil && a.Username != "" && a.Username == b.Username && a.UID == b.UID
}

// accept settles the query's model, profile and mode and checks them against the
// platform's catalog: that they exist, that the requester may use them, that the profile
// allows the mode. On the first run it decides them (choose); later runs take them from
// status. note is set when the query runs in another mode than it asked for, and says
// why. stop is true when the query failed here.
func (r *run) accept(ctx context.Context, session *agentsv1alpha1.AgentSession) (c choice, note string, stop bool, err error) {
	q := r.q
	who := q.Spec.Requester
	if r.st.Mode != "" {
		// Accepted by an earlier run: what it decided holds. (A query accepted before
		// status.profile existed ran with its own profile or the default.)
		c = choice{model: r.st.Model, profile: cmpOr(r.st.Profile, q.Spec.Profile), mode: r.st.Mode, autoChosen: true}
	} else {
		c = choose(q, session)
	}
	if r.profile, err = r.Catalog.Profile(c.profile); err != nil {
		return c, "", true, r.fail(ctx, ConditionAccepted, ReasonUnknownProfile, err.Error())
	}
	c.profile = r.profile.Name
	if !r.profile.Permits(who.Username, who.Groups) {
		return c, "", true, r.fail(ctx, ConditionAccepted, ReasonProfileNotAllowed,
			fmt.Sprintf("the platform does not let %s use profile %q (model catalog: profiles[%s].allowedUsers and allowedGroups)", who.Username, c.profile, c.profile))
	}
	if r.profile.AllowSecretValues && c.foreignProfile {
		return c, "", true, r.fail(ctx, ConditionAccepted, ReasonProfileNotAllowed,
			fmt.Sprintf("profile %q of session %s reveals Secret values and was chosen by %s, so it applies only to their queries; to use it, name it in the query's spec.profile", c.profile, c.session, c.sessionOwner))
	}
	if c.mode == agentsv1alpha1.ModeAuto && !c.autoChosen {
		// The session's Auto is someone else's choice: changes wait for the requester.
		fallback := agentsv1alpha1.ModePropose
		if !r.profile.AllowsMode(fallback) {
			fallback = agentsv1alpha1.ModeReadOnly
		}
		note = fmt.Sprintf("session %s was created by %s, not by %s, so its defaultMode Auto does not apply to this query: it runs in %s. To have changes made without approval, set spec.mode: Auto on the query.",
			c.session, c.sessionOwner, who.Username, fallback)
		c.mode = fallback
	}
	if stop, err := r.checkInstallationMode(ctx, c.mode); stop || err != nil {
		return c, "", stop, err
	}
	if !r.profile.AllowsMode(c.mode) {
		return c, "", true, r.fail(ctx, ConditionAccepted, ReasonModeNotAllowed,
			fmt.Sprintf("profile %q does not allow mode %s (it allows %v)", r.profile.Name, c.mode, r.profile.Modes))
	}
	// A trigger's queries run unattended: Auto needs the platform's explicit consent,
	// checked here too and not only when the trigger fires.
	if c.mode == agentsv1alpha1.ModeAuto && q.Labels[agentsv1alpha1.LabelTrigger] != "" && !r.Catalog.Triggers.AllowAutoMode {
		return c, "", true, r.fail(ctx, ConditionAccepted, ReasonModeNotAllowed,
			"the platform does not allow Auto mode for queries created by triggers (model catalog: triggers.allowAutoMode)")
	}
	m, err := r.Catalog.Model(c.model)
	if err != nil {
		return c, "", true, r.fail(ctx, ConditionAccepted, ReasonUnknownModel, err.Error())
	}
	c.model = m.Name
	if !m.Permits(who.Username, who.Groups) {
		return c, "", true, r.fail(ctx, ConditionAccepted, ReasonModelNotAllowed,
			fmt.Sprintf("the platform does not let %s use model %q (model catalog: models[%s].allowedUsers and allowedGroups)", who.Username, c.model, c.model))
	}
	if r.llm, err = r.Models.Client(ctx, c.model); err != nil {
		var ce *catalog.Error
		if !errors.As(err, &ce) {
			return c, "", true, r.fail(ctx, ConditionAccepted, ReasonModelMisconfigured, err.Error())
		}
		if ce.Reason == catalog.ReasonAPIKeyUnavailable && transientAPIError(err) {
			// The API server did not answer this time: the pool runs the query again.
			return c, "", true, fmt.Errorf("reading the API key of model %s: %w", c.model, err)
		}
		return c, "", true, r.fail(ctx, ConditionAccepted, string(ce.Reason), err.Error())
	}
	r.mode = c.mode
	r.env.Output.AllowSecretValues = r.profile.AllowSecretValues
	r.tools = r.Tools
	if len(r.profile.Tools) > 0 {
		r.tools = r.Tools.Filter(func(t tools.Tool) bool { return slices.Contains(r.profile.Tools, t.Name) })
	}
	return c, note, false, nil
}

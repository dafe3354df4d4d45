// Package webhook enforces kubeask's admission rules as a mutating and a validating
// webhook served by the manager. It is the path for clusters older than Kubernetes 1.36,
// which lack MutatingAdmissionPolicy; internal/admission/policy holds the same rules as
// CEL policies. Both are tested with the same scenarios against a real API server, and
// their denial messages are kept identical.
package webhook

import (
	"fmt"
	"slices"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// RequesterFromUserInfo is the requester stamped for an authenticated user.
func RequesterFromUserInfo(u authenticationv1.UserInfo) *agentsv1alpha1.Requester {
	r := &agentsv1alpha1.Requester{Username: u.Username, UID: u.UID}
	if len(u.Groups) > 0 {
		r.Groups = slices.Clone(u.Groups)
	}
	if len(u.Extra) > 0 {
		r.Extra = make(map[string]agentsv1alpha1.ExtraValue, len(u.Extra))
		for k, v := range u.Extra {
			r.Extra[k] = agentsv1alpha1.ExtraValue(slices.Clone(v))
		}
	}
	return r
}

// checkRequesterUnchanged denies an UPDATE that changes spec.requester.
func checkRequesterUnchanged(oldR, newR *agentsv1alpha1.Requester) string {
	if !equality.Semantic.DeepEqual(oldR, newR) {
		return "spec.requester is set by admission when the object is created and cannot be changed"
	}
	return ""
}

// checkStamped denies a CREATE whose requester is not the creator: it means the
// mutating webhook did not run.
func checkStamped(r *agentsv1alpha1.Requester, u authenticationv1.UserInfo) string {
	if r == nil || r.Username != u.Username {
		return "spec.requester was not stamped with the creator; is the kubeask mutating webhook installed?"
	}
	return ""
}

// isRequester reports whether u is the requester r, by username and, when the
// requester has one, uid.
func isRequester(r *agentsv1alpha1.Requester, u authenticationv1.UserInfo) bool {
	return r != nil && r.Username == u.Username && (r.UID == "" || r.UID == u.UID)
}

// checkQueryUpdate applies the AgentQuery update rules.
func checkQueryUpdate(oldQ, newQ *agentsv1alpha1.AgentQuery, u authenticationv1.UserInfo) string {
	if newQ.Spec.Prompt != oldQ.Spec.Prompt {
		return "spec.prompt cannot be changed; create a new query instead"
	}
	if !equality.Semantic.DeepEqual(oldQ.Spec.SessionRef, newQ.Spec.SessionRef) {
		return "spec.sessionRef cannot be changed"
	}
	if isRequester(oldQ.Spec.Requester, u) {
		return ""
	}
	owner := "unknown"
	if oldQ.Spec.Requester != nil {
		owner = oldQ.Spec.Requester.Username
	}
	if !slices.Equal(oldQ.Spec.Approvals, newQ.Spec.Approvals) || !slices.Equal(oldQ.Spec.Denials, newQ.Spec.Denials) {
		return fmt.Sprintf("only the query's requester (%s) may approve or deny its steps, not %s", owner, u.Username)
	}
	if oldQ.Spec.Cancel != newQ.Spec.Cancel {
		return fmt.Sprintf("only the query's requester (%s) may cancel it, not %s", owner, u.Username)
	}
	return ""
}

// checkSessionUpdate applies the AgentSession update rule: its model, profile and
// defaultMode are what its requester's queries run with, so only they may change them.
func checkSessionUpdate(oldS, newS *agentsv1alpha1.AgentSession, u authenticationv1.UserInfo) string {
	if isRequester(oldS.Spec.Requester, u) {
		return ""
	}
	if oldS.Spec.Model == newS.Spec.Model && oldS.Spec.Profile == newS.Spec.Profile && oldS.Spec.DefaultMode == newS.Spec.DefaultMode {
		return ""
	}
	owner := "unknown"
	if oldS.Spec.Requester != nil {
		owner = oldS.Spec.Requester.Username
	}
	return fmt.Sprintf("only the session's requester (%s) may change its model, profile or defaultMode, not %s", owner, u.Username)
}

// statusDeniedMessage is the denial of a status write by anyone but the operator.
func statusDeniedMessage(resource, user string) string {
	return fmt.Sprintf("only the kubeask operator may write the status of %s, not %s (writing it needs the verb %s on %s/status in every namespace, which kubeask grants to its ServiceAccount only)",
		resource, user, StatusWriteVerb, resource)
}

// sessionDeniedMessage is the denial for a query joining a session its creator may not read.
func sessionDeniedMessage(u authenticationv1.UserInfo, session, namespace string) string {
	return fmt.Sprintf("%s may not get AgentSession %s in namespace %s, so cannot add a query to it", u.Username, session, namespace)
}

// checkTriggerUpdate applies the AgentTrigger update rule: a trigger acts as its
// requester, so only they may change what it does; others may only suspend or resume it.
func checkTriggerUpdate(oldT, newT *agentsv1alpha1.AgentTrigger, u authenticationv1.UserInfo) string {
	if isRequester(oldT.Spec.Requester, u) {
		return ""
	}
	oldSpec, newSpec := oldT.Spec.DeepCopy(), newT.Spec.DeepCopy()
	oldSpec.Suspend, newSpec.Suspend = false, false
	oldSpec.Requester, newSpec.Requester = nil, nil
	if equality.Semantic.DeepEqual(oldSpec, newSpec) {
		return ""
	}
	owner := "unknown"
	if oldT.Spec.Requester != nil {
		owner = oldT.Spec.Requester.Username
	}
	return fmt.Sprintf("only the trigger's requester (%s) may change what it does, not %s; others may only suspend, resume or delete it", owner, u.Username)
}

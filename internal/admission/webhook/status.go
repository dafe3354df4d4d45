package webhook

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// StatusWriteVerb is the verb that lets its holder write the status of AgentQueries and
// AgentSessions: the API server's authorizer is asked for it on <resource>/status in
// every namespace, by the policy kubeask-status-rules and by checkStatusWriter. It names
// no real request, so no built-in role but cluster-admin's wildcard holds it, and only
// a ClusterRoleBinding can grant it: a namespace admin, whatever their Role, cannot.
const StatusWriteVerb = "kubeask:write-status"

// The operator's ServiceAccount holds StatusWriteVerb (and the chart's ClusterRole).
// +kubebuilder:rbac:groups=agents.kubeask.dev,resources=agentqueries/status;agentsessions/status,verbs="kubeask:write-status"
// The webhook learns its own identity with a SelfSubjectReview, which every
// authenticated user may create (system:basic-user); no rule is needed for it.

// checkStatusWriter allows a status write by the operator only. Status holds a query's
// steps and proposals, so a forged status could make the agent act as the requester.
// The operator's own writes, by far the most, are recognised by its username without
// asking the API server; any other writer is allowed only if it holds StatusWriteVerb,
// as the policy has it.
func (v *Validator) checkStatusWriter(ctx context.Context, req admission.Request) admission.Response {
	if self, ok := v.self.get(ctx, v); ok && req.UserInfo.Username == self {
		return admission.Allowed("")
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   req.UserInfo.Username,
		UID:    req.UserInfo.UID,
		Groups: req.UserInfo.Groups,
		Extra:  extra(req.UserInfo),
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Verb:        StatusWriteVerb,
			Group:       agentsv1alpha1.GroupVersion.Group,
			Resource:    req.Resource.Resource,
			Subresource: "status",
		},
	}}
	if err := v.Client.Create(ctx, sar); err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("checking who may write %s/status: %w", req.Resource.Resource, err))
	}
	if !sar.Status.Allowed {
		return admission.Denied(statusDeniedMessage(req.Resource.Resource, req.UserInfo.Username))
	}
	return admission.Allowed("")
}

// operatorIdentity is the username the webhook's own client authenticates as, learned
// once: the webhook is served by the operator, whose writes it recognises by it.
type operatorIdentity struct {
	mu       sync.Mutex
	username string
}

// get returns the operator's username; ok is false when it cannot be learned now (the
// caller then asks the authorizer, and the next call tries again).
func (o *operatorIdentity) get(ctx context.Context, v *Validator) (string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.username != "" {
		return o.username, true
	}
	review := &authenticationv1.SelfSubjectReview{}
	if err := v.Client.Create(ctx, review); err != nil || review.Status.UserInfo.Username == "" {
		return "", false
	}
	o.username = review.Status.UserInfo.Username
	return o.username, true
}

func extra(u authenticationv1.UserInfo) map[string]authorizationv1.ExtraValue {
	if len(u.Extra) == 0 {
		return nil
	}
	out := make(map[string]authorizationv1.ExtraValue, len(u.Extra))
	for k, val := range u.Extra {
		out[k] = authorizationv1.ExtraValue(val)
	}
	return out
}

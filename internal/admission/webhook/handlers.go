package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/trigger/validation"
)

// Paths the handlers are served at; the webhook configurations point here.
const (
	MutatePath   = "/mutate-requester"
	ValidatePath = "/validate-requester"
)

// Stamper is the mutating webhook: it sets spec.requester on CREATE from the
// authenticated user, overwriting what the client sent, and restores it on an UPDATE
// that omits it.
type Stamper struct{}

var _ admission.Handler = Stamper{}

// Handle implements admission.Handler.
func (Stamper) Handle(_ context.Context, req admission.Request) admission.Response {
	var obj map[string]any
	if err := json.Unmarshal(req.Object.Raw, &obj); err != nil {
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("decoding object: %w", err))
	}
	spec, _ := obj["spec"].(map[string]any)
	if spec == nil {
		spec = map[string]any{}
		obj["spec"] = spec
	}
	switch req.Operation {
	case admissionv1.Create:
		spec["requester"] = RequesterFromUserInfo(req.UserInfo)
	case admissionv1.Update:
		if _, ok := spec["requester"]; ok {
			return admission.Allowed("")
		}
		var old map[string]any
		if err := json.Unmarshal(req.OldObject.Raw, &old); err != nil {
			return admission.Errored(http.StatusBadRequest, fmt.Errorf("decoding old object: %w", err))
		}
		oldSpec, _ := old["spec"].(map[string]any)
		r, ok := oldSpec["requester"]
		if !ok {
			return admission.Allowed("")
		}
		spec["requester"] = r
	default:
		return admission.Allowed("")
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("encoding object: %w", err))
	}
	return admission.PatchResponseFromRaw(req.Object.Raw, raw)
}

// Validator is the validating webhook. It needs a client that may create
// SubjectAccessReviews, to check that a query's creator may read its session and who
// may write status. It runs as the operator, whose identity it learns once.
type Validator struct {
	Client client.Client

	self operatorIdentity
}

var _ admission.Handler = &Validator{}

// Handle implements admission.Handler.
func (v *Validator) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	if req.SubResource == "status" {
		return v.checkStatusWriter(ctx, req)
	}
	switch req.Kind.Kind {
	case "AgentQuery":
		var newQ, oldQ agentsv1alpha1.AgentQuery
		if err := decode(req, &newQ, &oldQ); err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
		if req.Operation == admissionv1.Create {
			if msg := checkStamped(newQ.Spec.Requester, req.UserInfo); msg != "" {
				return admission.Denied(msg)
			}
			return v.checkSessionAccess(ctx, req, &newQ)
		}
		if msg := checkRequesterUnchanged(oldQ.Spec.Requester, newQ.Spec.Requester); msg != "" {
			return admission.Denied(msg)
		}
		if msg := checkQueryUpdate(&oldQ, &newQ, req.UserInfo); msg != "" {
			return admission.Denied(msg)
		}
	case "AgentSession":
		var newS, oldS agentsv1alpha1.AgentSession
		if err := decode(req, &newS, &oldS); err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
		if req.Operation == admissionv1.Create {
			if msg := checkStamped(newS.Spec.Requester, req.UserInfo); msg != "" {
				return admission.Denied(msg)
			}
			return admission.Allowed("")
		}
		if msg := checkRequesterUnchanged(oldS.Spec.Requester, newS.Spec.Requester); msg != "" {
			return admission.Denied(msg)
		}
		if msg := checkSessionUpdate(&oldS, &newS, req.UserInfo); msg != "" {
			return admission.Denied(msg)
		}
	case "AgentTrigger":
		var newT, oldT agentsv1alpha1.AgentTrigger
		if err := decode(req, &newT, &oldT); err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
		if req.Operation == admissionv1.Create {
			if msg := checkStamped(newT.Spec.Requester, req.UserInfo); msg != "" {
				return admission.Denied(msg)
			}
		} else {
			if msg := checkRequesterUnchanged(oldT.Spec.Requester, newT.Spec.Requester); msg != "" {
				return admission.Denied(msg)
			}
			if msg := checkTriggerUpdate(&oldT, &newT, req.UserInfo); msg != "" {
				return admission.Denied(msg)
			}
		}
		if errs := validation.Validate(&newT.Spec); len(errs) > 0 {
			return admission.Denied(errs.ToAggregate().Error())
		}
	default:
		return admission.Denied(fmt.Sprintf("unexpected kind %q", req.Kind.Kind))
	}
	return admission.Allowed("")
}

// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// checkSessionAccess asks the API server, with a SubjectAccessReview for the creator,
// whether they may get the session the query wants to join.
func (v *Validator) checkSessionAccess(ctx context.Context, req admission.Request, q *agentsv1alpha1.AgentQuery) admission.Response {
	if q.Spec.SessionRef == nil {
		return admission.Allowed("")
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   req.UserInfo.Username,
		UID:    req.UserInfo.UID,
		Groups: req.UserInfo.Groups,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: req.Namespace,
			Verb:      "get",
			Group:     agentsv1alpha1.GroupVersion.Group,
			Resource:  "agentsessions",
			Name:      q.Spec.SessionRef.Name,
		},
	}}
	if len(req.UserInfo.Extra) > 0 {
		sar.Spec.Extra = make(map[string]authorizationv1.ExtraValue, len(req.UserInfo.Extra))
		for k, val := range req.UserInfo.Extra {
			sar.Spec.Extra[k] = authorizationv1.ExtraValue(val)
		}
	}
	if err := v.Client.Create(ctx, sar); err != nil {
		// Fail closed: the webhook's failurePolicy is Fail too.
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("checking access to session %s: %w", q.Spec.SessionRef.Name, err))
	}
	if !sar.Status.Allowed {
		return admission.Denied(sessionDeniedMessage(req.UserInfo, q.Spec.SessionRef.Name, req.Namespace))
	}
	return admission.Allowed("")
}

func decode(req admission.Request, newObj, oldObj any) error {
	if err := json.Unmarshal(req.Object.Raw, newObj); err != nil {
		return fmt.Errorf("decoding object: %w", err)
	}
	if req.Operation == admissionv1.Update {
		if err := json.Unmarshal(req.OldObject.Raw, oldObj); err != nil {
			return fmt.Errorf("decoding old object: %w", err)
		}
	}
	return nil
}

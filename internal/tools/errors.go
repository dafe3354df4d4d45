package tools

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/kubeask/kubeask/internal/identity"
)

// Classify is the one place where errors are sorted: what the caller (the model, a
// user) can act on becomes a readable result; anything else is a Go error, wrapped.
func Classify(err error) (*Result, error) {
	if err == nil {
		return nil, nil
	}
	var ae ArgumentError
	var noMatch *meta.NoKindMatchError
	var noResource *meta.NoResourceMatchError
	var tooLarge *pageTooLargeError
	switch {
	case errors.As(err, &ae):
		return &Result{IsError: true, Text: ae.Error()}, nil
	case errors.As(err, &noMatch), errors.As(err, &noResource), errors.Is(err, errUnknownResource):
		return &Result{IsError: true, Text: err.Error() + "; call api_resources to see the resource types this cluster serves"}, nil
	case errors.As(err, &tooLarge):
		return &Result{IsError: true, Text: err.Error() + "; narrow the request with a namespace, a labelSelector or a fieldSelector"}, nil
	case apierrors.IsForbidden(err):
		return &Result{IsError: true, Forbidden: true, Text: "forbidden: " + err.Error() +
			". The requester lacks this permission; kubeask acts only with the requester's own rights."}, nil
	case apierrors.IsUnauthorized(err):
		return &Result{IsError: true, Text: "unauthorized: " + err.Error()}, nil
	case apierrors.IsNotFound(err):
		return &Result{IsError: true, Text: "not found: " + err.Error()}, nil
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		return &Result{IsError: true, Text: "invalid: " + err.Error()}, nil
	case apierrors.IsConflict(err), apierrors.IsAlreadyExists(err):
		return &Result{IsError: true, Text: "conflict: " + err.Error()}, nil
	case apierrors.IsMethodNotSupported(err), apierrors.IsNotAcceptable(err), apierrors.IsUnsupportedMediaType(err):
		return &Result{IsError: true, Text: "not supported: " + err.Error()}, nil
	case apierrors.IsTooManyRequests(err), apierrors.IsServerTimeout(err), apierrors.IsTimeout(err):
		return &Result{IsError: true, Text: "the API server is busy or timed out: " + err.Error() + "; try again with a narrower request"}, nil
	case errors.Is(err, identity.ErrRefused):
		return &Result{IsError: true, Text: err.Error()}, nil
	case errors.Is(err, context.DeadlineExceeded):
		return &Result{IsError: true, Text: "the call timed out"}, nil
	}
	return nil, fmt.Errorf("tool failed: %w", err)
}

// errUnknownResource is returned when a resource name cannot be resolved.
var errUnknownResource = errors.New("unknown resource type")
